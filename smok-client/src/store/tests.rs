//! The same behaviour from both stores.

use ngtt_proto::payload::{Level, LogRecord, ReadError, Sample};

use super::*;

fn record(ts: u64, fqts: &str) -> SensorWriteRecord {
    SensorWriteRecord {
        timestamp: ts,
        who: "w".into(),
        hr_sensor: fqts.into(),
        hr_value: "1".into(),
        fqts: fqts.into(),
        value: "1".into(),
        reason: "r".into(),
    }
}

fn exercise(store: &dyn Store) {
    assert_eq!(
        store
            .push_samples("W1", &[Sample::value(1, 10), Sample::value(2, 20)])
            .unwrap(),
        0
    );
    store.push_samples("d2", &[Sample::value(3, 1.5)]).unwrap();
    store
        .push_samples(
            "u3",
            &[Sample::value(4, "x"), Sample::error(5, ReadError::Timeout)],
        )
        .unwrap();
    store.push_samples("W1", &[Sample::value(1, 5)]).unwrap(); // older: not the last value
    let pending = store.pending_samples(3).unwrap();
    assert_eq!(pending.len(), 3);
    assert!(pending.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(pending[2].item.sample, Sample::value(3, 1.5));
    store.ack_samples_through(pending[2].id).unwrap();
    let rest = store.pending_samples(100).unwrap();
    assert_eq!(rest.len(), 3);
    assert_eq!(rest[1].item.sample, Sample::error(5, ReadError::Timeout));
    let last = store.last_values().unwrap();
    let w1 = last.iter().find(|s| s.path == "W1").unwrap();
    assert_eq!(w1.sample, Sample::value(2, 20));
    assert_eq!(last.len(), 3);

    // Bounded: the oldest go first, and are counted.
    for k in 0..12 {
        store
            .push_samples("W9", &[Sample::value(100 + k, k as i64)])
            .unwrap();
    }
    let stats = store.stats().unwrap();
    assert_eq!((stats.samples_pending, stats.samples_dropped), (10, 5));
    assert_eq!(
        store.pending_samples(1).unwrap()[0].item.sample,
        Sample::value(102, 2)
    );

    let logs: Vec<LogRecord> = (0..7)
        .map(|k| LogRecord::new("svc", k, Level::INFO, format!("m{k}")))
        .collect();
    assert_eq!(store.push_logs(&logs).unwrap(), 2);
    let pending = store.pending_logs(10).unwrap();
    assert_eq!(pending.len(), 5);
    assert_eq!(pending[0].item, logs[2]);
    store.ack_logs_through(pending[1].id).unwrap();
    assert_eq!(store.pending_logs(10).unwrap().len(), 3);
    assert_eq!(store.stats().unwrap().logs_dropped, 2);

    assert!(store.push_sensor_write(&record(1, "a")).unwrap());
    assert!(
        !store.push_sensor_write(&record(1, "a")).unwrap(),
        "(timestamp, fqts) is the identity"
    );
    assert!(store.push_sensor_write(&record(1, "b")).unwrap());
    let writes = store.pending_sensor_writes(10).unwrap();
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[1].item, record(1, "b"));
    store.ack_sensor_writes_through(writes[0].id).unwrap();
    assert_eq!(store.pending_sensor_writes(10).unwrap()[0].item.fqts, "b");

    assert_eq!(store.get_state("k").unwrap(), None);
    store.put_state("k", b"v1").unwrap();
    store.put_state("k", b"v2").unwrap();
    assert_eq!(store.get_state("k").unwrap().as_deref(), Some(&b"v2"[..]));
}

fn limits() -> StoreLimits {
    StoreLimits {
        samples: 10,
        logs: 5,
        sensor_writes: 10,
    }
}

#[test]
fn memory_store() {
    exercise(&MemoryStore::with_limits(limits()));
}

#[test]
fn sqlite_store_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let options = sqlite::SqliteOptions {
        limits: limits(),
        full_sync: false,
    };
    let before = {
        let store = SqliteStore::open_with(&path, options).unwrap();
        exercise(&store);
        (
            store.stats().unwrap(),
            store.pending_samples(100).unwrap(),
            store.last_values().unwrap(),
        )
    };
    let store = SqliteStore::open_with(&path, options).unwrap();
    assert_eq!(store.stats().unwrap(), before.0, "counters survive");
    assert_eq!(store.pending_samples(100).unwrap(), before.1);
    assert_eq!(store.last_values().unwrap(), before.2);
    let next = store.push_samples("W1", &[Sample::value(9, 9)]);
    assert!(next.is_ok());
    let ids: Vec<u64> = store.pending_samples(100).unwrap().iter().map(|p| p.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids keep growing across restarts"
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    drop(SqliteStore::open(&path).unwrap());
    let db = rusqlite::Connection::open(&path).unwrap();
    db.pragma_update(None, "user_version", 99).unwrap();
    drop(db);
    assert!(matches!(SqliteStore::open(&path), Err(StoreError::Corrupt(_))));
}
