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

/// A claim of orders is answered at its commit, while the WAL syncs (its ORDER frames go out
/// meanwhile); the orders inserted in the same commit (an order handed to its connection) are
/// answered — the admin API's `201` — only once the sync is done (docs/delivery-guarantees.md,
/// "Orders go out while the commit syncs"; which answers go ahead: `answers_before_sync`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_goes_ahead_of_the_sync_its_inserts_do_not() {
    use crate::storage::write_op::UNSYNCED_TID_RESERVE;
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path().join("ngtt.db")).unwrap());
    let store = Store::new(Arc::clone(&storage) as Arc<dyn Storage>);
    let first = store.queue_order("d", "[]".into()).await.unwrap();
    // Hold the WAL's sync still, as a slow disk would.
    let (locked_tx, locked) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let held = Arc::clone(&storage);
    let holder = std::thread::spawn(move || {
        let _sync = held.wal.as_ref().unwrap().lock();
        locked_tx.send(()).unwrap();
        let _ = released.recv();
    });
    locked.recv().unwrap();
    // One job: the insert and the claim share a commit.
    let both = store.queue_and_claim("d", vec!["[]".into()], 0, 10, Some(UNSYNCED_TID_RESERVE));
    let (queued, claim) = tokio::time::timeout(Duration::from_secs(30), both)
        .await
        .expect("a claim waited for the sync")
        .unwrap();
    let (orders, tids) = claim.unwrap();
    assert_eq!(orders.len(), 2, "the claim takes the order inserted with it");
    assert_eq!(orders[0].id, first);
    assert_eq!(tids, Some(1));
    let ids = tokio::spawn(queued.ids());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !ids.is_finished(),
        "an insert was answered before its commit was synced"
    );
    release.send(()).unwrap();
    holder.join().unwrap();
    let ids = ids.await.unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(*ids[0].as_ref().unwrap(), orders[1].id);
}
