//! Macros and their occurrences in SQLite (`macros`, `macro_occurrences`).

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{ensure_device, now_ms, SqliteStorage};
use crate::storage::macros::MacroStore;
use crate::storage::macros::{
    commands_json, completion, completions, limit_reached, MacroRecord, Occurrence,
};
use crate::storage::StorageError;

/// The occurrences of `macro_id`, oldest first, those in `window` only when given.
fn occurrences(
    conn: &Connection,
    device_id: &str,
    macro_id: &str,
    window: Option<(f64, f64)>,
) -> rusqlite::Result<Vec<Occurrence>> {
    let (from, to) = window.unwrap_or((f64::MIN, f64::MAX));
    let mut stmt = conn.prepare_cached(
        "SELECT ts, completed_at FROM macro_occurrences
         WHERE device_id = ?1 AND macro_id = ?2 AND ts >= ?3 AND ts <= ?4 ORDER BY ts",
    )?;
    let rows = stmt.query_map(params![device_id, macro_id, from, to], |r| {
        Ok(Occurrence::stored(r.get(0)?, r.get(1)?))
    })?;
    rows.collect()
}

impl MacroStore for SqliteStorage {
    fn put_macro(
        &self,
        device_id: &str,
        record: &MacroRecord,
        max_macros: usize,
    ) -> Result<Option<bool>, StorageError> {
        let commands = commands_json(record)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM macros WHERE device_id = ?1 AND macro_id = ?2",
                params![device_id, record.macro_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !exists {
            let count: i64 = tx.query_row(
                "SELECT COUNT(*) FROM macros WHERE device_id = ?1",
                [device_id],
                |r| r.get(0),
            )?;
            if limit_reached(count, max_macros) {
                return Ok(None);
            }
        }
        ensure_device(&tx, device_id)?;
        tx.execute(
            "INSERT INTO macros (device_id, macro_id, commands, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(device_id, macro_id) DO UPDATE SET commands = excluded.commands,
                 updated_at = excluded.updated_at",
            params![device_id, record.macro_id, commands, now_ms()],
        )?;
        // The occurrences become exactly those given; one already known keeps its completion.
        let done = completions(&occurrences(&tx, device_id, &record.macro_id, None)?);
        tx.execute(
            "DELETE FROM macro_occurrences WHERE device_id = ?1 AND macro_id = ?2",
            params![device_id, record.macro_id],
        )?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO macro_occurrences (device_id, macro_id, ts, completed_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for o in &record.occurrences {
                let completed = done.get(&o.timestamp.to_bits()).copied();
                insert.execute(params![device_id, record.macro_id, o.timestamp, completed])?;
            }
        }
        tx.commit()?;
        Ok(Some(!exists))
    }

    fn macros(&self, device_id: &str, window: Option<(f64, f64)>) -> Result<Vec<MacroRecord>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT macro_id, commands FROM macros WHERE device_id = ?1 ORDER BY macro_id")?;
        let rows = stmt.query_map([device_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (macro_id, text) = row?;
            let occurrences = occurrences(&conn, device_id, &macro_id, window)?;
            out.extend(MacroRecord::from_stored(macro_id, &text, occurrences, window)?);
        }
        Ok(out)
    }

    fn macro_record(&self, device_id: &str, macro_id: &str) -> Result<Option<MacroRecord>, StorageError> {
        let conn = self.lock();
        let text: Option<String> = conn
            .query_row(
                "SELECT commands FROM macros WHERE device_id = ?1 AND macro_id = ?2",
                params![device_id, macro_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(text) = text else {
            return Ok(None);
        };
        let occurrences = occurrences(&conn, device_id, macro_id, None)?;
        MacroRecord::from_stored(macro_id.to_owned(), &text, occurrences, None)
    }

    fn delete_macro(&self, device_id: &str, macro_id: &str) -> Result<bool, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM macro_occurrences WHERE device_id = ?1 AND macro_id = ?2",
            params![device_id, macro_id],
        )?;
        let removed = tx.execute(
            "DELETE FROM macros WHERE device_id = ?1 AND macro_id = ?2",
            params![device_id, macro_id],
        )?;
        tx.commit()?;
        Ok(removed == 1)
    }

    fn complete_occurrence(
        &self,
        device_id: &str,
        macro_id: &str,
        timestamp: f64,
    ) -> Result<Option<bool>, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let completed: Option<Option<i64>> = tx
            .query_row(
                "SELECT completed_at FROM macro_occurrences WHERE device_id = ?1 AND macro_id = ?2 AND ts = ?3",
                params![device_id, macro_id, timestamp],
                |r| r.get(0),
            )
            .optional()?;
        let outcome = completion(completed);
        if outcome == Some(true) {
            tx.execute(
                "UPDATE macro_occurrences SET completed_at = ?4
                 WHERE device_id = ?1 AND macro_id = ?2 AND ts = ?3",
                params![device_id, macro_id, timestamp, now_ms()],
            )?;
        }
        tx.commit()?;
        Ok(outcome)
    }
}
