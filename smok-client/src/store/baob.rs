//! [`BaobStore`]: the device's BAOBs (HTTP-API.md §7.10) — versioned binary objects shared
//! with the server — in both stores.
//!
//! A local write stores the contents at the current version + 1 (0 for a new key); a copy
//! from the server is stored at exactly the server's version. Nothing else is kept: whether a
//! BAOB must be uploaded is decided by the server from the versions the device lists, so a
//! write made before a restart is uploaded after it, once (the server refuses a version that
//! is not higher than its own).

use rusqlite::{params, OptionalExtension};

use super::{MemoryStore, SqliteStore, StoreResult};

/// A BAOB as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBaob {
    /// Its key.
    pub key: String,
    /// Its version.
    pub version: i64,
    /// Its contents.
    pub data: Vec<u8>,
}

/// The device's BAOBs.
pub trait BaobStore: Send + Sync {
    /// Every BAOB's key and version, sorted by key.
    fn baob_versions(&self) -> StoreResult<Vec<(String, i64)>>;
    /// The BAOB `key`, if held.
    fn get_baob(&self, key: &str) -> StoreResult<Option<StoredBaob>>;
    /// A local write: stores `data` at the current version + 1 (0 for a new key), in one
    /// transaction; returns the new version.
    fn write_baob(&self, key: &str, data: &[u8]) -> StoreResult<i64>;
    /// A copy from the server: stores `data` at exactly `version`.
    fn put_baob(&self, key: &str, version: i64, data: &[u8]) -> StoreResult<()>;
    /// Deletes `key`; returns whether it was held.
    fn delete_baob(&self, key: &str) -> StoreResult<bool>;
}

impl BaobStore for SqliteStore {
    fn baob_versions(&self) -> StoreResult<Vec<(String, i64)>> {
        let db = self.lock();
        let mut stmt = db.prepare_cached("SELECT key, version FROM baobs ORDER BY key")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn get_baob(&self, key: &str) -> StoreResult<Option<StoredBaob>> {
        let db = self.lock();
        let row = db
            .query_row("SELECT version, data FROM baobs WHERE key = ?1", [key], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row.map(|(version, data)| StoredBaob {
            key: key.to_owned(),
            version,
            data,
        }))
    }

    fn write_baob(&self, key: &str, data: &[u8]) -> StoreResult<i64> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        let current: Option<i64> = tx
            .query_row("SELECT version FROM baobs WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        let version = current.map_or(0, |v| v.saturating_add(1));
        tx.execute(
            "INSERT OR REPLACE INTO baobs (key, version, data) VALUES (?1, ?2, ?3)",
            params![key, version, data],
        )?;
        tx.commit()?;
        Ok(version)
    }

    fn put_baob(&self, key: &str, version: i64, data: &[u8]) -> StoreResult<()> {
        self.lock().execute(
            "INSERT OR REPLACE INTO baobs (key, version, data) VALUES (?1, ?2, ?3)",
            params![key, version, data],
        )?;
        Ok(())
    }

    fn delete_baob(&self, key: &str) -> StoreResult<bool> {
        Ok(self.lock().execute("DELETE FROM baobs WHERE key = ?1", [key])? > 0)
    }
}

impl BaobStore for MemoryStore {
    fn baob_versions(&self) -> StoreResult<Vec<(String, i64)>> {
        let baobs = self.baobs();
        Ok(baobs.iter().map(|(k, (v, _))| (k.clone(), *v)).collect())
    }

    fn get_baob(&self, key: &str) -> StoreResult<Option<StoredBaob>> {
        Ok(self.baobs().get(key).map(|(version, data)| StoredBaob {
            key: key.to_owned(),
            version: *version,
            data: data.clone(),
        }))
    }

    fn write_baob(&self, key: &str, data: &[u8]) -> StoreResult<i64> {
        let mut baobs = self.baobs();
        let version = baobs.get(key).map_or(0, |(v, _)| v.saturating_add(1));
        baobs.insert(key.to_owned(), (version, data.to_vec()));
        Ok(version)
    }

    fn put_baob(&self, key: &str, version: i64, data: &[u8]) -> StoreResult<()> {
        self.baobs().insert(key.to_owned(), (version, data.to_vec()));
        Ok(())
    }

    fn delete_baob(&self, key: &str) -> StoreResult<bool> {
        Ok(self.baobs().remove(key).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn BaobStore) {
        assert!(store.baob_versions().unwrap().is_empty());
        assert_eq!(store.write_baob("b", b"one").unwrap(), 0);
        assert_eq!(store.write_baob("b", b"two").unwrap(), 1);
        store.put_baob("a", 7, b"server").unwrap();
        assert_eq!(
            store.baob_versions().unwrap(),
            [("a".to_owned(), 7), ("b".to_owned(), 1)]
        );
        assert_eq!(store.write_baob("a", b"mine").unwrap(), 8);
        let a = store.get_baob("a").unwrap().unwrap();
        assert_eq!((a.version, a.data.as_slice()), (8, &b"mine"[..]));
        store.put_baob("a", 3, b"older").unwrap(); // the server's version is stored as is
        assert_eq!(store.get_baob("a").unwrap().unwrap().version, 3);
        assert!(store.delete_baob("a").unwrap());
        assert!(!store.delete_baob("a").unwrap());
        assert!(store.get_baob("a").unwrap().is_none());
    }

    #[test]
    fn both_stores_version_baobs_alike() {
        exercise(&MemoryStore::new());
        let dir = tempfile::tempdir().unwrap();
        exercise(&SqliteStore::open(dir.path().join("s.db")).unwrap());
    }

    #[test]
    fn baobs_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        SqliteStore::open(&path).unwrap().write_baob("k", b"x").unwrap();
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.write_baob("k", b"y").unwrap(), 1);
    }
}
