//! Plain metadata in SQLite (`metadata`).

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use super::{ensure_device, now_ms, SqliteStorage};
use crate::storage::metadata::MetadataStore;
use crate::storage::metadata::{may_replace, MetadataEntry, MetadataWrite};
use crate::storage::StorageError;

fn entry(row: &Row<'_>) -> rusqlite::Result<MetadataEntry> {
    Ok(MetadataEntry::from_stored((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    )))
}

impl MetadataStore for SqliteStorage {
    fn metadata(&self, device_id: &str, key: &str) -> Result<Option<MetadataEntry>, StorageError> {
        let conn = self.lock();
        let found = conn
            .prepare_cached(
                "SELECT key, value, timestamp, updated_at, updated_by FROM metadata
                 WHERE device_id = ?1 AND key = ?2",
            )?
            .query_row(params![device_id, key], entry)
            .optional()?;
        Ok(found)
    }

    fn list_metadata(&self, device_id: &str) -> Result<Vec<MetadataEntry>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT key, value, timestamp, updated_at, updated_by FROM metadata
             WHERE device_id = ?1 ORDER BY key",
        )?;
        let rows = stmt.query_map([device_id], entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_metadata(&self, device_id: &str, write: &MetadataWrite<'_>) -> Result<bool, StorageError> {
        let MetadataWrite {
            key,
            value,
            timestamp,
            unless_higher,
            by,
        } = *write;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if unless_higher {
            let stored: Option<f64> = tx
                .query_row(
                    "SELECT timestamp FROM metadata WHERE device_id = ?1 AND key = ?2",
                    params![device_id, key],
                    |r| r.get(0),
                )
                .optional()?;
            if stored.is_some_and(|s| !may_replace(s, timestamp)) {
                return Ok(false);
            }
        }
        ensure_device(&tx, device_id)?;
        tx.execute(
            "INSERT INTO metadata (device_id, key, value, timestamp, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(device_id, key) DO UPDATE SET value = excluded.value,
                 timestamp = excluded.timestamp, updated_at = excluded.updated_at,
                 updated_by = excluded.updated_by",
            params![device_id, key, value, timestamp, now_ms(), by.as_str()],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn delete_metadata(&self, device_id: &str, key: &str) -> Result<bool, StorageError> {
        let conn = self.lock();
        let removed = conn
            .prepare_cached("DELETE FROM metadata WHERE device_id = ?1 AND key = ?2")?
            .execute(params![device_id, key])?;
        Ok(removed == 1)
    }
}
