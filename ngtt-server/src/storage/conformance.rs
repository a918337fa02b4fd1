//! The storage conformance suite: what every engine must do, run against SQLite and
//! PostgreSQL alike ([`engines`]).
//!
//! * This file: the hot path through the async [`Store`] (group commit), concurrent writers
//!   included (`run_all` with a fresh, empty store).
//! * [`shared`]: several nodes on one database (PostgreSQL; SQLite: two handles on one file).
//! * [`records`], [`resources`], [`baobs`], [`device_data`], [`group_commit`]: every other
//!   operation of [`Storage`](super::Storage), one check per guarantee, on an engine seen
//!   through [`Inspect`].
//!
//! Engine-specific tests (SQLite's migrations from earlier releases, its WAL mode; holding the
//! engine still to watch batches gather) stay beside each engine.

use std::collections::HashSet;

use bytes::Bytes;
use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_proto::{DeviceIdentity, Environment};

use super::{LogEntry, OrderAnswer, OrderState, SeriesQuery, Storage, Store};

mod baobs;
mod device_data;
mod engines;
mod group_commit;
mod records;
mod resources;
mod shared;

/// An engine under test: the [`Storage`] trait plus what the checks need to look inside.
pub(crate) trait Inspect: Storage {
    /// How many rows `table` has.
    fn count_rows(&self, table: &str) -> i64;

    /// Makes inserting a log record of the service `bad`, or a sample of the path `bad`, fail
    /// (triggers), so that one operation of a batch fails.
    fn refuse_bad_rows(&self);
}

pub(super) fn upload(path: &str, stamps: impl IntoIterator<Item = u64>) -> Vec<PathpointSeries> {
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

pub(super) async fn stamps(store: &Store, device: &str) -> Vec<u64> {
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
    let claimed = store.claim_orders("ord", 0, 1, None).await.unwrap().0;
    assert_eq!(claimed.iter().map(|o| o.id).collect::<Vec<_>>(), [a]);
    assert_eq!(claimed[0].payload, Bytes::from_static(b"[1]"));
    let claimed = store.claim_orders("ord", a, 10, None).await.unwrap().0;
    assert_eq!(claimed.iter().map(|o| o.id).collect::<Vec<_>>(), [b]);
    let record = store.call(move |s| s.order(a)).await.unwrap().unwrap();
    assert_eq!((record.state, record.deliveries), (OrderState::Sent, 1));
    // A pending order is claimed again (a new connection), one more delivery.
    assert_eq!(store.claim_orders("ord", 0, 10, None).await.unwrap().0.len(), 2);
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
    assert!(store.claim_orders("ord", 0, 10, None).await.unwrap().0.is_empty());
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
    // A claim with a reservation reserves only when it claims an order, in the same commit.
    let (claimed, first) = store.claim_orders("tid-claim", 0, 10, Some(256)).await.unwrap();
    assert!(claimed.is_empty());
    assert_eq!(first, None, "nothing claimed, nothing reserved");
    let id = store
        .queue_order("tid-claim", Bytes::from_static(b"[1]"))
        .await
        .unwrap();
    let (claimed, first) = store.claim_orders("tid-claim", 0, 10, Some(256)).await.unwrap();
    assert_eq!(claimed.iter().map(|o| o.id).collect::<Vec<_>>(), [id]);
    assert_eq!(first, Some(1));
    let record = store.call(move |s| s.order(id)).await.unwrap().unwrap();
    assert_eq!((record.state, record.deliveries), (OrderState::Sent, 1));
    assert_eq!(
        store.reserve_order_tids("tid-claim", 1).await.unwrap(),
        257,
        "the block is taken"
    );
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
            let claimed = store.claim_orders(&device, 0, 100, None).await.unwrap().0;
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
