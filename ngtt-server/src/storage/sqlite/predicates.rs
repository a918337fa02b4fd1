//! Predicates in SQLite (`predicates`).

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use serde_json::Value;

use super::{ensure_device, now_ms, SqliteStorage};
use crate::storage::predicates::{Predicate, Silencing};
use crate::storage::StorageError;

const COLUMNS: &str = "predicate_id, online, statistic, configuration, verbose_name, group_name, silencing";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(Predicate, String, String)> {
    Ok((
        Predicate {
            predicate_id: r.get(0)?,
            online: r.get(1)?,
            statistic: r.get(2)?,
            configuration: Value::Null,
            verbose_name: r.get(4)?,
            group: r.get(5)?,
            silencing: Vec::new(),
        },
        r.get(3)?,
        r.get(6)?,
    ))
}

fn finish((mut p, configuration, silencing): (Predicate, String, String)) -> Result<Predicate, StorageError> {
    let bad = |e: String| StorageError::Corrupt(format!("predicate {:?}: {e}", p.predicate_id));
    p.configuration = serde_json::from_str(&configuration).map_err(|e| bad(e.to_string()))?;
    let list: Value = serde_json::from_str(&silencing).map_err(|e| bad(e.to_string()))?;
    p.silencing = Silencing::list_from_json(&list).map_err(bad)?;
    Ok(p)
}

impl SqliteStorage {
    pub(super) fn list_predicates_tx(&self, device_id: &str) -> Result<Vec<Predicate>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM predicates WHERE device_id = ?1 ORDER BY predicate_id"
        ))?;
        let rows = stmt.query_map([device_id], from_row)?;
        rows.map(|r| finish(r?)).collect()
    }

    pub(super) fn predicate_tx(
        &self,
        device_id: &str,
        predicate_id: &str,
    ) -> Result<Option<Predicate>, StorageError> {
        let conn = self.lock();
        let row = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM predicates WHERE device_id = ?1 AND predicate_id = ?2"
            ))?
            .query_row(params![device_id, predicate_id], from_row)
            .optional()?;
        row.map(finish).transpose()
    }

    pub(super) fn put_predicate_tx(&self, device_id: &str, p: &Predicate) -> Result<bool, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_device(&tx, device_id)?;
        let silencing = Value::Array(p.silencing.iter().map(Silencing::to_json).collect());
        let existed = tx
            .prepare_cached("SELECT 1 FROM predicates WHERE device_id = ?1 AND predicate_id = ?2")?
            .exists(params![device_id, p.predicate_id])?;
        tx.prepare_cached(
            "INSERT INTO predicates (device_id, predicate_id, online, statistic, configuration, verbose_name,
                 group_name, silencing, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(device_id, predicate_id) DO UPDATE SET online = excluded.online,
                 statistic = excluded.statistic, configuration = excluded.configuration,
                 verbose_name = excluded.verbose_name, group_name = excluded.group_name,
                 silencing = excluded.silencing, updated_at = excluded.updated_at",
        )?
        .execute(params![
            device_id,
            p.predicate_id,
            p.online,
            p.statistic,
            p.configuration.to_string(),
            p.verbose_name,
            p.group,
            silencing.to_string(),
            now_ms()
        ])?;
        tx.commit()?;
        Ok(!existed)
    }

    pub(super) fn delete_predicate_tx(
        &self,
        device_id: &str,
        predicate_id: &str,
    ) -> Result<bool, StorageError> {
        let conn = self.lock();
        let n = conn
            .prepare_cached("DELETE FROM predicates WHERE device_id = ?1 AND predicate_id = ?2")?
            .execute(params![device_id, predicate_id])?;
        Ok(n == 1)
    }
}
