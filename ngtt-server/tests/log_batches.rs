//! Log records are stored in bounded batches, over real sockets: a LOGS frame and a
//! `PUT /v1/device/device_logs` request of 1000 records each, with batches of 10 records, are
//! stored whole, in (at least) 100 storage operations each — never one operation that holds
//! the writer for the whole upload.

use ngtt_proto::payload::{Level, LogRecord};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{eventually, http_device, TestPki, TestServer};
use reqwest::Method;

const RECORDS: usize = 1000;
const BATCH: usize = 10;

fn records(tag: &str) -> Vec<LogRecord> {
    (0..RECORDS)
        .map(|i| LogRecord::new("svc", i as u64, Level::INFO, format!("{tag} {i}")))
        .collect()
}

#[tokio::test]
async fn large_log_uploads_are_stored_whole_in_bounded_batches() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().unwrap());
        c.budgets.log_batch_records = BATCH;
    })
    .await;
    let store = server.handle.store();

    // NGTT: one LOGS frame.
    let mut dev = server.device(&pki, "dev1").await;
    dev.ping(1).await;
    let before = store.stats().ops;
    let payload = minijson::to_vec(&records("ngtt")).unwrap();
    dev.send(Frame::new(FrameType::Logs, 0, payload)).await;
    dev.ping(2).await;
    let storage = server.handle.storage();
    eventually(|| async { (storage.read_logs("dev1", 2 * RECORDS).unwrap().len() == RECORDS).then_some(()) })
        .await;
    let ops = store.stats().ops - before;
    assert!(ops >= (RECORDS / BATCH) as u64, "{ops} storage operations");
    let logs = storage.read_logs("dev1", 2 * RECORDS).unwrap();
    assert_eq!(logs[0].message, "ngtt 0");
    assert_eq!(logs[RECORDS - 1].message, format!("ngtt {}", RECORDS - 1));

    // HTTP: answered only once every batch committed.
    let http = http_device(&server, &pki, "dev2");
    let before = store.stats().ops;
    let answer = http
        .minijson(Method::PUT, "/v1/device/device_logs", &records("http"))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["stored"], RECORDS);
    let ops = store.stats().ops - before;
    assert!(ops >= (RECORDS / BATCH) as u64, "{ops} storage operations");
    assert_eq!(storage.read_logs("dev2", 2 * RECORDS).unwrap().len(), RECORDS);
    server.stop().await;
}
