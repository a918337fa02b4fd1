//! The parts of [`SqliteStorage`] that serve the device HTTP API: message reports and
//! pathpoint registrations (schema migration 2).

use rusqlite::{params, TransactionBehavior};

use super::{now_ms, SqliteStorage};
use crate::storage::types::{MessageReport, RegisteredPathpoint, StorageLevel};
use crate::storage::StorageError;

impl SqliteStorage {
    pub(super) fn record_message_tx(&self, device_id: &str, uuid: &str) -> Result<bool, StorageError> {
        let conn = self.lock();
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO messages (device_id, uuid, reported_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![device_id, uuid, now_ms()])?;
        Ok(inserted == 1)
    }

    pub(super) fn list_messages_tx(
        &self,
        device_id: &str,
        limit: usize,
    ) -> Result<Vec<MessageReport>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT uuid, reported_at FROM messages WHERE device_id = ?1
             ORDER BY reported_at DESC, rowid DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![device_id, limit], |r| {
            Ok(MessageReport {
                uuid: r.get(0)?,
                reported_at_ms: r.get(1)?,
            })
        })?;
        let mut reports: Vec<MessageReport> = rows.collect::<Result<_, _>>()?;
        reports.reverse();
        Ok(reports)
    }

    pub(super) fn register_pathpoints_tx(
        &self,
        device_id: &str,
        pathpoints: &[RegisteredPathpoint],
    ) -> Result<Vec<RegisteredPathpoint>, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !pathpoints.is_empty() {
            let now = now_ms();
            let mut upsert = tx.prepare_cached(
                "INSERT INTO pathpoints (device_id, path, storage_level, registered_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(device_id, path) DO UPDATE SET
                     storage_level = excluded.storage_level, registered_at = excluded.registered_at",
            )?;
            for p in pathpoints {
                upsert.execute(params![device_id, p.path, p.storage_level.code(), now])?;
            }
        }
        let all = {
            let mut stmt = tx.prepare_cached(
                "SELECT path, storage_level FROM pathpoints WHERE device_id = ?1 ORDER BY path",
            )?;
            let rows = stmt.query_map([device_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            let mut all = Vec::new();
            for row in rows {
                let (path, code) = row?;
                let storage_level = StorageLevel::from_code(code).ok_or_else(|| {
                    StorageError::Corrupt(format!("pathpoint {path:?} has storage level {code}"))
                })?;
                all.push(RegisteredPathpoint { path, storage_level });
            }
            all
        };
        tx.commit()?;
        Ok(all)
    }
}
