//! A fault-injection proxy cuts the device's connection at random byte offsets (mid-handshake,
//! mid-frame, between frames) while a stream of orders and uploads flows. When the dust settles
//! every order is confirmed and every upload stored: none lost.
//!
//! The cut schedule is reproducible: the seed is printed, and `NGTT_FAULT_SEED` replays one.

use std::time::{Duration, Instant};

use ngtt_proto::payload::{Level, LogRecord, PathpointSeries, Sample};
use ngtt_server::storage::SeriesQuery;
use ngtt_server::OrderState;
use ngtt_testkit::{init_logging, lively_device_config, TestServer};
use ngtt_testkit::{FaultProxy, TestPki};
use ngtt_transport::Transport;
use serde_json::json;

const ORDERS: usize = 60;
const UPLOADS: u64 = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_connections_are_cut_at_random_offsets() {
    init_logging();
    let seed = std::env::var("NGTT_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("fault schedule seed: {seed} (NGTT_FAULT_SEED={seed} replays it)");

    let pki = TestPki::new();
    let server = TestServer::start(&pki, pki.scratch("db"), |c| {
        c.max_inflight_orders = 4;
    })
    .await;
    // A TLS handshake with these certificates is about 2.5 kB: some cuts land inside it, most
    // in the frames after it.
    let proxy = FaultProxy::start(server.addr, 600, 5_000, seed).await.unwrap();
    let (transport, mut orders) =
        Transport::spawn(lively_device_config(&pki, "flaky", proxy.addr())).unwrap();

    // The device acknowledges whatever arrives; an answer lost with its connection is
    // answered again when the order is redelivered.
    let device = tokio::spawn(async move {
        let mut deliveries = 0;
        while let Some(order) = orders.recv().await {
            deliveries += 1;
            let _ = order.ack().await;
        }
        deliveries
    });
    // Orders and uploads trickle in for a couple of seconds, so that cuts find work in flight.
    let (mut ids, mut uploads) = (Vec::new(), Vec::new());
    for i in 0..ORDERS.max(UPLOADS as usize) {
        if i < ORDERS {
            ids.push(
                server
                    .queue(
                        "flaky",
                        json!([{"orders": [{"type": "read", "path": format!("W{i}")}]}]),
                    )
                    .await,
            );
        }
        if (i as u64) < UPLOADS {
            let i = i as u64;
            let series = PathpointSeries::new(format!("W{}", i % 5), [Sample::value(1_000 + i, i as i64)]);
            uploads.push(tokio::spawn(transport.sync_pathpoints(vec![series])));
        }
        // Logs are best effort (not checked) but add traffic for the cuts to land in.
        transport.send_logs([LogRecord::new(
            "test",
            1_000 + i as u64,
            Level::INFO,
            "x".repeat(200),
        )]);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    // Let the faults work for a while, then heal the link so that the test ends.
    let faults_until = Instant::now() + Duration::from_secs(3);
    let all_confirmed = |s: &TestServer| ids.iter().all(|&id| s.state(id) == OrderState::Confirmed);
    while Instant::now() < faults_until && !all_confirmed(&server) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.set_faults(false);
    for upload in uploads {
        tokio::time::timeout(Duration::from_secs(30), upload)
            .await
            .expect("every upload resolves once the link heals")
            .unwrap()
            .expect("every upload is confirmed");
    }
    server.until("every order confirmed", all_confirmed).await;

    let stored = server
        .handle
        .storage()
        .read_series("flaky", &SeriesQuery::default())
        .unwrap();
    let mut timestamps: Vec<u64> = stored
        .iter()
        .flat_map(|s| s.values.iter().map(|v| v.ts()))
        .collect();
    timestamps.sort_unstable();
    assert_eq!(
        timestamps,
        (1_000..1_000 + UPLOADS).collect::<Vec<_>>(),
        "every upload stored exactly once"
    );

    let stats = transport.stats();
    let cuts = proxy.stats().cuts.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "cuts: {cuts}, connects: {}, drops: {}, orders received: {}",
        stats.connects, stats.drops, stats.orders_received
    );
    assert!(
        cuts >= 3,
        "the proxy must actually have cut connections (cut {cuts} times)"
    );
    transport.close(Duration::from_secs(2)).await;
    drop(transport);
    let deliveries = tokio::time::timeout(Duration::from_secs(5), device)
        .await
        .expect("orders stream ends")
        .unwrap();
    assert!(
        deliveries >= ORDERS,
        "{deliveries} deliveries for {ORDERS} orders"
    );
    server.stop().await;
}
