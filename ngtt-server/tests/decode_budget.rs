//! A LOGS frame whose decoded form would be many times its size (a list of `null`s) is
//! dropped before it is decoded, over a real connection that stays usable.

use ngtt_proto::payload::{Level, LogRecord};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{eventually, TestPki, TestServer};

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
