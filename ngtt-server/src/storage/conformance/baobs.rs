//! Conformance: BAOBs (version rules, chunked contents, nothing left of a refused upload),
//! macros, archive settings and metadata, on any engine ([`Inspect`]).

use super::Inspect;
use crate::storage::baob::{BaobCommit, BaobWrite, VersionRule, Writer};

fn commit<'a>(key: &'a str, rule: VersionRule, staged: Option<i64>, tail: &'a [u8]) -> BaobCommit<'a> {
    BaobCommit {
        key,
        rule,
        by: Writer::Device,
        staged,
        tail,
        max_keys: 3,
    }
}

/// (contents, chunks) rows in the database.
fn rows(db: &dyn Inspect) -> (i64, i64) {
    (db.count_rows("baob_contents"), db.count_rows("baob_chunks"))
}

pub(super) fn version_rules(db: &dyn Inspect) {
    let up = |v| VersionRule::DeviceUpload(v);
    assert_eq!(
        db.commit_baob("d", &commit("k", up(4), None, b"a")).unwrap(),
        BaobWrite::Stored(4)
    );
    for stale in [4, 1] {
        let staged = db.stage_baob_chunk("d", None, b"partial").unwrap();
        let refused = db
            .commit_baob("d", &commit("k", up(stale), Some(staged), b"b"))
            .unwrap();
        assert_eq!(refused, BaobWrite::Stale { current: 4 });
        assert_eq!(rows(db), (1, 1), "the refused upload's chunks are gone");
    }
    assert_eq!(
        db.commit_baob("d", &commit("k", VersionRule::Next, None, b"c"))
            .unwrap(),
        BaobWrite::Stored(5)
    );
    assert_eq!(db.delete_baob("d", "k", Writer::Admin).unwrap(), Some(5));
    assert_eq!(db.delete_baob("d", "k", Writer::Admin).unwrap(), None);
    assert_eq!(rows(db), (0, 0), "a tombstone has no contents");
    let refused = db.commit_baob("d", &commit("k", up(9), None, b"d")).unwrap();
    assert_eq!(refused, BaobWrite::Deleted { current: 5 });
    assert_eq!(
        db.commit_baob("d", &commit("k", VersionRule::Next, None, b"e"))
            .unwrap(),
        BaobWrite::Stored(6)
    );
    // Three keys per device here; tombstones count, other devices do not.
    for key in ["k2", "k3"] {
        assert!(matches!(
            db.commit_baob("d", &commit(key, up(0), None, b"")).unwrap(),
            BaobWrite::Stored(0)
        ));
    }
    assert_eq!(
        db.commit_baob("d", &commit("k4", up(0), None, b"")).unwrap(),
        BaobWrite::TooMany { limit: 3 }
    );
    assert_eq!(
        db.commit_baob("other", &commit("k4", up(0), None, b"")).unwrap(),
        BaobWrite::Stored(0)
    );
}

pub(super) fn contents_are_read_chunk_by_chunk_and_only_by_their_device(db: &dyn Inspect) {
    let staged = db.stage_baob_chunk("d", None, b"one").unwrap();
    assert_eq!(db.stage_baob_chunk("d", Some(staged), b"two").unwrap(), staged);
    assert!(
        db.stage_baob_chunk("other", Some(staged), b"x").is_err(),
        "not another device's upload"
    );
    let stored = db
        .commit_baob("d", &commit("k", VersionRule::Next, Some(staged), b"three"))
        .unwrap();
    assert_eq!(stored, BaobWrite::Stored(0));
    let record = db.baob("d", "k").unwrap().unwrap();
    assert_eq!((record.size, record.updated_by), (11, Writer::Device));
    let content = record.content.unwrap();
    let chunks: Vec<Option<Vec<u8>>> = (0..4)
        .map(|seq| db.read_baob_chunk("d", content, seq).unwrap())
        .collect();
    assert_eq!(
        chunks,
        [
            Some(b"one".to_vec()),
            Some(b"two".to_vec()),
            Some(b"three".to_vec()),
            None
        ]
    );
    assert_eq!(db.read_baob_chunk("other", content, 0).unwrap(), None);
    // Replaced: the old contents are gone.
    db.commit_baob("d", &commit("k", VersionRule::Next, None, b"new"))
        .unwrap();
    assert_eq!(db.read_baob_chunk("d", content, 0).unwrap(), None);
    assert_eq!(rows(db), (1, 1));
}
