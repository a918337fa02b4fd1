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
//!
//! **Catching up.** SQLite starts the WAL over from its beginning only when a write transaction
//! begins with every frame copied. Under steady load the writer appends while a checkpoint
//! copies, so a checkpoint never finished with nothing left: the WAL grew by every commit (each
//! sync then also syncing the file's new size) until the writer's own checkpoint, in the commit
//! path, copied [`FALLBACK_PAGES`] at once — even a checkpoint that left nothing behind, since
//! the transaction the writer had begun meanwhile appended to the WAL as it was. So when a
//! checkpoint leaves at most [`CATCH_UP_FRAMES`] behind, the thread copies those while it holds
//! the write connection — a short wait for the writer (a few frames and one sync of the
//! database file) — and the writer's next transaction starts the WAL over. A larger rest gets
//! another unlocked round, [`ROUNDS`] at most: then the rest is copied with the writer held
//! however large (what the writer appended during one round).

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

/// Frames a checkpoint may leave behind for the thread to copy while it holds the write
/// connection (see "Catching up" above): at 4 KiB pages 1 MiB, copied in about a millisecond.
const CATCH_UP_FRAMES: i64 = 256;

/// Unlocked rounds, at most, before a checkpoint copies the rest with the writer held.
const ROUNDS: usize = 3;

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
    /// Starts the thread, with a connection of its own to the database at `path`; `writer` is
    /// the write connection, held while a checkpoint catches up.
    pub(super) fn start(path: &Path, writer: Arc<Mutex<Connection>>) -> Result<Checkpointer, StorageError> {
        let conn = Connection::open(path)?;
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("ngtt-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &writer, &theirs))
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

fn run(conn: &Connection, writer: &Mutex<Connection>, shared: &Shared) {
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
        checkpoint(conn, writer);
    }
}

/// One checkpoint: unlocked rounds while much is left behind, then the rest with the writer
/// held (at the latest after [`ROUNDS`]: a writer that appends as fast as a round copies would
/// otherwise grow the WAL until its own checkpoint copies it all in the commit path).
fn checkpoint(conn: &Connection, writer: &Mutex<Connection>) {
    for round in 1..=ROUNDS {
        let Some(behind) = passive(conn) else {
            return;
        };
        if behind <= CATCH_UP_FRAMES || round == ROUNDS {
            // Also when nothing was left: a transaction the writer began before this round
            // ended appends to the WAL as it was. With the write connection held, none is in
            // flight and nothing is appended: this round copies the rest (unless a reader
            // still reads an older snapshot; then the next checkpoint), and the writer's next
            // transaction begins with every frame copied.
            let _writer = writer.lock().unwrap_or_else(|p| p.into_inner());
            passive(conn);
            return;
        }
    }
}

/// A `PASSIVE` checkpoint: copies what no reader still needs, never waits for the writer or
/// readers. The frames it left behind; `None` when there is nothing to catch up with (busy:
/// another checkpoint ran; not a WAL; failed).
fn passive(conn: &Connection) -> Option<i64> {
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match done {
        Ok((busy, log, copied)) => {
            tracing::trace!(busy, log, copied, "WAL checkpoint");
            (busy == 0 && log >= 0).then(|| (log - copied).max(0))
        }
        Err(e) => {
            tracing::debug!("WAL checkpoint failed: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// A WAL database at `path` with a table `t`, whose writer never checkpoints by itself
    /// (only the thread can move the pages) and syncs as `synchronous` says; its checkpointer.
    fn writer(path: &Path, synchronous: &str) -> (Arc<Mutex<Connection>>, Checkpointer) {
        let writer = Connection::open(path).unwrap();
        let _: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer.pragma_update(None, "synchronous", synchronous).unwrap();
        writer.execute("CREATE TABLE t (x BLOB)", []).unwrap();
        let writer = Arc::new(Mutex::new(writer));
        let checkpointer = Checkpointer::start(path, Arc::clone(&writer)).unwrap();
        (writer, checkpointer)
    }

    /// One row of a page, committed, and the checkpointer told.
    fn insert(writer: &Mutex<Connection>, checkpointer: &Checkpointer) {
        writer
            .lock()
            .unwrap()
            .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
            .unwrap();
        checkpointer.written();
    }

    #[test]
    fn writes_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let (writer, checkpointer) = self::writer(&path, "FULL");
        for _ in 0..50 {
            insert(&writer, &checkpointer);
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

    /// The WAL header's checkpoint sequence number, which SQLite increments each time the WAL
    /// starts over (0 while the file has no header).
    fn restarts(wal: &Path) -> u32 {
        use std::io::Read;
        let mut header = [0u8; 16];
        match std::fs::File::open(wal).and_then(|mut f| f.read_exact(&mut header)) {
            Ok(()) => u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
            Err(_) => 0,
        }
    }

    #[test]
    fn the_wal_starts_over_while_the_writer_never_pauses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let wal = dir.path().join("w.db-wal");
        // No sync per commit: the writer appends far faster than a checkpoint copies.
        let (writer, checkpointer) = self::writer(&path, "OFF");
        // Commits of a row of a page each, until the WAL has started over three times (some
        // 900 commits and a WAL of 5-6 MB here): one that never starts over grows by every
        // commit (20 000 of them: some 250 MB). How far it grows between two starts depends on
        // when a busy machine lets the checkpoint thread run, so the starts are counted, not
        // the size.
        let first = restarts(&wal);
        let (mut commits, mut largest) = (0, 0);
        while commits < 20_000 && restarts(&wal).wrapping_sub(first) < 3 {
            insert(&writer, &checkpointer);
            commits += 1;
            largest = largest.max(size(&wal));
        }
        drop(checkpointer);
        let started = restarts(&wal).wrapping_sub(first);
        assert!(
            started >= 3,
            "the WAL started over {started} times in {commits} commits (it grew to {largest} bytes)"
        );
    }
}
