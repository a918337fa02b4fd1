//! Orders queued for a connected device that takes orders (docs/delivery-guarantees.md,
//! "Orders queued for a connected device"), over real TLS: the insert and the claim share one
//! commit, and the rules hold as for any order — queue order, the window, redelivery on the
//! next connection while unanswered.

use std::time::Duration;

use ngtt_proto::Frame;
use ngtt_testkit::{read_order, read_path, TestPki, TestServer};

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn an_order_for_a_ready_connection_goes_out_after_one_commit_and_is_redelivered() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    dev.ping(1).await; // FETCH_ORDERS and its (empty) claim done: the connection is ready

    let store = server.handle.store();
    let before = store.stats();
    let id = server.queue("dev1", read_order("A")).await;
    let (tid, sections) = dev.recv_order().await;
    assert_eq!(read_path(&sections), "A");
    let after = store.stats();
    assert_eq!(
        (after.batches - before.batches, after.ops - before.ops),
        (1, 2),
        "the insert and the claim (with its tids) in one commit"
    );
    let sent = server.order(id).await;
    assert_eq!(
        (sent["state"].as_str(), sent["deliveries"].as_i64()),
        (Some("sent"), Some(1))
    );

    // Unanswered when the connection ends: sent again on the next one, under a new tid.
    drop(dev);
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (again, sections) = dev.recv_order().await;
    assert_eq!(read_path(&sections), "A");
    assert_ne!(again, tid, "a new delivery, a new tid");
    dev.send(Frame::order_confirm(again)).await;
    dev.ping(2).await;
    let done = server.order(id).await;
    assert_eq!(
        (done["state"].as_str(), done["deliveries"].as_i64()),
        (Some("confirmed"), Some(2))
    );
    server.stop().await;
}

#[tokio::test]
async fn orders_for_a_ready_connection_keep_queue_order_and_the_window() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| c.max_inflight_orders = 1).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    dev.ping(1).await;

    // Each answered 201 once committed, whether the window lets it out now or not.
    let a = server.queue("dev1", read_order("A")).await;
    let b = server.queue("dev1", read_order("B")).await;
    let c = server.queue("dev1", read_order("C")).await;
    assert!(a < b && b < c);
    let (ta, sa) = dev.recv_order().await;
    assert_eq!(read_path(&sa), "A");
    dev.expect_silence(QUIET).await;
    assert_eq!(
        server.order(b).await["state"],
        "queued",
        "held back by the window"
    );
    dev.send(Frame::order_confirm(ta)).await;
    let (tb, sb) = dev.recv_order().await;
    assert_eq!(read_path(&sb), "B");
    dev.expect_silence(QUIET).await;
    dev.send(Frame::order_confirm(tb)).await;
    let (tc, sc) = dev.recv_order().await;
    assert_eq!(read_path(&sc), "C");
    dev.send(Frame::order_confirm(tc)).await;
    dev.ping(2).await;
    for id in [a, b, c] {
        assert_eq!(server.order(id).await["state"], "confirmed");
    }
    server.stop().await;
}

/// A burst of orders (more than the hand-offs one node runs at once, so some are handed and the
/// others inserted the usual way): every order is committed once, each device gets its own in
/// queue order, each exactly once.
#[tokio::test]
async fn a_burst_of_orders_for_ready_connections_is_delivered_once_in_queue_order() {
    const DEVICES: usize = 6;
    const EACH: usize = 3;
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut devices = Vec::new();
    for d in 0..DEVICES {
        let mut dev = server.device(&pki, &format!("dev{d}")).await;
        dev.fetch_orders().await;
        dev.ping(1).await;
        devices.push(dev);
    }

    let burst = (0..EACH)
        .flat_map(|k| (0..DEVICES).map(move |d| (d, k)))
        .map(|(d, k)| {
            let server = &server;
            async move {
                let path = format!("d{d}-{k}");
                (d, server.queue(&format!("dev{d}"), read_order(&path)).await, path)
            }
        });
    let queued = futures::future::join_all(burst).await;
    let mut ids: Vec<i64> = queued.iter().map(|(_, id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), DEVICES * EACH, "each order committed once");

    for (d, dev) in devices.iter_mut().enumerate() {
        // This device's orders in queue (id) order.
        let mut own: Vec<(i64, String)> = queued
            .iter()
            .filter(|(of, _, _)| *of == d)
            .map(|(_, id, path)| (*id, path.clone()))
            .collect();
        own.sort_unstable();
        for (id, path) in &own {
            let (tid, sections) = dev.recv_order().await;
            assert_eq!(&read_path(&sections), path, "dev{d}: order {id} next");
            dev.send(Frame::order_confirm(tid)).await;
        }
        dev.expect_silence(QUIET).await;
        dev.ping(2).await;
        for (id, _) in &own {
            let order = server.order(*id).await;
            assert_eq!(
                (order["state"].as_str(), order["deliveries"].as_i64()),
                (Some("confirmed"), Some(1)),
                "order {id} of dev{d}"
            );
        }
    }
    server.stop().await;
}
