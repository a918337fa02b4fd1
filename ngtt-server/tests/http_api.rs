//! The device HTTP API over real HTTPS with client certificates: every endpoint, MiniJSON and
//! JSON bodies, `Accept: application/minijson`, 4xx on bad bodies, and how order polling
//! interacts with NGTT.

use std::time::Duration;

use ngtt_proto::payload::{Level, LogRecord, PathpointSeries, Sample};
use ngtt_proto::Frame;
use ngtt_testkit::MINIJSON;
use ngtt_testkit::{http_device as device, http_server as start, read_order, read_path, TestPki, TestServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn orders_handed_out_are_confirmed_and_never_sent_over_ngtt() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    assert_eq!(
        dev.simple(Method::POST, "/v1/device/orders").await.body,
        json!([])
    );

    let a = server.queue("dev1", read_order("W1")).await;
    let two = json!([{"orders": [{"type": "message", "uuid": "m-1"}], "disposition": 1},
                     {"orders": [{"type": "wait", "time": 0.5}]}]);
    let b = server.queue("dev1", two).await;
    server.queue("dev2", read_order("W9")).await;

    let answer = dev.simple(Method::POST, "/v1/device/orders").await;
    assert_eq!(answer.status, 200);
    let sections = answer.body.as_array().expect("a list").clone();
    assert_eq!(sections.len(), 3, "{sections:?}");
    assert_eq!(sections[0]["orders"][0]["path"], "W1");
    assert_eq!(sections[1]["orders"][0]["uuid"], "m-1");
    assert_eq!(sections[1]["disposition"], 1);
    assert_eq!(sections[2]["orders"][0]["type"], "wait");
    for id in [a, b] {
        let order = server.order(id).await;
        assert_eq!(order["state"], "confirmed", "{order}");
        assert_eq!(order["answered_via"], "http");
        assert_eq!(order["deliveries"], 1);
    }
    assert_eq!(
        dev.simple(Method::POST, "/v1/device/orders").await.body,
        json!([])
    );

    // The same device over NGTT: nothing left to deliver.
    let mut ngtt = server.device(&pki, "dev1").await;
    ngtt.fetch_orders().await;
    ngtt.expect_silence(Duration::from_millis(400)).await;
    server.stop().await;
}

#[tokio::test]
async fn orders_of_a_live_ngtt_connection_stay_there() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    // Without the grace period a connection that never sends FETCH_ORDERS is data-only.
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
        c.fetch_grace = None;
    })
    .await;
    let dev = device(&server, &pki, "dev1");

    // A data-only NGTT connection (no FETCH_ORDERS) does not take orders: HTTP hands them out.
    let mut ngtt = server.device(&pki, "dev1").await;
    ngtt.ping(1).await;
    let first = server.queue("dev1", read_order("W1")).await;
    let answer = dev.simple(Method::POST, "/v1/device/orders").await;
    assert_eq!(answer.body.as_array().map(Vec::len), Some(1));
    assert_eq!(server.order(first).await["answered_via"], "http");

    // Once the connection asked for orders, they are NGTT's: HTTP hands out nothing.
    ngtt.fetch_orders().await;
    ngtt.ping(2).await;
    let second = server.queue("dev1", read_order("W2")).await;
    let (tid, sections) = ngtt.recv_order().await;
    assert_eq!(read_path(&sections), "W2");
    let third = server.queue("dev1", read_order("W3")).await;
    ngtt.recv_order().await;
    assert_eq!(
        dev.simple(Method::POST, "/v1/device/orders").await.body,
        json!([])
    );
    assert_eq!(server.order(second).await["state"], "sent");
    ngtt.send(Frame::order_confirm(tid)).await;
    ngtt.ping(3).await;
    assert_eq!(server.order(second).await["answered_via"], "ngtt");

    // The connection goes away with `third` unanswered: HTTP hands it out now (at least once).
    drop(ngtt);
    ngtt_testkit::eventually(|| async { server.handle.connected_devices().is_empty().then_some(()) }).await;
    let answer = dev.simple(Method::POST, "/v1/device/orders").await;
    assert_eq!(answer.body[0]["orders"][0]["path"], "W3", "{:?}", answer.body);
    let order = server.order(third).await;
    assert_eq!(
        (order["state"].as_str(), order["deliveries"].as_i64()),
        (Some("confirmed"), Some(2))
    );
    server.stop().await;
}

#[tokio::test]
async fn message_reports_are_recorded() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let path = "/v1/device/orders/message/6f1c2a7e-0000-4000-8000-000000000001";
    let first = dev.simple(Method::POST, path).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["new"], true);
    assert_eq!(dev.simple(Method::POST, path).await.body["new"], false);
    assert_eq!(dev.simple(Method::GET, path).await.status, 405);
    assert_eq!(dev.simple(Method::GET, "/v1/nothing").await.status, 404);

    let (status, list) = server.get("/v1/devices/dev1/messages").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["uuid"], "6f1c2a7e-0000-4000-8000-000000000001");
    assert!(list[0]["reported_at"].as_i64().unwrap() > 0);
    server.stop().await;
}

#[tokio::test]
async fn pathpoint_uploads_in_minijson_and_json() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");

    let upload = vec![PathpointSeries::new(
        "W1",
        [Sample::value(1000, 5), Sample::value(2000, 6)],
    )];
    let answer = dev.minijson(Method::POST, "/v1/device/pathpoints", &upload).await;
    assert_eq!((answer.status, answer.body.clone()), (200, json!({"stored": 2})));
    let again = dev.minijson(Method::POST, "/v1/device/pathpoints", &upload).await;
    assert_eq!(
        again.body,
        json!({"stored": 0}),
        "a re-sent upload is stored once"
    );
    let as_json = json!([{"path": "fA", "values": [[3000, 2.5], [false, 4000, "timeout"]]}]);
    let answer = dev.json(Method::POST, "/v1/device/pathpoints", &as_json).await;
    assert_eq!((answer.status, answer.body.clone()), (200, json!({"stored": 2})));

    let (_, stored) = server.get("/v1/devices/dev1/pathpoints").await;
    assert_eq!(
        stored,
        json!([{"path": "W1", "values": [[1000, 5], [2000, 6]]},
               {"path": "fA", "values": [[3000, 2.5], [false, 4000, "timeout"]]}])
    );

    // Bad bodies: 4xx with a reason, in the negotiated encoding; nothing stored.
    let bad = dev
        .json(Method::POST, "/v1/device/pathpoints", &json!({"path": "W1"}))
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["status"].as_str().unwrap().contains("pathpoint series"),
        "{:?}",
        bad.body
    );
    let bad = dev
        .call(
            Method::POST,
            "/v1/device/pathpoints",
            Some((MINIJSON, vec![0xFF, 0x00])),
            &[("accept", MINIJSON.into())],
        )
        .await;
    assert_eq!((bad.status, bad.content_type.as_str()), (400, MINIJSON));
    assert!(bad.body["status"].is_string());
    let bad = dev
        .call(
            Method::POST,
            "/v1/device/pathpoints",
            Some(("text/plain", b"[]".to_vec())),
            &[],
        )
        .await;
    assert_eq!(bad.status, 415);
    let huge = vec![b' '; ngtt_server::MAX_HTTP_BODY + 1];
    let bad = dev
        .call(
            Method::POST,
            "/v1/device/pathpoints",
            Some(("application/json", huge)),
            &[],
        )
        .await;
    assert_eq!(bad.status, 413);
    let (_, stored) = server.get("/v1/devices/dev1/pathpoints").await;
    assert_eq!(stored.as_array().map(Vec::len), Some(2));
    server.stop().await;
}

/// HTTP-API.md §7.3: the published client drops a whole batch on a 4xx, so a batch with one
/// malformed series stores the others, answers 2xx and names what it skipped.
#[tokio::test]
async fn one_bad_series_does_not_cost_the_others() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let batch = json!([
        {"path": "W1", "values": [[1000, 5]]},
        {"path": "W2", "values": [{"timestamp": 1000}]},
        {"values": [[1000, 1]]},
        {"path": "W3", "values": [{"timestamp": 2000, "value": 7}]}
    ]);
    let answer = dev.json(Method::POST, "/v1/device/pathpoints", &batch).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["stored"], 2);
    let rejected = answer.body["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(
        (&rejected[0]["index"], &rejected[0]["path"]),
        (&json!(1), &json!("W2"))
    );
    assert!(rejected[0]["reason"]
        .as_str()
        .unwrap()
        .contains("neither value nor error_code"));
    assert_eq!(
        (&rejected[1]["index"], &rejected[1]["path"]),
        (&json!(2), &json!(null))
    );
    let (_, stored) = server.get("/v1/devices/dev1/pathpoints").await;
    let paths: Vec<&str> = stored
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["W1", "W3"]);

    // Every series malformed: nothing to store, so the batch is refused with the first reason.
    let all_bad = json!([{"path": "W4", "values": "none"}, {"path": "W5", "values": [[1]]}]);
    let answer = dev.json(Method::POST, "/v1/device/pathpoints", &all_bad).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body["status"].as_str().unwrap().contains("series 0"),
        "{:?}",
        answer.body
    );
    server.stop().await;
}

#[tokio::test]
async fn pathpoint_registration() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let given = json!([{"path": "W2", "storage_level": 1}, {"path": "B1", "storage_level": 0}]);
    let answer = dev.minijson(Method::PUT, "/v1/device/pathpoints", &given).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!([{"path": "B1", "storage_level": 0}, {"path": "W2", "storage_level": 1}])
    );
    let answer = dev
        .json(
            Method::PUT,
            "/v1/device/pathpoints",
            &json!([{"path": "W2", "storage_level": 0}]),
        )
        .await;
    assert_eq!(answer.body[1], json!({"path": "W2", "storage_level": 0}));
    let bad = dev
        .json(
            Method::PUT,
            "/v1/device/pathpoints",
            &json!([{"path": "W3", "storage_level": 7}]),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["status"].as_str().unwrap().contains("storage_level"));
    let bad = dev
        .json(
            Method::PUT,
            "/v1/device/pathpoints",
            &json!([{"storage_level": 0}]),
        )
        .await;
    assert_eq!(bad.status, 400);
    // Another device sees only its own.
    let other = device(&server, &pki, "dev2");
    assert_eq!(
        other
            .minijson(Method::PUT, "/v1/device/pathpoints", &json!([]))
            .await
            .body,
        json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn device_logs_are_stored() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let long = "x".repeat(5000);
    let records = vec![
        LogRecord::new("svc", 1, Level(20), "hello"),
        LogRecord::new("svc", 2, Level(40), long.clone()),
    ];
    let answer = dev
        .minijson(Method::PUT, "/v1/device/device_logs", &records)
        .await;
    assert_eq!(
        (answer.status, answer.body.clone()),
        (200, json!({"stored": 2, "skipped": 0}))
    );
    let mixed = json!([{"service": "j", "when": 3, "level": 10, "message": "json"}, {"nope": 1}]);
    let answer = dev.json(Method::PUT, "/v1/device/device_logs", &mixed).await;
    assert_eq!(answer.body, json!({"stored": 1, "skipped": 1}));
    let bad = dev
        .json(Method::PUT, "/v1/device/device_logs", &json!({"service": "x"}))
        .await;
    assert_eq!(bad.status, 400);

    let (_, logs) = server.get("/v1/devices/dev1/logs").await;
    let messages: Vec<&str> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["hello", long.as_str(), "json"]);
    server.stop().await;
}
