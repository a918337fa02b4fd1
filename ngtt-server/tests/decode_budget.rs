//! Payloads whose decoded form would be many times their size are refused before they are
//! decoded, over real sockets: a LOGS frame of `null`s (dropped, the connection stays usable),
//! a DATA_STREAM of tiny samples (rejected), device HTTP API bodies and admin bodies (413).

use ngtt_proto::payload::{Level, LogRecord, PathpointSeries, Sample};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{eventually, http_device, http_server, TestPki, TestServer};
use reqwest::Method;

#[tokio::test]
async fn logs_of_nulls_are_refused_before_decoding() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    // 4 Mi nulls: 4 MiB on the wire, ~130 MiB as values.
    let nulls = minijson::to_vec(&vec![(); 4 << 20]).unwrap();
    for _ in 0..3 {
        dev.send(Frame::new(FrameType::Logs, 0, nulls.clone())).await;
    }
    let record = LogRecord::new("boot", 1, Level::INFO, "started");
    let good = minijson::to_vec(&vec![minijson::to_value(&record).unwrap()]).unwrap();
    dev.send(Frame::new(FrameType::Logs, 0, good)).await;
    dev.ping(1).await;
    let logs = eventually(|| async {
        let (_, logs) = server.get("/v1/devices/dev1/logs?limit=10").await;
        (!logs.as_array().unwrap().is_empty()).then_some(logs)
    })
    .await;
    assert_eq!(logs.as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(logs[0]["message"], "started");
    server.stop().await;
}

/// 1 Mi samples of `[0, 0]`: 3 MiB as MiniJSON, ~45 MiB as samples.
fn tiny_samples() -> Vec<PathpointSeries> {
    vec![PathpointSeries::new(
        "W1",
        (0..1 << 20).map(|_| Sample::value(0, 0i64)),
    )]
}

#[tokio::test]
async fn a_data_stream_of_tiny_values_is_rejected_before_decoding() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    let payload = minijson::to_vec(&tiny_samples()).unwrap();
    dev.send(Frame::new(FrameType::DataStream, 5, payload)).await;
    let reject = dev.recv().await;
    assert_eq!((reject.kind, reject.tid), (FrameType::DataStreamReject, 5));
    let reason: String = reject.payload_as().unwrap();
    assert!(reason.contains("decode budget"), "{reason}");
    // The connection goes on: an ordinary upload is confirmed and stored.
    let good = vec![PathpointSeries::new(
        "W1",
        [Sample::value(1_700_000_000_000, 21.5)],
    )];
    dev.send(Frame::new(
        FrameType::DataStream,
        6,
        minijson::to_vec(&good).unwrap(),
    ))
    .await;
    let confirm = dev.recv().await;
    assert_eq!((confirm.kind, confirm.tid), (FrameType::DataStreamConfirm, 6));
    assert_eq!(server.stored_samples("dev1"), 1);
    server.stop().await;
}

#[tokio::test]
async fn device_http_bodies_over_the_decode_budget_are_refused_with_413() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = http_server(&pki, &dir).await;
    let dev = http_device(&server, &pki, "dev1");
    let answer = dev
        .minijson(Method::POST, "/v1/device/pathpoints", &tiny_samples())
        .await;
    assert_eq!(answer.status, 413, "{:?}", answer.body);
    assert!(answer.body["status"].as_str().unwrap().contains("decode budget"));
    let nulls = vec![(); 4 << 20];
    let answer = dev.minijson(Method::PUT, "/v1/device/device_logs", &nulls).await;
    assert_eq!(answer.status, 413, "{:?}", answer.body);
    // As JSON: a list of zeros takes 16x its size as values.
    let zeros = serde_json::to_vec(&vec![0u8; 4 << 20]).unwrap();
    let answer = dev
        .call(
            Method::PUT,
            "/v1/device/sensor/write_log",
            Some(("application/json", zeros)),
            &[],
        )
        .await;
    assert_eq!(answer.status, 413, "{:?}", answer.body);
    assert_eq!(server.stored_samples("dev1"), 0);
    // Ordinary bodies still pass.
    let good = vec![PathpointSeries::new(
        "W1",
        [Sample::value(1_700_000_000_000, 21.5)],
    )];
    let answer = dev.minijson(Method::POST, "/v1/device/pathpoints", &good).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(server.stored_samples("dev1"), 1);
    server.stop().await;
}

#[tokio::test]
async fn admin_bodies_over_the_decode_budget_are_refused_with_413() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    // 4 Mi zeros: 8 MiB of JSON, ~320 MiB as JSON values.
    let zeros = serde_json::to_vec(&vec![0u8; 4 << 20]).unwrap();
    let client = server.admin_client();
    for (method, path) in [
        (Method::POST, "/v1/devices/dev1/orders"),
        (Method::PUT, "/v1/devices/dev1/sensors"),
        (Method::PUT, "/v1/devices/dev1/archives"),
    ] {
        let response = client
            .request(method, format!("{}{path}", server.admin_url()))
            .header("content-type", "application/json")
            .body(zeros.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 413, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["status"].as_str().unwrap().contains("decode budget"),
            "{body}"
        );
    }
    // An ordinary order is queued.
    let order =
        serde_json::json!([{"orders": [{"type": "write", "path": "W1", "value": 5}], "disposition": 0}]);
    server.queue("dev1", order).await;
    server.stop().await;
}
