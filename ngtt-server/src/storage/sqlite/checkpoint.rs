//! WAL checkpoints off the commit path.
//!
//! SQLite's automatic checkpoint runs inside the commit that makes the WAL pass 1 000 pages: that
//! commit — and every caller of its group commit, a device's confirm or an order on its way —
//! then waits while the checkpoint copies the pages into the database file and syncs it (several
//! milliseconds, more on a busy disk). Here a thread of its own, on its own connection, runs a
//! `PASSIVE` checkpoint (never blocking the writer, which goes on appending to the WAL
//! meanwhile) after every [`BATCH`] uses of the write connection, or [`QUIET`] after the first
//! one since the last checkpoint — about as often as SQLite's own, so that its fsyncs of the database file do not crowd
//! the writer's — and the writer's automatic checkpoint only steps in when the WAL grows past
//! [`FALLBACK_PAGES`] anyway. Durability does not change: a commit is synced to the WAL
//! before it returns either way; a checkpoint only moves committed pages.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::storage::StorageError;

/// Uses of the write connection (each a transaction of a few pages) that make a checkpoint
/// due: a few hundred, as SQLite's own every 1 000 pages.
const BATCH: u64 = 256;

/// A checkpoint is due this long after the first write since the last one, however few
/// writes there were.
const QUIET: Duration = Duration::from_secs(1);

/// The WAL size (pages) at which the writer checkpoints by itself (SQLite's automatic
/// checkpoint), should this thread fall behind.
pub(super) const FALLBACK_PAGES: u32 = 10_000;

/// The write connection, held: when released, the checkpoint thread learns that it was
/// written ([`Checkpointer::written`]).
pub(super) struct WriteGuard<'a> {
    conn: MutexGuard<'a, Connection>,
    checkpointer: Option<&'a Checkpointer>,
}

impl<'a> WriteGuard<'a> {
    /// Holds `conn`; its release is reported to `checkpointer` (none: an in-memory database).
    pub(super) fn new(conn: MutexGuard<'a, Connection>, checkpointer: Option<&'a Checkpointer>) -> Self {
        WriteGuard { conn, checkpointer }
    }
}

impl std::ops::Deref for WriteGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if let Some(checkpointer) = self.checkpointer {
            checkpointer.written();
        }
    }
}

#[derive(Default)]
struct State {
    /// Uses of the write connection since the last checkpoint started.
    writes: u64,
    /// The thread waits (and must be woken by the first write and at [`BATCH`]).
    waiting: bool,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The checkpoint thread of one database file; stopped when dropped.
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread, with a connection of its own to the database at `path`.
    pub(super) fn start(path: &Path) -> Result<Checkpointer, StorageError> {
        let conn = Connection::open(path)?;
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("ngtt-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &theirs))
            .map_err(|e| StorageError::Task(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// The write connection was used. Cheap when called often: the thread is woken only by
    /// the first write after a checkpoint and when [`BATCH`] is reached.
    pub(super) fn written(&self) {
        let mut state = self.shared.state();
        state.writes += 1;
        if state.waiting && (state.writes == 1 || state.writes == BATCH) {
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.state().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut state = shared.state();
            state.waiting = true;
            // Until something was written, then until a batch is full or [`QUIET`] passed.
            while state.writes == 0 && !state.stop {
                state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            let (mut state, _) = shared
                .wake
                .wait_timeout_while(state, QUIET, |s| s.writes < BATCH && !s.stop)
                .unwrap_or_else(|p| p.into_inner());
            state.waiting = false;
            if state.stop {
                return;
            }
            state.writes = 0;
        }
        // PASSIVE: copies what no reader still needs, never waits for the writer or readers;
        // busy (another checkpoint running) is fine, the next writes bring another round.
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match done {
            Ok((busy, log, copied)) => tracing::trace!(busy, log, copied, "WAL checkpoint"),
            Err(e) => tracing::debug!("WAL checkpoint failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn writes_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = Connection::open(&path).unwrap();
        let _: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        // The writer never checkpoints: only the thread can move the pages.
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer.execute("CREATE TABLE t (x BLOB)", []).unwrap();
        let checkpointer = Checkpointer::start(&path).unwrap();
        for _ in 0..50 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap();
            checkpointer.written();
        }
        assert!(size(&path) < 50 * 4000, "the rows are in the WAL only");
        let mut moved = false;
        for _ in 0..400 {
            if size(&path) >= 50 * 4000 {
                moved = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        assert!(
            moved,
            "the checkpoint thread copied the rows into the database file"
        );
        drop(checkpointer);
    }
}
