//! Unit tests of SQLite's BAOB store: abandoned uploads are removed when the database opens
//! (the version rules and chunked contents are checked on every engine by the conformance
//! suite).

use super::*;
use crate::storage::baob::BaobStore;

fn temp_db() -> (tempfile::TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = SqliteStorage::open(dir.path().join("t.db")).expect("open");
    (dir, db)
}

/// (contents, chunks) rows in the database.
fn rows(db: &SqliteStorage) -> (i64, i64) {
    let conn = db.lock();
    let count = |table: &str| {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    };
    (count("baob_contents"), count("baob_chunks"))
}

#[test]
fn abandoned_uploads_are_removed_when_the_database_opens() {
    let (dir, db) = temp_db();
    let old = db.stage_baob_chunk("d", None, b"crashed mid-upload").unwrap();
    let recent = db.stage_baob_chunk("d", None, b"in progress").unwrap();
    db.lock()
        .execute("UPDATE baob_contents SET created_at = 0 WHERE id = ?1", [old])
        .unwrap();
    drop(db);
    let db = SqliteStorage::open(dir.path().join("t.db")).expect("reopen");
    let ids: Vec<i64> = {
        let conn = db.lock();
        let mut stmt = conn.prepare("SELECT id FROM baob_contents").unwrap();
        let ids = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        ids
    };
    assert_eq!(ids, [recent]);
    db.discard_baob_upload("d", recent).unwrap();
    assert_eq!(rows(&db), (0, 0));
}
