//! Archive settings in SQLite (`archives`: one row per archived pathpoint).

use rusqlite::{params, TransactionBehavior};

use super::{ensure_device, SqliteStorage};
use crate::storage::archives::ArchiveStore;
use crate::storage::archives::{group_rows, ArchiveEntry};
use crate::storage::StorageError;

impl ArchiveStore for SqliteStorage {
    fn archives(&self, device_id: &str) -> Result<Vec<ArchiveEntry>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT interval_s, path FROM archives WHERE device_id = ?1 ORDER BY interval_s, path",
        )?;
        let rows = stmt.query_map([device_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        group_rows(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn set_archives(&self, device_id: &str, entries: &[ArchiveEntry]) -> Result<(), StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_device(&tx, device_id)?;
        tx.execute("DELETE FROM archives WHERE device_id = ?1", [device_id])?;
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO archives (device_id, path, interval_s) VALUES (?1, ?2, ?3)")?;
            for entry in entries {
                let interval = i64::try_from(entry.interval).unwrap_or(i64::MAX);
                for path in &entry.pathpoints {
                    insert.execute(params![device_id, path, interval])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}
