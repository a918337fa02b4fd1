//! The per-device sequence of ORDER tids (schema: `devices.next_order_tid`).

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{ensure_device, SqliteStorage};
use crate::storage::StorageError;

/// The highest server-chosen tid (NGTT.md §3): tids run 1..=0x7FFF.
const MAX_TID: i64 = 0x7FFF;

/// The tid `count` places after `first`, wrapping after [`MAX_TID`] to 1.
fn advance(first: i64, count: u16) -> i64 {
    (first - 1 + i64::from(count)).rem_euclid(MAX_TID) + 1
}

impl SqliteStorage {
    pub(super) fn reserve_order_tids_tx(&self, device_id: &str, count: u16) -> Result<u16, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_device(&tx, device_id)?;
        let stored: Option<i64> = tx
            .query_row(
                "SELECT next_order_tid FROM devices WHERE device_id = ?1",
                [device_id],
                |r| r.get(0),
            )
            .optional()?;
        // Anything out of range (a hand-edited database) restarts the sequence at 1.
        let first = stored.filter(|t| (1..=MAX_TID).contains(t)).unwrap_or(1);
        tx.execute(
            "UPDATE devices SET next_order_tid = ?2 WHERE device_id = ?1",
            params![device_id, advance(first, count)],
        )?;
        tx.commit()?;
        Ok(u16::try_from(first).unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::advance;
    use crate::storage::{SqliteStorage, Storage};

    #[test]
    fn blocks_follow_each_other_and_wrap() {
        assert_eq!(advance(1, 256), 257);
        assert_eq!(advance(0x7F00, 256), 1);
        assert_eq!(advance(0x7FFF, 1), 1);
        let db = SqliteStorage::open_in_memory().unwrap();
        assert_eq!(db.reserve_order_tids("d", 256).unwrap(), 1);
        assert_eq!(db.reserve_order_tids("d", 256).unwrap(), 257);
        assert_eq!(db.reserve_order_tids("other", 10).unwrap(), 1);
        assert_eq!(db.reserve_order_tids("d", 1).unwrap(), 513);
    }

    #[test]
    fn the_sequence_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let db = SqliteStorage::open(&path).unwrap();
            assert_eq!(db.reserve_order_tids("d", 300).unwrap(), 1);
        }
        let db = SqliteStorage::open(&path).unwrap();
        assert_eq!(db.reserve_order_tids("d", 300).unwrap(), 301);
    }
}
