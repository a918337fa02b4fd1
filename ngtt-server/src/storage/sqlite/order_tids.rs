//! The per-device sequence of ORDER tids (schema: `devices.next_order_tid`).

use super::{hot_writes, SqliteStorage};
use crate::storage::StorageError;

impl SqliteStorage {
    pub(super) fn reserve_order_tids_tx(&self, device_id: &str, count: u16) -> Result<u16, StorageError> {
        self.write_tx(|conn| hot_writes::reserve_order_tids(conn, device_id, count))
    }
}

#[cfg(test)]
mod tests {
    use super::super::hot_writes::advance;
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
