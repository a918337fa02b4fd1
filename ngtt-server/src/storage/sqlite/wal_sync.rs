//! Commits synced apart from their transaction ([`Storage::apply_batch_unsynced`] and
//! [`Storage::sync_committed`] for SQLite).
//!
//! A group commit runs with `synchronous = NORMAL` for its own `COMMIT`: SQLite then appends the
//! transaction to the WAL (the operating system's page cache: visible to every connection, and
//! kept when the process is killed) without the fsync, and the writer hands out what may go
//! ahead (the orders a connection claimed) before it syncs the WAL file itself, here, and
//! answers everything else. The sync is the one `synchronous = FULL` would have made inside the
//! commit; every other write of the connection keeps `FULL`. SQLite still syncs the WAL by
//! itself before a checkpoint copies it into the database and when it starts the WAL over
//! (`NORMAL` keeps those), so nothing reaches the database file ahead of its WAL frames.
//!
//! [`Storage::apply_batch_unsynced`]: crate::storage::Storage::apply_batch_unsynced
//! [`Storage::sync_committed`]: crate::storage::Storage::sync_committed

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::storage::StorageError;

/// The WAL file of one database, opened on the first sync.
pub(super) struct WalSync {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl WalSync {
    /// For the database file at `db` (its WAL is `db` + `-wal`, as SQLite names it).
    pub(super) fn new(db: &Path) -> WalSync {
        let mut path = db.as_os_str().to_owned();
        path.push("-wal");
        WalSync {
            path: PathBuf::from(path),
            file: Mutex::new(None),
        }
    }

    /// Held while a sync runs (tests hold it to keep a sync from ending).
    pub(super) fn lock(&self) -> MutexGuard<'_, Option<File>> {
        self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Syncs the WAL file's data (`fdatasync`): every commit appended to it so far is on disk
    /// when this returns `Ok`.
    pub(super) fn sync(&self) -> Result<(), StorageError> {
        let mut file = self.lock();
        // SQLite keeps its WAL file while a connection is open (it truncates and rewrites it,
        // it does not replace it), and the storage keeps its connections open; checked anyway,
        // so that a file replaced behind it is never the one synced.
        if let Some(open) = file.as_ref() {
            if !same_file(open, &self.path) {
                *file = None;
            }
        }
        let open = match file.take() {
            Some(open) => open,
            None => File::open(&self.path).map_err(|e| sync_error(&self.path, &e))?,
        };
        let synced = open.sync_data().map_err(|e| sync_error(&self.path, &e));
        *file = Some(open);
        synced
    }
}

/// Whether `open` is the file at `path` now.
fn same_file(open: &File, path: &Path) -> bool {
    match (open.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn sync_error(path: &Path, e: &std::io::Error) -> StorageError {
    StorageError::Task(format!("cannot sync the database's WAL {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_the_wal_beside_the_database_and_follows_a_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ngtt.db");
        let wal = WalSync::new(&db);
        assert_eq!(wal.path, dir.path().join("ngtt.db-wal"));
        // No WAL yet: a clear error, nothing opened.
        let err = wal.sync().unwrap_err().to_string();
        assert!(err.contains("ngtt.db-wal"), "{err}");
        std::fs::write(&wal.path, b"frames").unwrap();
        wal.sync().unwrap();
        let first = wal.lock().as_ref().unwrap().metadata().unwrap().ino();
        std::fs::remove_file(&wal.path).unwrap();
        std::fs::write(&wal.path, b"other").unwrap();
        wal.sync().unwrap();
        let now = wal.lock().as_ref().unwrap().metadata().unwrap().ino();
        assert_eq!(now, std::fs::metadata(&wal.path).unwrap().ino());
        assert_ne!(first, now, "the replaced file was synced");
    }
}
