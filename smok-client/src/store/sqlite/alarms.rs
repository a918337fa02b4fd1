//! [`EventStore`] and [`MacroStore`] in SQLite (tables of migration 2).

use rusqlite::{params, OptionalExtension};

use super::{from_i64, to_i64, SqliteStore};
use crate::alarm::{Event, EventId};
use crate::store::alarms::{EventStore, MacroRun, MacroStore};
use crate::store::{StoreError, StoreResult};

/// The tables for events, predicate state and macro runs.
pub(super) const MIGRATION: &str = "
     CREATE TABLE events (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
     CREATE TABLE predicate_state (predicate_id TEXT PRIMARY KEY, state BLOB NOT NULL);
     CREATE TABLE macro_runs (macro_id TEXT NOT NULL, ts REAL NOT NULL, reported INTEGER NOT NULL,
         PRIMARY KEY (macro_id, ts));";

impl EventStore for SqliteStore {
    fn next_event_id(&self) -> StoreResult<EventId> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        let last: Option<i64> = tx
            .query_row("SELECT value FROM counters WHERE name = 'event_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let next = last.unwrap_or(0) + 1;
        tx.execute(
            "INSERT INTO counters (name, value) VALUES ('event_id', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [next],
        )?;
        tx.commit()?;
        Ok(from_i64(next))
    }

    fn put_event(&self, event: &Event) -> StoreResult<()> {
        let body = serde_json::to_vec(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.lock().execute(
            "INSERT INTO events (id, body) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            params![to_i64(event.id), body],
        )?;
        Ok(())
    }

    fn remove_event(&self, id: EventId) -> StoreResult<()> {
        self.lock()
            .execute("DELETE FROM events WHERE id = ?1", [to_i64(id)])?;
        Ok(())
    }

    fn events(&self) -> StoreResult<Vec<Event>> {
        let db = self.lock();
        let mut query = db.prepare_cached("SELECT id, body FROM events ORDER BY id")?;
        let rows = query.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row?;
            out.push(
                serde_json::from_slice(&body).map_err(|e| StoreError::Corrupt(format!("event {id}: {e}")))?,
            );
        }
        Ok(out)
    }

    fn predicate_state(&self, predicate_id: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT state FROM predicate_state WHERE predicate_id = ?1",
                [predicate_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn put_predicate_state(&self, predicate_id: &str, state: &[u8]) -> StoreResult<()> {
        self.lock().execute(
            "INSERT INTO predicate_state (predicate_id, state) VALUES (?1, ?2)
             ON CONFLICT (predicate_id) DO UPDATE SET state = excluded.state",
            params![predicate_id, state],
        )?;
        Ok(())
    }

    fn delete_predicate_state(&self, predicate_id: &str) -> StoreResult<()> {
        self.lock().execute(
            "DELETE FROM predicate_state WHERE predicate_id = ?1",
            [predicate_id],
        )?;
        Ok(())
    }
}

impl MacroStore for SqliteStore {
    fn macro_ran(&self, macro_id: &str, timestamp: f64) -> StoreResult<bool> {
        Ok(self.lock().execute(
            "INSERT OR IGNORE INTO macro_runs (macro_id, ts, reported) VALUES (?1, ?2, 0)",
            params![macro_id, timestamp],
        )? > 0)
    }

    fn macro_reported(&self, macro_id: &str, timestamp: f64) -> StoreResult<()> {
        self.lock().execute(
            "UPDATE macro_runs SET reported = 1 WHERE macro_id = ?1 AND ts = ?2",
            params![macro_id, timestamp],
        )?;
        Ok(())
    }

    fn macro_runs(&self) -> StoreResult<Vec<MacroRun>> {
        let db = self.lock();
        let mut query =
            db.prepare_cached("SELECT macro_id, ts, reported FROM macro_runs ORDER BY ts, macro_id")?;
        let rows = query.query_map([], |r| {
            Ok(MacroRun {
                macro_id: r.get(0)?,
                timestamp: r.get(1)?,
                reported: r.get::<_, i64>(2)? != 0,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn prune_macro_runs(&self, before: f64) -> StoreResult<()> {
        self.lock()
            .execute("DELETE FROM macro_runs WHERE reported = 1 AND ts < ?1", [before])?;
        Ok(())
    }
}
