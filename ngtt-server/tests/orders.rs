//! Order delivery over real TLS: push, confirm, reject, the window, redelivery, FETCH_ORDERS,
//! and a connection replaced by a newer one.

use std::time::Duration;

use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{read_order, read_path, TestPki, TestServer};

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn orders_pushed_and_confirmed() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    dev.ping(1).await; // FETCH_ORDERS processed: orders now reach the device at once

    let id = server.queue("dev1", read_order("W1")).await;
    let (tid, sections) = dev.recv_order().await;
    assert_ne!(tid, 0);
    assert_eq!(read_path(&sections), "W1");
    let sent = server.order(id).await;
    assert_eq!(sent["state"], "sent");
    assert_eq!(sent["deliveries"], 1);

    dev.send(Frame::order_confirm(tid)).await;
    dev.ping(2).await;
    let done = server.order(id).await;
    assert_eq!(done["state"], "confirmed", "{done}");
    assert_eq!(done["answered_via"], "ngtt");
    assert!(done["answered_at"].as_i64().unwrap() >= done["sent_at"].as_i64().unwrap());
    assert_eq!(done["sections"], read_order("W1"));
    server.stop().await;
}

#[tokio::test]
async fn order_rejected() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let id = server.queue("dev1", read_order("W1")).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (tid, _) = dev.recv_order().await;
    dev.send(Frame::order_reject(tid)).await;
    dev.ping(1).await;
    assert_eq!(server.order(id).await["state"], "rejected");
    // A second answer to the same tid matches nothing any more: ignored, connection kept.
    dev.send(Frame::order_confirm(tid)).await;
    dev.ping(2).await;
    assert_eq!(server.order(id).await["state"], "rejected");
    server.stop().await;
}

#[tokio::test]
async fn window_holds_orders_back_and_releases_them_in_queue_order() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| c.max_inflight_orders = 2).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(server.queue("dev1", read_order(&format!("W{i}"))).await);
    }
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (t0, s0) = dev.recv_order().await;
    let (t1, s1) = dev.recv_order().await;
    assert_ne!(t0, t1);
    assert_eq!((read_path(&s0), read_path(&s1)), ("W0".into(), "W1".into()));
    dev.expect_silence(QUIET).await;
    assert_eq!(server.order(ids[2]).await["state"], "queued");

    dev.send(Frame::order_confirm(t1)).await;
    let (t2, s2) = dev.recv_order().await;
    assert_eq!(read_path(&s2), "W2");
    assert!(t2 != t0, "a tid still unanswered must not be reused");
    dev.expect_silence(QUIET).await;

    dev.send(Frame::order_reject(t0)).await;
    dev.send(Frame::order_confirm(t2)).await;
    let (t3, s3) = dev.recv_order().await;
    let (t4, s4) = dev.recv_order().await;
    assert_eq!((read_path(&s3), read_path(&s4)), ("W3".into(), "W4".into()));
    dev.send(Frame::order_confirm(t3)).await;
    dev.send(Frame::order_confirm(t4)).await;
    dev.ping(9).await;
    let states: Vec<String> = futures::future::join_all(ids.iter().map(|&id| server.order(id)))
        .await
        .iter()
        .map(|o| o["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        states,
        ["rejected", "confirmed", "confirmed", "confirmed", "confirmed"]
    );
    server.stop().await;
}

#[tokio::test]
async fn device_without_fetch_orders_gets_none_when_the_grace_is_off() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| c.fetch_grace = None).await;
    let mut dev = server.device(&pki, "data-only").await;
    let id = server.queue("data-only", read_order("W1")).await;
    dev.ping(1).await;
    dev.expect_silence(QUIET).await;
    assert_eq!(server.order(id).await["state"], "queued");
    // Asking later starts delivery.
    dev.fetch_orders().await;
    let (_, sections) = dev.recv_order().await;
    assert_eq!(read_path(&sections), "W1");
    server.stop().await;
}

#[tokio::test]
async fn redelivered_after_cuts_before_and_after_delivery() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;

    // Cut before delivery: queued while the device is away, delivered when it comes back.
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    dev.ping(1).await;
    drop(dev);
    // Away once the server has seen the connection end (before that, an order queued for it
    // may still be claimed by it and counted as one more delivery that never arrives).
    while !server.handle.connected_devices().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let a = server.queue("dev1", read_order("A")).await;
    let b = server.queue("dev1", read_order("B")).await;
    let c = server.queue("dev1", read_order("C")).await;

    // Delivered, B confirmed, then cut before A and C are confirmed.
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let (tid, s) = dev.recv_order().await;
        got.push((tid, read_path(&s)));
    }
    assert_eq!(
        got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["A", "B", "C"]
    );
    dev.send(Frame::order_confirm(got[1].0)).await;
    dev.ping(2).await;
    drop(dev);

    // Redelivered on the next connection, in queue order, without the confirmed one.
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (ta, sa) = dev.recv_order().await;
    let (tc, sc) = dev.recv_order().await;
    assert_eq!((read_path(&sa), read_path(&sc)), ("A".into(), "C".into()));
    dev.expect_silence(QUIET).await;
    dev.send(Frame::order_confirm(ta)).await;
    dev.send(Frame::order_confirm(tc)).await;
    dev.ping(3).await;
    for (id, deliveries) in [(a, 2), (b, 1), (c, 2)] {
        let order = server.order(id).await;
        assert_eq!(order["state"], "confirmed", "{order}");
        assert_eq!(order["deliveries"], deliveries, "{order}");
    }
    server.stop().await;
}

#[tokio::test]
async fn newer_connection_replaces_older_one() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let id = server.queue("dev1", read_order("W1")).await;
    let mut old = server.device(&pki, "dev1").await;
    old.fetch_orders().await;
    let (old_tid, _) = old.recv_order().await;

    let mut new = server.device(&pki, "dev1").await;
    new.fetch_orders().await;
    let (new_tid, sections) = new.recv_order().await;
    assert_eq!(read_path(&sections), "W1");
    // By the time the new connection got the order, the old one has been stopped and closed.
    let clean = tokio::time::timeout(Duration::from_millis(100), old.expect_closed())
        .await
        .expect("old connection already closed");
    assert!(clean, "closed with TLS close_notify");
    // A late answer on the old connection goes nowhere.
    let _ = old.try_send(Frame::order_confirm(old_tid)).await;
    new.ping(1).await;
    assert_eq!(server.order(id).await["state"], "sent");
    assert_eq!(server.order(id).await["deliveries"], 2);

    new.send(Frame::order_confirm(new_tid)).await;
    new.ping(2).await;
    assert_eq!(server.order(id).await["state"], "confirmed");
    assert_eq!(server.handle.connected_devices(), ["dev1"]);
    server.stop().await;
}

#[tokio::test]
async fn answers_matching_nothing_are_ignored() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.send(Frame::order_confirm(999)).await;
    dev.send(Frame::order_reject(0)).await;
    dev.send(Frame::data_stream_confirm(5)).await;
    dev.send(Frame::new(
        FrameType::Order,
        3,
        minijson::to_vec(&Vec::<u8>::new()).unwrap(),
    ))
    .await;
    dev.ping(1).await;
    server.stop().await;
}

#[tokio::test]
async fn a_batch_of_orders_reaches_each_connected_device_in_list_order() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut devices = Vec::new();
    for id in ["b1", "b2"] {
        let mut dev = server.device(&pki, id).await;
        dev.fetch_orders().await;
        dev.ping(1).await;
        devices.push(dev);
    }
    let batch = serde_json::json!([
        {"device": "b1", "sections": read_order("A")},
        {"device": "b2", "sections": read_order("B")},
        {"device": "b1", "sections": read_order("C")},
        {"device": "offline", "sections": read_order("D")},
    ]);
    let (status, answer) = server
        .admin(reqwest::Method::POST, "/v1/orders", Some(batch))
        .await;
    assert_eq!(status, 201, "{answer}");
    let answer = answer.as_array().unwrap().clone();
    let named: Vec<&str> = answer.iter().map(|a| a["device"].as_str().unwrap()).collect();
    assert_eq!(named, ["b1", "b2", "b1", "offline"]);
    let ids: Vec<i64> = answer.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "queued in list order: {ids:?}"
    );

    // Each connected device is woken and gets its own orders, in the list's order.
    let mut paths = Vec::new();
    for (dev, n) in devices.iter_mut().zip([2, 1]) {
        let mut got = Vec::new();
        for _ in 0..n {
            let (tid, sections) = dev.recv_order().await;
            got.push(read_path(&sections));
            dev.send(Frame::order_confirm(tid)).await;
        }
        paths.push(got);
    }
    assert_eq!(paths, [vec!["A", "C"], vec!["B"]]);
    server.until_answered(&ids[..3]).await;
    assert_eq!(server.order(ids[3]).await["state"], "queued");

    // One bad entry refuses the whole batch: nothing of it is queued.
    let bad = serde_json::json!([
        {"device": "b2", "sections": read_order("E")},
        {"device": "b2", "sections": []},
    ]);
    let (status, answer) = server.admin(reqwest::Method::POST, "/v1/orders", Some(bad)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["status"].as_str().unwrap().starts_with("order 1: "),
        "{answer}"
    );
    let (_, b2) = server.get("/v1/devices/b2/orders").await;
    assert_eq!(b2.as_array().unwrap().len(), 1, "{b2}");
    devices[1].expect_silence(QUIET).await;
    server.stop().await;
}

#[tokio::test]
async fn a_keepalive_answer_is_held_unless_the_device_is_active() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    // Held 1.5 s; a PING after 0.5 s in silence is a keepalive.
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| {
        c.ping_answer_delay = Duration::from_millis(1500);
    })
    .await;
    let mut dev = server.device(&pki, "keepalive").await;
    dev.fetch_orders().await;
    let silent = Duration::from_millis(700);
    tokio::time::sleep(silent).await;
    dev.send(Frame::ping(1)).await;
    dev.expect_silence(Duration::from_millis(1000)).await;
    let echo = dev.recv().await;
    assert_eq!((echo.kind, echo.tid), (FrameType::Ping, 1));

    // Held, then an order is written: the answer goes with it, before the delay is over.
    tokio::time::sleep(silent).await;
    dev.send(Frame::ping(2)).await;
    dev.expect_silence(Duration::from_millis(100)).await;
    server.queue("keepalive", read_order("W9")).await;
    let first = dev.recv_within(QUIET).await.expect("the held answer, early");
    assert_eq!((first.kind, first.tid), (FrameType::Ping, 2));
    let (tid, sections) = dev.recv_order().await;
    assert_eq!(read_path(&sections), "W9");
    dev.send(Frame::order_confirm(tid)).await;

    // Held, then the device writes a LOGS batch and a PING to prove it was read (as
    // ngtt-transport does): both answers come at once.
    tokio::time::sleep(silent).await;
    dev.send(Frame::ping(3)).await;
    dev.expect_silence(Duration::from_millis(100)).await;
    let logs = minijson::to_vec(&vec![serde_json::json!({
        "service": "s", "when": 1, "message": "m", "level": 20
    })])
    .unwrap();
    dev.send(Frame::new(FrameType::Logs, 0, bytes::Bytes::from(logs)))
        .await;
    dev.send(Frame::ping(4)).await;
    for tid in [3, 4] {
        let echo = dev.recv_within(QUIET).await.expect("at once");
        assert_eq!((echo.kind, echo.tid), (FrameType::Ping, tid));
    }
    server.stop().await;
}
