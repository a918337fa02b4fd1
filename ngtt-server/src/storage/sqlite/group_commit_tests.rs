//! Group commit on SQLite: a failing operation fails alone, nothing is answered before its
//! commit, and operations that arrive while a commit runs share the next one.

use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use ngtt_proto::payload::{PathpointSeries, Sample};

use crate::storage::{LogEntry, SqliteStorage, Storage, Store, WriteOp, WriteOutcome};

fn log(service: &str, message: &str) -> LogEntry {
    LogEntry {
        id: 0,
        service: service.into(),
        when_us: 1,
        level: 20,
        message: message.into(),
        exception_text: None,
        exception_traceback: None,
        received_at_ms: 0,
    }
}

fn upload(ts: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new("W1", [Sample::value(ts, 1)])]
}

#[test]
fn a_failing_operation_does_not_fail_its_batch_mates() {
    let storage = SqliteStorage::open_in_memory().unwrap();
    storage
        .lock()
        .execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON logs WHEN NEW.service = 'bad'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let ops = [
        WriteOp::StoreLogs {
            device_id: "d".into(),
            logs: vec![log("ok", "first")],
        },
        // Its first record is inserted, then the second fails: the savepoint undoes both.
        WriteOp::StoreLogs {
            device_id: "d".into(),
            logs: vec![log("ok", "undone"), log("bad", "refused")],
        },
        WriteOp::StoreSeries {
            device_id: "d".into(),
            series: upload(5),
        },
        WriteOp::QueueOrder {
            device_id: "d".into(),
            sections: Bytes::from_static(b"[]"),
        },
    ];
    let results = storage.apply_batch(&ops);
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap(), &WriteOutcome::Stored(1));
    let err = results[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("refused"), "{err}");
    assert_eq!(results[2].as_ref().unwrap(), &WriteOutcome::Stored(1));
    assert!(matches!(results[3], Ok(WriteOutcome::Queued(_))));
    let logs = storage.read_logs("d", 10).unwrap();
    assert_eq!(
        logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        ["first"]
    );
    assert_eq!(storage.list_orders("d", None, 10).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_wait_for_their_commit_and_share_it() {
    let storage = Arc::new(SqliteStorage::open_in_memory().unwrap());
    let store = Store::new(Arc::clone(&storage) as Arc<dyn Storage>);
    // Hold the engine still, as a long commit (a large upload, a slow fsync) would.
    let (locked_tx, locked) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let held = Arc::clone(&storage);
    let holder = std::thread::spawn(move || {
        let _conn = held.lock();
        locked_tx.send(()).unwrap();
        let _ = released.recv();
    });
    locked.recv().unwrap();
    let writes: Vec<_> = (0..11)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.store_series(&format!("d{i}"), upload(i)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        writes.iter().all(|w| !w.is_finished()),
        "an operation was answered before its commit"
    );
    release.send(()).unwrap();
    holder.join().unwrap();
    for write in writes {
        assert_eq!(write.await.unwrap().unwrap(), 1);
    }
    let stats = store.stats();
    assert_eq!(stats.ops, 11);
    // The first operation may have been taken alone before the others arrived; the rest
    // gathered while the engine was busy and went in one commit.
    assert!(stats.batches <= 2, "{stats:?}");
}
