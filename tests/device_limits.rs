//! The device's bounds against the real server (NGTT.md §2, §4): an ORDER larger than the
//! device's frame limit is refused by its tid and recorded so, without a reconnect loop; uploads
//! made during an outage stay within the upload limits, and each accepted one is stored once
//! when the link returns.

use std::time::Duration;

use ngtt_proto::payload::{Order, PathpointSeries, Sample};
use ngtt_server::OrderState;
use ngtt_testkit::smok::vacant_addr;
use ngtt_testkit::{init_logging, lively_device_config, read_order, TestPki, TestServer, WAIT};
use ngtt_transport::{Transport, TransportError, UploadLimits};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_order_between_two_is_rejected_and_the_queue_moves_on() {
    init_logging();
    let pki = TestPki::new();
    let server = TestServer::start(&pki, pki.scratch("db"), |_| {}).await;
    let paths: Vec<_> = (0..200)
        .map(|i| json!({"type": "read", "path": format!("W{i}")}))
        .collect();
    let ids = [
        server.queue("d1", read_order("Wbefore")).await,
        server.queue("d1", json!([{"orders": paths}])).await,
        server.queue("d1", read_order("Wafter")).await,
    ];
    let config = lively_device_config(&pki, "d1", server.addr).with_max_frame_len(1024);
    let (transport, mut orders) = Transport::spawn(config).unwrap();
    for path in ["Wbefore", "Wafter"] {
        let order = tokio::time::timeout(WAIT, orders.recv()).await.unwrap().unwrap();
        assert_eq!(order.sections()[0].orders[0], Order::read(path));
        order.ack().await.unwrap();
    }
    server.until_answered(&ids).await;
    let states: Vec<_> = ids.iter().map(|&id| server.state(id)).collect();
    assert_eq!(
        states,
        [OrderState::Confirmed, OrderState::Rejected, OrderState::Confirmed]
    );
    let stats = transport.stats();
    assert_eq!((stats.connects, stats.drops, stats.frames_oversized), (1, 0, 1));
    transport.close(Duration::from_secs(2)).await;
    server.stop().await;
}

fn sample(n: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new(
        "W1",
        [Sample::value(1_700_000_000_000 + n, n as i64)],
    )]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_during_an_outage_stay_bounded_and_are_stored_once() {
    init_logging();
    let pki = TestPki::new();
    let addr = vacant_addr();
    let limits = UploadLimits {
        max_count: 4,
        max_bytes: 64 * 1024,
    };
    let config = lively_device_config(&pki, "d2", addr).with_upload_limits(limits);
    let (transport, _orders) = Transport::spawn(config).unwrap();
    let mut accepted: Vec<_> = (0..4)
        .map(|n| tokio::spawn(transport.sync_pathpoints(sample(n))))
        .collect();
    let err = transport.try_sync_pathpoints(sample(99)).await.unwrap_err();
    assert!(
        matches!(err, TransportError::UploadQueueFull { pending: 4, .. }),
        "{err}"
    );
    accepted.push(tokio::spawn(transport.sync_pathpoints(sample(4))));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!accepted[4].is_finished(), "the fifth waits for room");
    assert_eq!(transport.stats().uploads_pending, 4);

    // The server comes up where the device looks for it.
    let server = TestServer::start_at(&pki, pki.scratch("db"), addr, |_| {}).await;
    for upload in accepted {
        tokio::time::timeout(WAIT, upload)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    assert_eq!(server.stored_samples("d2"), 5, "each accepted upload stored once");
    assert_eq!(transport.stats().uploads_confirmed, 5);
    assert_eq!(transport.stats().uploads_pending, 0);
    transport.close(Duration::from_secs(2)).await;
    server.stop().await;
}
