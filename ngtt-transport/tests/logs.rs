//! Log batches with a proof of reading (`Transport::send_logs_confirmed`) over real TLS:
//! confirmed by the echo of the PING written after them, sent again after a reconnect until
//! then, and — against a real server — stored once confirmed.

use ngtt_proto::payload::{Level, LogRecord};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{
    close_gracefully, device_config, init_logging, Conn, ScriptedLink, ScriptedServer, TestPki, TestServer,
    PATIENCE,
};
use ngtt_transport::{Transport, TransportError};

fn records(range: std::ops::Range<u64>) -> Vec<LogRecord> {
    range
        .map(|n| LogRecord::new("test", n, Level::WARNING, format!("record {n}")))
        .collect()
}

/// Reads LOGS frames up to the PING after them: their records and the PING's tid.
async fn recv_batch(conn: &mut Conn) -> (Vec<LogRecord>, u16) {
    let mut got = Vec::new();
    loop {
        let frame = conn.recv().await;
        match frame.kind {
            FrameType::Logs => got.extend(frame.payload_as::<Vec<LogRecord>>().expect("log records")),
            FrameType::Ping => return (got, frame.tid),
            FrameType::FetchOrders => {}
            other => panic!("unexpected {other}"),
        }
    }
}

#[tokio::test]
async fn a_batch_is_confirmed_by_the_echo_of_the_ping_after_it() {
    // Frames of about 200 bytes: the batch goes out as several LOGS frames, one PING after all.
    let (transport, _orders, mut conn, _server) = ScriptedLink::start(|mut c| {
        c.log_batch_bytes = 200;
        c.with_fetch_orders(false)
    })
    .await
    .into_parts();
    let batch = tokio::spawn(transport.send_logs_confirmed(records(0..5)));
    let mut frames = 0;
    let mut got = Vec::new();
    let tid = loop {
        let frame = conn.recv().await;
        match frame.kind {
            FrameType::Logs => {
                frames += 1;
                got.extend(frame.payload_as::<Vec<LogRecord>>().expect("log records"));
            }
            FrameType::Ping => break frame.tid,
            other => panic!("unexpected {other}"),
        }
    };
    assert_eq!(got, records(0..5));
    assert!(frames > 1, "{frames} frame(s)");
    assert!(!batch.is_finished(), "not confirmed before the echo");
    conn.send(Frame::ping(tid)).await;
    batch.await.expect("join").expect("confirmed");
    let stats = transport.stats();
    assert_eq!((stats.logs_confirmed, stats.logs_sent), (5, 0));
    assert_eq!(stats.uploads_pending, 0, "its room is given back");
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn a_batch_unconfirmed_when_its_connection_drops_is_sent_again() {
    init_logging();
    let pki = TestPki::new();
    let server = ScriptedServer::start(&pki).await;
    let (transport, _orders) = Transport::spawn(device_config(&pki, "dev-1", server.addr)).expect("spawn");
    let first = tokio::spawn(transport.send_logs_confirmed(records(0..3)));
    let mut conn = server.accept().await;
    let (got, _tid) = recv_batch(&mut conn).await;
    assert_eq!(got, records(0..3));
    // The connection drops before the echo: the server may or may not have read the batch.
    drop(conn);
    let second = tokio::spawn(transport.send_logs_confirmed(records(3..4)));
    let mut conn = server.accept().await;
    let (got, tid) = recv_batch(&mut conn).await;
    assert_eq!(got, records(0..4), "both batches, in order, one PING");
    assert!(!first.is_finished() && !second.is_finished());
    conn.send(Frame::ping(tid)).await;
    first.await.expect("join").expect("confirmed");
    second.await.expect("join").expect("confirmed");
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn unconfirmed_batches_fail_on_close_and_oversized_records_at_once() {
    let (transport, _orders, mut conn, _server) =
        ScriptedLink::start(|c| c.with_fetch_orders(false).with_max_frame_len(500))
            .await
            .into_parts();
    // Under the compression threshold: sent as it is.
    let big = LogRecord::new("test", 1, Level::INFO, "x".repeat(900));
    let err = transport
        .send_logs_confirmed(vec![big])
        .await
        .expect_err("larger than a frame");
    assert!(
        matches!(err, TransportError::UploadTooLarge { max: 500, .. }),
        "{err}"
    );
    let batch = tokio::spawn(transport.send_logs_confirmed(records(0..2)));
    let (got, _tid) = recv_batch(&mut conn).await;
    assert_eq!(got, records(0..2));
    let (outcome, _) = close_gracefully(&transport, conn).await;
    assert!(outcome.flushed);
    let err = batch.await.expect("join").expect_err("never confirmed");
    assert!(matches!(err, TransportError::Closed), "{err}");
}

#[tokio::test]
async fn a_real_server_has_stored_a_batch_once_it_is_confirmed() {
    init_logging();
    let pki = TestPki::new();
    let server = TestServer::start(&pki, pki.scratch("db"), |_| {}).await;
    let (transport, _orders) = Transport::spawn(device_config(&pki, "dev-1", server.addr)).expect("spawn");
    for round in 0..3 {
        let batch = records(round * 100..round * 100 + 100);
        transport.send_logs_confirmed(batch).await.expect("confirmed");
        // No waiting: confirmed means the server read the frames, and it stores LOGS before
        // it reads the next frame.
        let stored = server.handle.storage().read_logs("dev-1", 1000).unwrap();
        assert_eq!(stored.len() as u64, round * 100 + 100, "round {round}");
    }
    let stored = server.handle.storage().read_logs("dev-1", 1000).unwrap();
    let whens: Vec<u64> = stored.iter().map(|l| l.when_us).collect();
    assert_eq!(whens, (0..300).collect::<Vec<_>>());
    assert_eq!(transport.stats().logs_confirmed, 300);
    transport.close(PATIENCE).await;
    server.stop().await;
}
