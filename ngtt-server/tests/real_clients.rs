//! The published clients as they are (NGTT.md §3, §4.1, §6, §8): orders without FETCH_ORDERS,
//! ORDER tids that do not restart per connection, several listeners, `exception_text` and
//! `exception_traceback` in logs, and map-form pathpoint samples — over real TLS.

use std::time::Duration;

use ngtt_proto::payload::{Level, LogRecord};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{eventually, read_order, read_path, HttpDevice, RawDevice, TestPki, TestServer};
use reqwest::Method;
use serde_json::json;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn orders_flow_without_fetch_orders_after_the_grace() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    // The default grace (1 s).
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let a = server.queue("rev1", read_order("A")).await;
    let b = server.queue("rev1", read_order("B")).await;
    let mut dev = server.device(&pki, "rev1").await;
    let started = tokio::time::Instant::now();
    let (ta, sa) = dev.recv_order().await;
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "not before the grace"
    );
    let (tb, sb) = dev.recv_order().await;
    assert_eq!((read_path(&sa), read_path(&sb)), ("A".into(), "B".into()));
    // Orders queued later flow at once, as after FETCH_ORDERS.
    let c = server.queue("rev1", read_order("C")).await;
    let (tc, sc) = dev.recv_order().await;
    assert_eq!(read_path(&sc), "C");
    for tid in [ta, tb, tc] {
        dev.send(Frame::order_confirm(tid)).await;
    }
    dev.ping(1).await;
    for id in [a, b, c] {
        assert_eq!(server.order(id).await["state"], "confirmed");
    }
    server.stop().await;
}

#[tokio::test]
async fn fetch_orders_and_the_grace_deliver_each_order_once() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| {
        c.fetch_grace = Some(Duration::from_millis(300));
    })
    .await;
    let ids = [
        server.queue("dev1", read_order("A")).await,
        server.queue("dev1", read_order("B")).await,
    ];
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (ta, _) = dev.recv_order().await;
    let (tb, _) = dev.recv_order().await;
    // Neither the grace's end nor a second FETCH_ORDERS sends them again on this connection.
    tokio::time::sleep(Duration::from_millis(400)).await;
    dev.fetch_orders().await;
    dev.expect_silence(QUIET).await;
    dev.send(Frame::order_confirm(ta)).await;
    dev.send(Frame::order_confirm(tb)).await;
    dev.ping(1).await;
    for id in ids {
        let order = server.order(id).await;
        assert_eq!(
            (order["state"].as_str(), order["deliveries"].as_i64()),
            (Some("confirmed"), Some(1))
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_repeated_confirm_after_reconnecting_confirms_nothing_else() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let first = server.queue("dev1", read_order("first")).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (t1, _) = dev.recv_order().await;
    dev.send(Frame::order_confirm(t1)).await;
    dev.ping(1).await;
    assert_eq!(server.order(first).await["state"], "confirmed");
    drop(dev); // the link is lost: the device cannot know whether its confirm arrived
               // Queued once the server has seen the close: queued before, it could still be handed to the
               // dying connection, one delivery more than this test counts.
    server.until_disconnected("dev1").await;

    let second = server.queue("dev1", read_order("second")).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (t2, sections) = dev.recv_order().await;
    assert_eq!(read_path(&sections), "second");
    assert_ne!(t2, t1, "ORDER tids continue the device's sequence");
    dev.send(Frame::order_confirm(t1)).await; // the repeated confirm
    dev.ping(2).await;
    assert_eq!(
        server.order(second).await["state"],
        "sent",
        "not confirmed by a stale tid"
    );
    drop(dev);
    server.until_disconnected("dev1").await;

    // Still pending: delivered again on the next connection, and confirmable there.
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (t3, sections) = dev.recv_order().await;
    assert_eq!(read_path(&sections), "second");
    assert!(t3 != t1 && t3 != t2);
    dev.send(Frame::order_confirm(t3)).await;
    dev.ping(3).await;
    let order = server.order(second).await;
    assert_eq!(
        (order["state"].as_str(), order["deliveries"].as_i64()),
        (Some("confirmed"), Some(2))
    );
    server.stop().await;
}

#[tokio::test]
async fn order_tids_continue_after_a_restart() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let server = TestServer::start(&pki, &db, |_| {}).await;
    server.queue("dev1", read_order("A")).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (before, _) = dev.recv_order().await;
    drop(dev);
    server.stop().await;

    let server = TestServer::start(&pki, &db, |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.fetch_orders().await;
    let (after, sections) = dev.recv_order().await;
    assert_eq!(read_path(&sections), "A");
    assert_ne!(after, before);
    server.stop().await;
}

#[tokio::test]
async fn one_server_serves_several_listeners() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let mut config = ngtt_testkit::server_config(&pki, &dir.path().join("db"));
    config.extra_listen = vec!["127.0.0.1:0".parse().unwrap()];
    let server = ngtt_server::Server::bind(config).await.unwrap();
    let addrs = server.local_addrs().to_vec();
    assert_eq!(addrs.len(), 2);
    assert_eq!(addrs[0], server.local_addr());
    assert_ne!(addrs[0], addrs[1]);
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    let sections = minijson::to_vec(&minijson::Value::from(read_order("W1"))).unwrap();
    let id = handle.queue_order("old", sections).await.unwrap();
    let mut old = RawDevice::connect(addrs[1], &pki, Some(&pki.device("old")))
        .await
        .unwrap();
    let (tid, _) = old.recv_order().await; // the first revision: no FETCH_ORDERS
    old.send(Frame::order_confirm(tid)).await;
    let mut new = RawDevice::connect(addrs[0], &pki, Some(&pki.device("new")))
        .await
        .unwrap();
    new.ping(1).await;
    old.ping(2).await;
    let state = handle.storage().order(id).unwrap().unwrap().state;
    assert_eq!(state, ngtt_server::OrderState::Confirmed);
    handle.shutdown();
    task.await.unwrap().unwrap();
}

fn traceback_document() -> serde_json::Value {
    json!({
        "frames": [{"name": "read", "filename": "modbus.py", "line_no": 42, "locals": {}, "globals": {}}],
        "formatted_traceback": "Traceback (most recent call last):\n  File \"modbus.py\", line 42\nTimeoutError: unit 7\n"
    })
}

fn failing_record(when: u64) -> LogRecord {
    let doc = serde_json::to_vec(&traceback_document()).unwrap();
    LogRecord::new("modbus", when, Level::ERROR, "read failed").with_exception("TimeoutError: unit 7", &doc)
}

#[tokio::test]
async fn exception_fields_are_stored_and_shown_decoded_over_ngtt_and_http() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.send(Frame::logs(&[failing_record(1), LogRecord::new("boot", 2, Level::INFO, "plain")]).unwrap())
        .await;
    dev.ping(1).await;
    // Over HTTP, as the published client sends it: JSON, keys in its order.
    let http = HttpDevice::https(server.http.unwrap(), &pki, Some(&pki.device("dev1")));
    let record = serde_json::to_value(failing_record(3)).unwrap();
    let answer = http
        .json(Method::PUT, "/v1/device/device_logs", &json!([record]))
        .await;
    assert_eq!(answer.body, json!({"stored": 1, "skipped": 0}));

    let logs = eventually(|| async {
        let (_, logs) = server.get("/v1/devices/dev1/logs").await;
        (logs.as_array().unwrap().len() == 3).then_some(logs)
    })
    .await;
    for i in [0, 2] {
        assert_eq!(logs[i]["exception_text"], "TimeoutError: unit 7", "{logs}");
        assert_eq!(logs[i]["exception_traceback"], traceback_document(), "{logs}");
    }
    assert_eq!(logs[1]["exception_text"], json!(null));
    assert_eq!(logs[1]["exception_traceback"], json!(null));
    server.stop().await;
}

#[tokio::test]
async fn map_form_samples_are_stored_like_list_ones() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let list = json!([{"path": "W1", "values": [[1000, 5], [false, 2000, "timeout"]]}]);
    let map = json!([{"path": "W2", "values": [
        {"timestamp": 1000, "value": 5}, {"timestamp": 2000, "error_code": "timeout"}
    ]}]);
    let mut dev = server.device(&pki, "dev1").await;
    for (tid, payload) in [(1, &list), (2, &map)] {
        dev.send(Frame::new(
            FrameType::DataStream,
            tid,
            minijson::to_vec(payload).unwrap(),
        ))
        .await;
        assert_eq!(dev.recv().await.kind, FrameType::DataStreamConfirm);
    }
    let http = HttpDevice::https(server.http.unwrap(), &pki, Some(&pki.device("dev1")));
    let map_http = json!([{"path": "W3", "values": [
        {"timestamp": 1000, "value": 5}, {"timestamp": 2000, "error_code": "timeout"}
    ]}]);
    let answer = http.json(Method::POST, "/v1/device/pathpoints", &map_http).await;
    assert_eq!((answer.status, answer.body.clone()), (200, json!({"stored": 2})));
    let (_, stored) = server.get("/v1/devices/dev1/pathpoints").await;
    let values: Vec<&serde_json::Value> = stored.as_array().unwrap().iter().map(|s| &s["values"]).collect();
    assert_eq!(values.len(), 3, "{stored}");
    assert!(values.iter().all(|v| *v == &list[0]["values"]), "{stored}");

    // Malformed map samples: rejected with a reason, nothing stored.
    let bad = json!([{"path": "W4", "values": [{"timestamp": 1000}]}]);
    dev.send(Frame::new(
        FrameType::DataStream,
        3,
        minijson::to_vec(&bad).unwrap(),
    ))
    .await;
    let answer = dev.recv().await;
    assert_eq!((answer.kind, answer.tid), (FrameType::DataStreamReject, 3));
    let reason: String = answer.payload_as().unwrap();
    assert!(reason.contains("neither value nor error_code"), "{reason}");
    let bad = json!([{"path": "W4", "values": [{"timestamp": 1000, "value": 1, "colour": "red"}]}]);
    let answer = http.json(Method::POST, "/v1/device/pathpoints", &bad).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body["status"]
            .as_str()
            .unwrap()
            .contains("unknown key \"colour\""),
        "{:?}",
        answer.body
    );
    let (_, stored) = server.get("/v1/devices/dev1/pathpoints?path=W4").await;
    assert_eq!(stored, json!([]));
    server.stop().await;
}
