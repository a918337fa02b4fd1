//! Read connections: reads of a database file run on their own read-only connections, so that
//! in WAL mode they neither wait for the writer's commits nor hold them up.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::storage::StorageError;

/// Read-only connections to a database file.
pub(super) struct ReadPool {
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl ReadPool {
    /// Opens `size` read-only connections to the (already migrated) database at `path`.
    pub(super) fn open(path: &Path, size: usize) -> Result<ReadPool, StorageError> {
        let flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let connections = (0..size.max(1))
            .map(|_| {
                let conn = Connection::open_with_flags(path, flags)?;
                conn.busy_timeout(Duration::from_secs(5))?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<_, StorageError>>()?;
        Ok(ReadPool {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    /// Gives back the unused pages of the connections' page caches (`PRAGMA shrink_memory`),
    /// each once it is free.
    pub(super) fn release_memory(&self) {
        for conn in &self.connections {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = conn.execute_batch("PRAGMA shrink_memory") {
                tracing::debug!("shrinking a read connection's cache failed: {e}");
            }
        }
    }

    /// A free connection, or (all busy) the next one in turn once it is free.
    pub(super) fn get(&self) -> MutexGuard<'_, Connection> {
        for conn in &self.connections {
            if let Ok(guard) = conn.try_lock() {
                return guard;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        // A panic while reading leaves no transaction open: the connection is still usable.
        self.connections[i].lock().unwrap_or_else(|p| p.into_inner())
    }
}
