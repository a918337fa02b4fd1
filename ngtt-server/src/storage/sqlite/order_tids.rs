//! The per-device sequence of ORDER tids (schema: `devices.next_order_tid`).

use rusqlite::params;

use super::hot_writes::MAX_TID;
use super::{hot_writes, SqliteStorage};
use crate::storage::write_op::UNSYNCED_TID_RESERVE;
use crate::storage::StorageError;

impl SqliteStorage {
    pub(super) fn reserve_order_tids_tx(&self, device_id: &str, count: u16) -> Result<u16, StorageError> {
        self.write_tx(|conn| hot_writes::reserve_order_tids(conn, device_id, count))
    }

    /// Moves every device's tid sequence [`UNSYNCED_TID_RESERVE`] on (as reserving that many
    /// would; a value out of range as if it were 1), at open: a claim answered before its
    /// commit was synced may have sent ORDERs under tids that a power loss then took back
    /// from the sequence, and those must not be handed out again — a device's repeated
    /// answer to one of them would match a new order (docs/delivery-guarantees.md).
    pub(super) fn skip_unsynced_tids(&self) -> Result<(), StorageError> {
        let skip = i64::from(UNSYNCED_TID_RESERVE);
        self.write_tx(|conn| {
            conn.execute(
                "UPDATE devices SET next_order_tid = CASE
                     WHEN next_order_tid BETWEEN 1 AND ?2 THEN (next_order_tid - 1 + ?1) % ?2 + 1
                     ELSE ?1 % ?2 + 1 END",
                params![skip, MAX_TID],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::hot_writes::advance;
    use super::UNSYNCED_TID_RESERVE;
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
        // Past what an unsynced claim may have used before a power loss.
        let skip = UNSYNCED_TID_RESERVE;
        assert_eq!(db.reserve_order_tids("d", 300).unwrap(), 301 + skip);
        drop(db);
        // Near the end of the sequence the skip wraps, as reserving would.
        let db = SqliteStorage::open(&path).unwrap();
        db.write_tx(|conn| {
            conn.execute(
                "UPDATE devices SET next_order_tid = 32000 WHERE device_id = 'd'",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        drop(db);
        let db = SqliteStorage::open(&path).unwrap();
        assert_eq!(
            i64::from(db.reserve_order_tids("d", 1).unwrap()),
            advance(32000, skip)
        );
    }
}
