//! A real device (`ngtt-transport`) against a real server (`ngtt-server`) over TLS on loopback:
//! orders, acknowledgements, uploads and logs end to end, through a graceful restart and a crash.

use std::time::Duration;

use ngtt_proto::payload::{Level, LogRecord, Order, PathpointSeries, Sample};
use ngtt_server::storage::SeriesQuery;
use ngtt_server::OrderState;
use ngtt_testkit::TestPki;
use ngtt_testkit::{init_logging, lively_device_config, read_order, TestServer, WAIT};
use ngtt_transport::Transport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_pushed_acknowledged_and_rejected_end_to_end() {
    init_logging();
    let pki = TestPki::new();
    let server = TestServer::start(&pki, pki.scratch("db"), |c| {
        c.max_inflight_orders = 2;
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(server.queue("d1", read_order(&format!("W{i}"))).await);
    }
    let (transport, mut orders) = Transport::spawn(lively_device_config(&pki, "d1", server.addr)).unwrap();

    for i in 0..6 {
        let order = tokio::time::timeout(WAIT, orders.recv())
            .await
            .expect("an order")
            .expect("open");
        // Queue order, held back by the window of 2 and released as answers come.
        assert_eq!(order.sections()[0].orders[0], Order::read(format!("W{i}")));
        if i == 3 {
            order.nack().await.unwrap();
        } else {
            order.ack().await.unwrap();
        }
    }
    server.until_answered(&ids).await;
    for (i, &id) in ids.iter().enumerate() {
        let expected = if i == 3 {
            OrderState::Rejected
        } else {
            OrderState::Confirmed
        };
        assert_eq!(server.state(id), expected, "order {i}");
    }
    // An order queued while the device is connected arrives at once.
    let late = server.queue("d1", read_order("Wlate")).await;
    let order = tokio::time::timeout(WAIT, orders.recv()).await.unwrap().unwrap();
    order.ack().await.unwrap();
    server
        .until("the late order confirmed", |s| {
            s.state(late) == OrderState::Confirmed
        })
        .await;

    transport.close(Duration::from_secs(2)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_and_logs_are_stored() {
    init_logging();
    let pki = TestPki::new();
    let server = TestServer::start(&pki, pki.scratch("db"), |_| {}).await;
    let (transport, _orders) =
        Transport::spawn(lively_device_config(&pki, "d2", server.addr).with_fetch_orders(false)).unwrap();

    let series = vec![
        PathpointSeries::new(
            "W1r4002",
            [
                Sample::value(1_700_000_000_000, 25),
                Sample::value(1_700_000_001_000, 26),
            ],
        ),
        PathpointSeries::new("fr2", [Sample::value(1_700_000_000_000, 2.5)]),
    ];
    tokio::time::timeout(WAIT, transport.sync_pathpoints(series.clone()))
        .await
        .unwrap()
        .unwrap();
    // Confirmed means stored: readable at once.
    assert_eq!(server.stored_samples("d2"), 3);

    transport.send_logs([LogRecord::new(
        "boiler",
        1_700_000_000_000_000,
        Level::WARNING,
        "pressure high",
    )]);
    server
        .until("the log record", |s| {
            !s.handle.storage().read_logs("d2", 10).unwrap().is_empty()
        })
        .await;
    transport.close(Duration::from_secs(2)).await;
    server.stop().await;
}

/// Waits until the device has seen its link go down (the server stopped or crashed and not yet
/// back, so it cannot reconnect meanwhile).
async fn until_link_down(transport: &Transport) {
    let mut state = transport.watch_state();
    tokio::time::timeout(WAIT, state.wait_for(|s| !s.is_connected()))
        .await
        .expect("the device notices the server is gone")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_and_crash_lose_nothing() {
    init_logging();
    let pki = TestPki::new();
    let db = pki.scratch("db");
    let server = TestServer::start(&pki, db.clone(), |_| {}).await;
    let addr = server.addr;
    let (transport, mut orders) = Transport::spawn(lively_device_config(&pki, "d3", addr)).unwrap();
    transport.connected().await.unwrap();

    // Graceful restart with an order delivered but not yet answered.
    let first = server.queue("d3", read_order("W1")).await;
    let order = tokio::time::timeout(WAIT, orders.recv()).await.unwrap().unwrap();
    server.stop().await;
    // Once the device has seen its link go down (not before: an ack racing the close may still
    // be written into the dying connection), the order cannot be acknowledged any more.
    until_link_down(&transport).await;
    assert!(
        order.ack().await.is_err(),
        "the answer cannot reach a stopped server"
    );
    // An upload made while the server is down waits for it.
    let upload =
        tokio::spawn(transport.sync_pathpoints(vec![PathpointSeries::new("W9", [Sample::value(1, 1)])]));
    let server = TestServer::start_at(&pki, db.clone(), addr, |_| {}).await;
    let again = tokio::time::timeout(WAIT, orders.recv())
        .await
        .expect("redelivered")
        .unwrap();
    assert_eq!(again.sections()[0].orders[0], Order::read("W1"));
    again.ack().await.unwrap();
    tokio::time::timeout(WAIT, upload)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    server
        .until("the first order confirmed", |s| {
            s.state(first) == OrderState::Confirmed
        })
        .await;

    // Crash (no shutdown at all) with one order in flight and one queued.
    let second = server.queue("d3", read_order("W2")).await;
    let in_flight = tokio::time::timeout(WAIT, orders.recv()).await.unwrap().unwrap();
    let third = server.queue("d3", read_order("W3")).await;
    server.crash().await;
    drop(in_flight);
    // W3 may have reached the device before the crash. Until the device sees its link go down,
    // that connection is the live one and W3 would be handed out from it ahead of W2; after,
    // orders of the dead connection are skipped and both come again in order.
    until_link_down(&transport).await;
    let server = TestServer::start_at(&pki, db, addr, |_| {}).await;
    for path in ["W2", "W3"] {
        let order = tokio::time::timeout(WAIT, orders.recv())
            .await
            .expect("redelivered after the crash")
            .unwrap();
        assert_eq!(order.sections()[0].orders[0], Order::read(path));
        order.ack().await.unwrap();
    }
    server
        .until("both orders confirmed", |s| {
            [second, third]
                .iter()
                .all(|&id| s.state(id) == OrderState::Confirmed)
        })
        .await;
    let stored = server
        .handle
        .storage()
        .read_series("d3", &SeriesQuery::default())
        .unwrap();
    assert_eq!(stored.len(), 1);
    transport.close(Duration::from_secs(2)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_holding_ping_answers_paces_the_devices_keepalive_without_dropping_it() {
    init_logging();
    let pki = TestPki::new();
    let server = TestServer::start(&pki, pki.scratch("db"), |c| {
        c.ping_answer_delay = Duration::from_secs(1);
    })
    .await;
    // The device pings after 500 ms of silence and calls the link dead after 3 s.
    let config = lively_device_config(&pki, "paced", server.addr).with_fetch_orders(false);
    let (transport, _orders) = Transport::spawn(config).unwrap();
    tokio::time::timeout(WAIT, transport.connected())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let stats = transport.stats();
    assert_eq!((stats.connects, stats.drops), (1, 0), "{stats:?}");
    // One ping per held answer (~1 s), not one per 500 ms of silence (~9 in this time).
    assert!((2..=5).contains(&stats.pings_sent), "{stats:?}");
    transport.close(Duration::from_secs(2)).await;
    server.stop().await;
}
