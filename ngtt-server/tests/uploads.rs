//! Device-to-server traffic: DATA_STREAM, LOGS, PING, unknown frames, idle connections.

use std::time::Duration;

use ngtt_proto::payload::{Level, LogRecord, PathpointSeries, ReadError, Sample};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{eventually, TestPki, TestServer};
use serde_json::json;

#[tokio::test]
async fn upload_confirmed_after_it_is_stored() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    let series = vec![
        PathpointSeries::new(
            "W1r4002",
            [
                Sample::value(1_700_000_000_000, 25),
                Sample::value(1_700_000_001_000, 26),
            ],
        ),
        PathpointSeries::new(
            "fTemp",
            [
                Sample::value(1_700_000_000_000, 2.5),
                Sample::error(1_700_000_001_000, ReadError::Timeout),
            ],
        ),
    ];
    dev.send(Frame::data_stream(41, &series).unwrap()).await;
    let answer = dev.recv().await;
    assert_eq!((answer.kind, answer.tid), (FrameType::DataStreamConfirm, 41));
    assert!(answer.payload.is_empty());

    // Stored before the confirmation: readable at once.
    let (status, body) = server.get("/v1/devices/dev1/pathpoints?path=W1r4002").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([{"path": "W1r4002", "values": [[1_700_000_000_000u64, 25], [1_700_000_001_000u64, 26]]}])
    );
    let (_, all) = server.get("/v1/devices/dev1/pathpoints").await;
    assert_eq!(
        all[1],
        json!({"path": "fTemp", "values": [[1_700_000_000_000u64, 2.5], [false, 1_700_000_001_000u64, "timeout"]]})
    );
    let (_, window) = server
        .get("/v1/devices/dev1/pathpoints?path=W1r4002&from=1700000000500&limit=10")
        .await;
    assert_eq!(window[0]["values"], json!([[1_700_000_001_000u64, 26]]));

    // The same upload again (a lost confirmation): confirmed, stored once.
    dev.send(Frame::data_stream(42, &series).unwrap()).await;
    assert_eq!(dev.recv().await.kind, FrameType::DataStreamConfirm);
    let (_, again) = server.get("/v1/devices/dev1/pathpoints?path=W1r4002").await;
    assert_eq!(again[0]["values"].as_array().unwrap().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn invalid_upload_rejected_with_reason() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    let cases: [(u16, Vec<u8>); 4] = [
        (1, minijson::to_vec(&json!({"path": "W1"})).unwrap()),
        (
            2,
            minijson::to_vec(&json!([{"path": "W1", "values": [["x", 1]]}])).unwrap(),
        ),
        (3, vec![0x1c, 0xff]), // not MiniJSON
        (4, Vec::new()),       // no payload
    ];
    for (tid, payload) in cases {
        dev.send(Frame::new(FrameType::DataStream, tid, payload)).await;
        let answer = dev.recv().await;
        assert_eq!((answer.kind, answer.tid), (FrameType::DataStreamReject, tid));
        let reason: String = answer.payload_as().expect("a MiniJSON string reason");
        assert!(reason.contains("not a list of pathpoint series"), "{reason}");
    }
    dev.ping(9).await;
    let (_, stored) = server.get("/v1/devices/dev1/pathpoints").await;
    assert_eq!(stored, json!([]));
    server.stop().await;
}

#[tokio::test]
async fn logs_are_stored_decompressed() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    let long = "temperature sensor timeout; ".repeat(100);
    let failing = LogRecord::new("modbus", 2, Level::ERROR, "read failed").with_exception(
        "TimeoutError: unit 7",
        br#"{"frames": [], "formatted_traceback": "tb"}"#,
    );
    let records = [
        LogRecord::new("boot", 1, Level::INFO, "started"),
        failing,
        LogRecord::new("big", 3, Level::WARNING, long.clone()),
    ];
    assert!(matches!(
        records[2].message,
        ngtt_proto::payload::LogMessage::Encoded { .. }
    ));
    // One invalid record among valid ones is skipped; the rest is stored.
    let mut payload: Vec<minijson::Value> = records.iter().map(|r| minijson::to_value(r).unwrap()).collect();
    payload.insert(1, minijson::to_value(&json!({"service": "x"})).unwrap());
    dev.send(Frame::new(
        FrameType::Logs,
        0,
        minijson::to_vec(&payload).unwrap(),
    ))
    .await;
    dev.ping(1).await;

    let logs = eventually(|| async {
        let (_, logs) = server.get("/v1/devices/dev1/logs?limit=10").await;
        (logs.as_array().unwrap().len() == 3).then_some(logs)
    })
    .await;
    assert_eq!(logs[0]["message"], "started");
    assert_eq!(logs[0]["level"], 20);
    assert_eq!(logs[0]["when"], 1);
    assert_eq!(logs[1]["exception_text"], "TimeoutError: unit 7");
    assert_eq!(
        logs[1]["exception_traceback"],
        json!({"frames": [], "formatted_traceback": "tb"})
    );
    assert_eq!(logs[0]["exception_traceback"], json!(null));
    assert_eq!(logs[2]["message"], long.as_str());
    let (_, last) = server.get("/v1/devices/dev1/logs?limit=1").await;
    assert_eq!(last[0]["service"], "big");
    server.stop().await;
}

#[tokio::test]
async fn undecodable_logs_close_only_that_connection() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut bad = server.device(&pki, "bad").await;
    let mut good = server.device(&pki, "good").await;
    bad.send(Frame::new(FrameType::Logs, 0, vec![0x1c])).await;
    bad.expect_closed().await;
    good.ping(1).await;
    server.stop().await;
}

#[tokio::test]
async fn pings_are_echoed() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    dev.send(Frame::ping(7)).await;
    assert_eq!(dev.recv().await, Frame::ping(7));
    // The spec's example frame: PING tid 1 with the bytes "AL", echoed as is.
    let with_payload = Frame::new(FrameType::Ping, 1, &b"AL"[..]);
    dev.send(with_payload.clone()).await;
    assert_eq!(dev.recv().await, with_payload);
    server.stop().await;
}

#[tokio::test]
async fn unknown_frame_types_are_ignored() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "dev1").await;
    for _ in 0..3 {
        dev.send(Frame::new(FrameType::Unknown(77), 5, &b"\x80"[..]))
            .await;
    }
    dev.send(Frame::new(FrameType::Unknown(0xFFFF), 0, Vec::new()))
        .await;
    dev.ping(1).await;
    // A BAOB sync is answered (from the BAOB store: the device holds "a" the server lacks).
    dev.send(Frame::new(
        FrameType::SyncBaobRequest,
        4,
        minijson::to_vec(&json!({"a": 1})).unwrap(),
    ))
    .await;
    let answer = dev.recv().await;
    assert_eq!((answer.kind, answer.tid), (FrameType::SyncBaobResponse, 4));
    server.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| {
        c.idle_timeout = Duration::from_millis(600)
    })
    .await;
    let mut idle = server.device(&pki, "idle").await;
    let mut busy = server.device(&pki, "busy").await;
    let started = tokio::time::Instant::now();
    // The busy device keeps talking past the idle timeout and stays connected.
    for tid in 1..=6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        busy.ping(tid).await;
    }
    assert!(idle.expect_closed().await, "closed with close_notify");
    assert!(started.elapsed() >= Duration::from_millis(600));
    busy.ping(7).await;
    server.stop().await;
}
