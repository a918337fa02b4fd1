//! Pathpoint uploads over real TLS: confirmed, rejected, and replayed across reconnects.

use std::time::Duration;

use ngtt_proto::payload::{PathpointSeries, ReadError, Sample};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{
    close_gracefully, device_config, init_logging, Conn, ScriptedLink, ScriptedServer, TestPki, PATIENCE,
};
use ngtt_transport::{Transport, TransportError, UploadLimits};

fn series(n: i64) -> Vec<PathpointSeries> {
    vec![
        PathpointSeries::new("W1", [Sample::value(1_700_000_000_000, n)]),
        PathpointSeries::new("fTemp", [Sample::error(1_700_000_000_500, ReadError::Timeout)]),
    ]
}

/// The next DATA_STREAM: its tid and decoded series.
async fn recv_upload(conn: &mut Conn) -> (u16, Vec<PathpointSeries>) {
    let frame = conn.recv_answering_pings().await;
    assert_eq!(frame.kind, FrameType::DataStream, "{frame:?}");
    (frame.tid, frame.payload_as().expect("a list of series"))
}

#[tokio::test]
async fn confirmed_upload_resolves_ok() {
    let (transport, _orders, mut conn, _server) = ScriptedLink::start(|c| c.with_fetch_orders(false))
        .await
        .into_parts();
    let upload = tokio::spawn(transport.sync_pathpoints(series(1)));
    let (tid, got) = recv_upload(&mut conn).await;
    assert_eq!(got, series(1));
    assert!((1..=0x7FFF).contains(&tid));
    conn.send(Frame::data_stream_confirm(tid)).await;
    upload.await.expect("join").expect("confirmed");
    assert_eq!(transport.stats().uploads_confirmed, 1);
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn rejected_upload_says_why() {
    let (transport, _orders, mut conn, server) = ScriptedLink::start(|c| c.with_fetch_orders(false))
        .await
        .into_parts();
    let with_reason = tokio::spawn(transport.sync_pathpoints(series(1)));
    let without_reason = tokio::spawn(transport.sync_pathpoints(series(2)));
    let (first, _) = recv_upload(&mut conn).await;
    let (second, _) = recv_upload(&mut conn).await;
    conn.send(Frame::data_stream_reject_because(first, "unknown pathpoint W1").expect("encodes"))
        .await;
    conn.send(Frame::data_stream_reject(second)).await;
    let err = with_reason.await.expect("join").expect_err("refused");
    assert!(err.is_refused() && !err.is_no_link());
    assert!(matches!(&err, TransportError::Refused { reason: Some(r) } if r == "unknown pathpoint W1"));
    let err = without_reason.await.expect("join").expect_err("refused");
    assert!(matches!(err, TransportError::Refused { reason: None }));
    // A refused upload is never sent again, even after a reconnect.
    drop(conn);
    let mut conn = server.accept().await;
    conn.expect_silence(Duration::from_millis(200)).await;
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn unanswered_uploads_are_resent_once_per_connection_until_confirmed() {
    init_logging();
    let pki = TestPki::new();
    let server = ScriptedServer::start(&pki).await;
    let (transport, _orders) = Transport::spawn(device_config(&pki, "dev-1", server.addr)).expect("spawn");
    let first = tokio::spawn(transport.sync_pathpoints(series(1)));
    let second = tokio::spawn(transport.sync_pathpoints(series(2)));

    let mut tids = Vec::new();
    for round in 0..3 {
        let mut conn = server.accept().await;
        assert_eq!(conn.recv().await, Frame::fetch_orders(), "round {round}");
        let (a, got_a) = recv_upload(&mut conn).await;
        let (b, got_b) = recv_upload(&mut conn).await;
        assert_eq!(
            (got_a, got_b),
            (series(1), series(2)),
            "original order, round {round}"
        );
        tids.extend([a, b]);
        if round < 2 {
            // Exactly once per connection: nothing more until the server answers.
            conn.expect_silence(Duration::from_millis(150)).await;
            drop(conn); // cut without answering
            continue;
        }
        conn.send(Frame::data_stream_confirm(b)).await;
        conn.send(Frame::data_stream_confirm(a)).await;
        tokio::time::timeout(PATIENCE, second)
            .await
            .expect("in time")
            .expect("join")
            .expect("confirmed");
        tokio::time::timeout(PATIENCE, first)
            .await
            .expect("in time")
            .expect("join")
            .expect("confirmed");
        assert!(close_gracefully(&transport, conn).await.0.flushed);
        break;
    }
    let mut unique = tids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 6, "a new tid every time: {tids:?}");
    let stats = transport.stats();
    assert_eq!((stats.connects, stats.drops, stats.uploads_confirmed), (3, 2, 2));
}

#[tokio::test]
async fn an_upload_made_offline_waits_for_the_connection() {
    init_logging();
    let pki = TestPki::new();
    let server = ScriptedServer::start(&pki).await;
    let config = device_config(&pki, "dev-1", server.addr).with_fetch_orders(false);
    let (transport, _orders) = Transport::spawn(config).expect("spawn");
    // The handshake cannot complete before the server accepts.
    let upload = tokio::spawn(transport.sync_pathpoints(series(5)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!transport.state().is_connected());
    let mut conn = server.accept().await;
    let (tid, got) = recv_upload(&mut conn).await;
    assert_eq!(got, series(5));
    conn.send(Frame::data_stream_confirm(tid)).await;
    upload.await.expect("join").expect("confirmed");
    // After closing, uploads fail at once.
    assert!(close_gracefully(&transport, conn).await.0.flushed);
    let err = transport.sync_pathpoints(series(6)).await.expect_err("closed");
    assert!(matches!(err, TransportError::Closed));
}

#[tokio::test]
async fn an_upload_larger_than_a_frame_is_refused_before_it_is_sent() {
    let (transport, _orders, mut conn, _server) =
        ScriptedLink::start(|c| c.with_fetch_orders(false).with_max_frame_len(1024))
            .await
            .into_parts();
    let big = vec![PathpointSeries::new(
        "W1",
        (0..500).map(|k| Sample::value(1_700_000_000_000 + k, 1)),
    )];
    let err = transport.sync_pathpoints(big).await.expect_err("too large");
    assert!(
        matches!(err, TransportError::UploadTooLarge { max: 1024, .. }),
        "{err}"
    );
    assert!(err.is_refused() && !err.is_no_link());
    // The connection is untouched: a small upload after it goes through as the first frame.
    let upload = tokio::spawn(transport.sync_pathpoints(series(3)));
    let (tid, got) = recv_upload(&mut conn).await;
    assert_eq!(got, series(3));
    conn.send(Frame::data_stream_confirm(tid)).await;
    upload.await.expect("join").expect("confirmed");
    assert_eq!(transport.stats().connects, 1);
    close_gracefully(&transport, conn).await;
}

#[tokio::test]
async fn uploads_made_offline_past_the_limit_wait_or_fail_and_each_is_confirmed_once() {
    init_logging();
    let pki = TestPki::new();
    let server = ScriptedServer::start(&pki).await;
    let one = minijson::to_vec(&series(0)).expect("encodes").len();
    let limits = UploadLimits {
        max_count: 5,
        max_bytes: 5 * one + one / 2,
    };
    let config = device_config(&pki, "dev-1", server.addr)
        .with_fetch_orders(false)
        .with_upload_limits(limits);
    let (transport, _orders) = Transport::spawn(config).expect("spawn");
    // Offline (the server does not accept yet): five uploads fill the room.
    let mut accepted: Vec<_> = (0..5)
        .map(|n| tokio::spawn(transport.sync_pathpoints(series(n))))
        .collect();
    let stats = transport.stats();
    assert_eq!(stats.uploads_pending, 5);
    assert!(stats.uploads_pending_bytes as usize <= limits.max_bytes);
    // No room: the caller's choice of a typed error now...
    let err = transport.try_sync_pathpoints(series(99)).await.expect_err("full");
    assert!(
        matches!(err, TransportError::UploadQueueFull { pending: 5, .. }) && !err.is_refused(),
        "{err}"
    );
    // ... or waiting for room (backpressure), holding nothing meanwhile.
    accepted.push(tokio::spawn(transport.sync_pathpoints(series(5))));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!accepted[5].is_finished(), "waits for room");
    let stats = transport.stats();
    assert_eq!(stats.uploads_pending, 5);
    assert!(stats.uploads_pending_bytes as usize <= limits.max_bytes);
    assert!(!transport.state().is_connected());

    // The link returns: every accepted upload is sent, confirmed, and resolves once.
    let mut conn = server.accept().await;
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let (tid, got) = recv_upload(&mut conn).await;
        seen.push(got);
        conn.send(Frame::data_stream_confirm(tid)).await;
    }
    for upload in accepted {
        upload.await.expect("join").expect("confirmed");
    }
    let expected: Vec<_> = (0..6).map(series).collect();
    assert_eq!(seen, expected, "each once, in order; the refused one never");
    conn.expect_silence(Duration::from_millis(200)).await;
    let stats = transport.stats();
    assert_eq!(
        (
            stats.uploads_confirmed,
            stats.uploads_pending,
            stats.uploads_pending_bytes
        ),
        (6, 0, 0)
    );
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn an_upload_larger_than_all_the_room_is_refused_at_once() {
    let (transport, _orders, conn, _server) = ScriptedLink::start(|c| {
        c.with_fetch_orders(false).with_upload_limits(UploadLimits {
            max_count: 10,
            max_bytes: 16,
        })
    })
    .await
    .into_parts();
    let err = transport
        .sync_pathpoints(series(1))
        .await
        .expect_err("never fits");
    assert!(
        matches!(err, TransportError::UploadTooLarge { max: 16, .. }),
        "{err}"
    );
    close_gracefully(&transport, conn).await;
}
