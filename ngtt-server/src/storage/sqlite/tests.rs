//! Unit tests of [`SqliteStorage`] on real database files.

use super::*;

fn temp_db() -> (tempfile::TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = SqliteStorage::open(dir.path().join("t.db")).expect("open");
    (dir, db)
}

#[test]
fn schema_version_and_reopen() {
    let (dir, db) = temp_db();
    let id = db.queue_order("d", b"\x40").expect("queue");
    drop(db);
    let db = SqliteStorage::open(dir.path().join("t.db")).expect("reopen");
    let conn = db.lock();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    drop(conn);
    assert_eq!(v, super::super::SCHEMA_VERSION);
    assert_eq!(mode, "wal");
    assert_eq!(
        db.order(id).expect("read").expect("exists").state,
        OrderState::Queued
    );
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    Connection::open(&path)
        .and_then(|c| c.pragma_update(None, "user_version", 99))
        .expect("set version");
    assert!(matches!(
        SqliteStorage::open(&path),
        Err(StorageError::TooNew { found: 99, .. })
    ));
}

impl crate::storage::conformance::Inspect for SqliteStorage {
    fn count_rows(&self, table: &str) -> i64 {
        self.lock()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    }

    fn refuse_bad_rows(&self) {
        self.lock()
            .execute_batch(
                "CREATE TEMP TRIGGER refuse BEFORE INSERT ON logs WHEN NEW.service = 'bad'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;
                 CREATE TEMP TRIGGER refuse_samples BEFORE INSERT ON samples WHEN NEW.path = 'bad'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .expect("trigger");
    }
}
