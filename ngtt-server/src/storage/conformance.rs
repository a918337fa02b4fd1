//! The storage conformance suite: what every engine behind [`Store`] must do, written against
//! the async interface alone so that any engine can run it (`run_all` with a fresh, empty
//! store). The SQLite runs are at the end; group commit's own guarantees (a failing operation
//! does not fail its batch-mates, many operations share one commit) are in
//! `sqlite/group_commit_tests.rs`, which needs to hold the engine still.

use std::collections::HashSet;

use bytes::Bytes;
use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_proto::{DeviceIdentity, Environment};

use super::{LogEntry, OrderAnswer, OrderState, SeriesQuery, Store};

fn upload(path: &str, stamps: impl IntoIterator<Item = u64>) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new(
        path,
        stamps.into_iter().map(|ts| Sample::value(ts, ts as i64)),
    )]
}

fn log(message: &str) -> LogEntry {
    LogEntry {
        id: 0,
        service: "svc".into(),
        when_us: 1_700_000_000_000_000,
        level: 20,
        message: message.into(),
        exception_text: None,
        exception_traceback: Some("H4sI".into()),
        received_at_ms: 0,
    }
}

async fn stamps(store: &Store, device: &str) -> Vec<u64> {
    let device = device.to_owned();
    let query = SeriesQuery {
        limit: usize::MAX,
        ..SeriesQuery::default()
    };
    let series = store.call(move |s| s.read_series(&device, &query)).await.unwrap();
    series
        .iter()
        .flat_map(|s| s.values.iter().map(Sample::ts))
        .collect()
}

/// Runs every check on `store` (fresh and empty).
pub(crate) async fn run_all(store: &Store) {
    devices(store).await;
    orders(store).await;
    tids(store).await;
    uploads(store).await;
    logs(store).await;
    concurrent_writers(store).await;
}

async fn devices(store: &Store) {
    store
        .device_connected(DeviceIdentity::new("conn-dev", Environment::Staging))
        .await
        .unwrap();
    let devices = store.call(|s| s.list_devices()).await.unwrap();
    let found = devices.iter().find(|d| d.device_id == "conn-dev").unwrap();
    assert_eq!(found.environment, Some(Environment::Staging.as_i64()));
    assert!(found.last_connected_ms.is_some());
}

async fn orders(store: &Store) {
    let a = store
        .queue_order("ord", Bytes::from_static(b"[1]"))
        .await
        .unwrap();
    let b = store
        .queue_order("ord", Bytes::from_static(b"[2]"))
        .await
        .unwrap();
    assert!(b > a, "ids grow in queue order");
    let claimed = store.claim_orders("ord", 0, 1).await.unwrap();
    assert_eq!(claimed.iter().map(|o| o.id).collect::<Vec<_>>(), [a]);
    assert_eq!(claimed[0].payload, Bytes::from_static(b"[1]"));
    let claimed = store.claim_orders("ord", a, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|o| o.id).collect::<Vec<_>>(), [b]);
    let record = store.call(move |s| s.order(a)).await.unwrap().unwrap();
    assert_eq!((record.state, record.deliveries), (OrderState::Sent, 1));
    // A pending order is claimed again (a new connection), one more delivery.
    assert_eq!(store.claim_orders("ord", 0, 10).await.unwrap().len(), 2);
    assert!(store.answer_order(a, OrderAnswer::Confirmed).await.unwrap());
    assert!(
        !store.answer_order(a, OrderAnswer::Rejected).await.unwrap(),
        "already answered"
    );
    assert!(store.answer_order(b, OrderAnswer::Rejected).await.unwrap());
    let record = store.call(move |s| s.order(a)).await.unwrap().unwrap();
    assert_eq!((record.state, record.deliveries), (OrderState::Confirmed, 2));
    let record = store.call(move |s| s.order(b)).await.unwrap().unwrap();
    assert_eq!(record.state, OrderState::Rejected);
    assert!(store.claim_orders("ord", 0, 10).await.unwrap().is_empty());
    assert!(!store
        .answer_order(i64::MAX, OrderAnswer::Confirmed)
        .await
        .unwrap());
}

async fn tids(store: &Store) {
    assert_eq!(store.reserve_order_tids("tid", 256).await.unwrap(), 1);
    assert_eq!(store.reserve_order_tids("tid", 256).await.unwrap(), 257);
    assert_eq!(store.reserve_order_tids("tid-other", 3).await.unwrap(), 1);
    assert_eq!(store.reserve_order_tids("tid", 1).await.unwrap(), 513);
}

async fn uploads(store: &Store) {
    assert_eq!(store.store_series("up", upload("W1", 1..=3)).await.unwrap(), 3);
    // A re-sent upload is stored once; only the new sample counts.
    assert_eq!(store.store_series("up", upload("W1", 2..=4)).await.unwrap(), 1);
    assert_eq!(stamps(store, "up").await, [1, 2, 3, 4]);
    assert_eq!(store.store_series("up", Vec::new()).await.unwrap(), 0);
}

async fn logs(store: &Store) {
    assert_eq!(store.store_logs("lg", vec![log("a"), log("b")]).await.unwrap(), 2);
    let stored = store.call(|s| s.read_logs("lg", 10)).await.unwrap();
    let messages: Vec<&str> = stored.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["a", "b"]);
    assert_eq!(stored[1].exception_traceback.as_deref(), Some("H4sI"));
}

/// Many devices writing at once, each operation answered with its own result.
async fn concurrent_writers(store: &Store) {
    const DEVICES: u64 = 40;
    const UPLOADS: u64 = 25;
    let mut tasks = Vec::new();
    for d in 0..DEVICES {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let device = format!("many-{d}");
            let mut ids = Vec::new();
            for i in 0..UPLOADS {
                assert_eq!(store.store_series(&device, upload("W1", [i])).await.unwrap(), 1);
                if i % 5 == 0 {
                    ids.push(
                        store
                            .queue_order(&device, Bytes::from_static(b"[]"))
                            .await
                            .unwrap(),
                    );
                }
            }
            let claimed = store.claim_orders(&device, 0, 100).await.unwrap();
            assert_eq!(claimed.iter().map(|o| o.id).collect::<Vec<_>>(), ids);
            for id in &ids {
                assert!(store.answer_order(*id, OrderAnswer::Confirmed).await.unwrap());
            }
            ids
        }));
    }
    let mut all = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(all.insert(id), "order id {id} given twice");
        }
    }
    assert_eq!(all.len() as u64, DEVICES * UPLOADS / 5);
    for d in 0..DEVICES {
        assert_eq!(
            stamps(store, &format!("many-{d}")).await,
            (0..UPLOADS).collect::<Vec<_>>()
        );
    }
}

mod sqlite {
    use std::sync::Arc;

    use super::{run_all, stamps, upload};
    use crate::storage::{SqliteStorage, Store};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_in_memory_conforms() {
        run_all(&Store::new(Arc::new(SqliteStorage::open_in_memory().unwrap()))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_file_conforms_and_keeps_what_it_answered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = Store::new(Arc::new(SqliteStorage::open(&path).unwrap()));
            run_all(&store).await;
            assert_eq!(store.store_series("durable", upload("W1", [7])).await.unwrap(), 1);
        }
        let store = Store::new(Arc::new(SqliteStorage::open(&path).unwrap()));
        assert_eq!(stamps(&store, "durable").await, [7]);
        assert_eq!(stamps(&store, "many-3").await.len(), 25);
    }
}
