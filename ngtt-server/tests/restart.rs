//! Nothing is lost across a graceful restart or a crash (the server's task aborted, no
//! shutdown code run), and a graceful shutdown closes connections with close_notify.

use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_proto::{Frame, FrameType};
use ngtt_server::{Server, ServerError};
use ngtt_testkit::{read_order, read_path, server_config, TestPki, TestServer};

#[tokio::test]
async fn orders_and_data_survive_a_graceful_restart() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ngtt.db");
    let server = TestServer::start(&pki, &db, |c| c.max_inflight_orders = 1).await;
    let first = server.queue("dev1", read_order("A")).await;
    let second = server.queue("dev1", read_order("B")).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (_, sections) = dev.recv_order().await; // A sent, not confirmed; B still queued
    assert_eq!(read_path(&sections), "A");
    dev.send(Frame::data_stream(1, &[PathpointSeries::new("W1", [Sample::value(5, 1)])]).unwrap())
        .await;
    assert_eq!(dev.recv().await.kind, FrameType::DataStreamConfirm);

    server.stop().await;
    assert!(dev.expect_closed().await, "graceful shutdown sends close_notify");

    let server = TestServer::start(&pki, &db, |_| {}).await;
    assert_eq!(server.order(first).await["state"], "sent");
    assert_eq!(server.order(second).await["state"], "queued");
    let (_, stored) = server.get("/v1/devices/dev1/pathpoints").await;
    assert_eq!(stored[0]["values"][0][1], 1);

    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (ta, sa) = dev.recv_order().await;
    let (tb, sb) = dev.recv_order().await;
    assert_eq!((read_path(&sa), read_path(&sb)), ("A".into(), "B".into()));
    dev.send(Frame::order_confirm(ta)).await;
    dev.send(Frame::order_confirm(tb)).await;
    dev.ping(1).await;
    assert_eq!(server.order(first).await["deliveries"], 2);
    assert_eq!(server.order(second).await["state"], "confirmed");
    server.stop().await;
}

#[tokio::test]
async fn nothing_acknowledged_is_lost_in_a_crash() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ngtt.db");
    let server = TestServer::start(&pki, &db, |_| {}).await;
    let confirmed = server.queue("dev1", read_order("A")).await;
    let unanswered = server.queue("dev1", read_order("B")).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (ta, _) = dev.recv_order().await;
    let (_tb, _) = dev.recv_order().await;
    dev.send(Frame::order_confirm(ta)).await;
    dev.send(Frame::data_stream(7, &[PathpointSeries::new("W1", [Sample::value(5, 1)])]).unwrap())
        .await;
    assert_eq!(dev.recv().await.kind, FrameType::DataStreamConfirm);
    // ORDER_CONFIRM was processed before the DATA_STREAM (one task, in order).
    let queued_late = server.queue("dev1", read_order("C")).await;
    dev.recv_order().await; // C sent, not confirmed

    server.crash().await;
    drop(dev);

    let server = TestServer::start(&pki, &db, |_| {}).await;
    assert_eq!(server.order(confirmed).await["state"], "confirmed");
    assert_eq!(server.order(unanswered).await["state"], "sent");
    assert_eq!(server.order(queued_late).await["state"], "sent");
    let (_, stored) = server.get("/v1/devices/dev1/pathpoints?path=W1").await;
    assert_eq!(stored[0]["values"], serde_json::json!([[5, 1]]));

    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (_, sb) = dev.recv_order().await;
    let (_, sc) = dev.recv_order().await;
    assert_eq!((read_path(&sb), read_path(&sc)), ("B".into(), "C".into()));
    dev.expect_silence(std::time::Duration::from_millis(200)).await;
    server.stop().await;
}

#[tokio::test]
async fn port_in_use_is_a_bind_error() {
    // Binding errors are reported, not panics.
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("a.db"), |_| {}).await;
    let mut clash = server_config(&pki, &dir.path().join("b.db"));
    clash.listen = server.addr;
    let err = Server::bind(clash).await.expect_err("port in use");
    assert!(matches!(err, ServerError::Bind { what: "NGTT", .. }), "{err}");
    server.stop().await;
}
