//! Group commit on SQLite: nothing is answered before its commit, and operations that arrive
//! while a commit runs share the next one (that a failing operation fails alone is checked on
//! every engine by the conformance suite).

use std::sync::{mpsc, Arc};
use std::time::Duration;

use ngtt_proto::payload::{PathpointSeries, Sample};

use crate::storage::{SqliteStorage, Storage, Store};

fn upload(ts: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new("W1", [Sample::value(ts, 1)])]
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
