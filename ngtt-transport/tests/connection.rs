//! Connection life over real TLS: logs, keepalive, dead peers, bad certificates, backoff,
//! protocol errors and closing.

use std::time::{Duration, Instant};

use ngtt_pki::Ca;
use ngtt_proto::payload::{Level, LogRecord, Order, Section};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{
    close_gracefully, device_config, init_logging, Next, ScriptedLink, ScriptedServer, TestPki, PATIENCE,
};
use ngtt_transport::{BackoffConfig, ConnectionState, Timings, Transport, TransportError};

fn records(range: std::ops::Range<u64>) -> Vec<LogRecord> {
    range
        .map(|n| LogRecord::new("test", n, Level::WARNING, format!("record {n}")))
        .collect()
}

fn sections() -> Vec<Section> {
    vec![Section::new([Order::read("W1")])]
}

/// Waits until the state satisfies `pred` and returns it.
async fn wait_state(transport: &Transport, pred: impl Fn(&ConnectionState) -> bool) -> ConnectionState {
    let mut watch = transport.watch_state();
    let found = tokio::time::timeout(PATIENCE, watch.wait_for(|s| pred(s)))
        .await
        .expect("state reached in time")
        .expect("transport alive")
        .clone();
    found
}

#[tokio::test]
async fn logs_are_buffered_offline_within_the_bound_then_flushed() {
    init_logging();
    let pki = TestPki::new();
    let server = ScriptedServer::start(&pki).await;
    let config = device_config(&pki, "dev-1", server.addr)
        .with_fetch_orders(false)
        .with_log_buffer(10);
    let (transport, _orders) = Transport::spawn(config).expect("spawn");
    // Not connected yet (the server has not accepted): 30 records into a buffer of 10.
    assert_eq!(transport.send_logs(records(0..25)), 15);
    assert_eq!(transport.send_logs(records(25..30)), 5);
    let stats = transport.stats();
    assert_eq!((stats.logs_dropped, stats.logs_buffered), (20, 10));

    let mut conn = server.accept().await;
    let mut got = Vec::new();
    while got.len() < 10 {
        let frame = conn.recv().await;
        assert_eq!((frame.kind, frame.tid), (FrameType::Logs, 0));
        got.extend(frame.payload_as::<Vec<LogRecord>>().expect("log records"));
    }
    assert_eq!(got, records(20..30), "the newest ten, oldest first");
    // Once connected, records go out as they come.
    transport.send_logs(records(30..31));
    assert_eq!(
        conn.recv().await.payload_as::<Vec<LogRecord>>().expect("records"),
        records(30..31)
    );
    let stats = transport.stats();
    assert_eq!(
        (stats.logs_sent, stats.logs_dropped, stats.logs_buffered),
        (11, 20, 0)
    );
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn keepalive_pings_and_a_silent_server_is_declared_dead() {
    init_logging();
    let pki = TestPki::new();
    let server = ScriptedServer::start(&pki).await;
    let timings = Timings {
        ping_after: Duration::from_millis(200),
        dead_after: Duration::from_millis(400),
        ..Timings::default()
    };
    let config = device_config(&pki, "dev-1", server.addr)
        .with_fetch_orders(false)
        .with_timings(timings);
    let (transport, _orders) = Transport::spawn(config).expect("spawn");
    let mut conn = server.accept().await;
    let start = Instant::now();
    let ping = conn.recv().await;
    assert_eq!(ping.kind, FrameType::Ping);
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "ping after the idle time"
    );
    conn.send(Frame::ping(ping.tid)).await;
    // Answered, so the next one comes after another idle interval; this one stays unanswered.
    let second = conn.recv().await;
    assert_eq!(second.kind, FrameType::Ping);
    assert_ne!(second.tid, ping.tid);
    let unanswered_at = Instant::now();
    match conn.next(Duration::from_secs(1)).await {
        Next::Closed | Next::Broken(_) => {}
        other => panic!("the device should drop the connection, got {other:?}"),
    }
    let waited = unanswered_at.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_millis(900),
        "{waited:?}"
    );
    let state = wait_state(&transport, |s| matches!(s, ConnectionState::Backoff { .. })).await;
    assert!(
        matches!(state.last_error(), Some(TransportError::PeerDead { .. })),
        "{state:?}"
    );
    // ... and it comes back.
    let again = server.accept().await;
    wait_state(&transport, |s| {
        matches!(s, ConnectionState::Connected { epoch: 2, .. })
    })
    .await;
    assert_eq!(transport.stats().pings_sent, 2);
    assert!(close_gracefully(&transport, again).await.0.flushed);
}

#[tokio::test]
async fn a_server_certificate_of_another_ca_is_an_error_retried_with_backoff() {
    init_logging();
    let pki = TestPki::new();
    let impostor = Ca::generate("impostor CA").expect("CA");
    let fake = impostor.issue_server(&[]).expect("certificate");
    let server = ScriptedServer::start_with(&fake, pki.ca_pem()).await;
    let (transport, _orders) = Transport::spawn(device_config(&pki, "dev-1", server.addr)).expect("spawn");
    for attempt in 1..=3 {
        assert!(
            server.accept_handshake().await.is_err(),
            "the device refuses the handshake"
        );
        let state = wait_state(
            &transport,
            |s| matches!(s, ConnectionState::Backoff { attempt: a, .. } if *a == attempt),
        )
        .await;
        let err = state.last_error().expect("an error");
        assert!(
            matches!(err, TransportError::Handshake { .. }) && err.is_no_link(),
            "{err}"
        );
        assert!(
            matches!(
                err.tls_error(),
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                ))
            ),
            "{err:?}"
        );
        // Never connected: the next attempt is one more than the failures.
        let next = wait_state(&transport, |s| matches!(s, ConnectionState::Connecting { .. })).await;
        assert!(
            matches!(next, ConnectionState::Connecting { attempt: a } if a == attempt + 1),
            "{next:?}"
        );
    }
    assert_eq!(transport.stats().connects, 0);
    transport.close(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_follow_the_seeded_sequence() {
    init_logging();
    let pki = TestPki::new();
    // A port nobody listens on: every attempt is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let backoff = BackoffConfig {
        seed: Some(99),
        ..BackoffConfig::default()
    };
    let config = device_config(&pki, "dev-1", port).with_backoff(backoff);
    let (transport, _orders) = Transport::spawn(config).expect("spawn");
    let mut expected = ngtt_transport::Backoff::new(backoff);
    let mut watch = transport.watch_state();
    for attempt in 1..=6u32 {
        let state = watch
            .wait_for(|s| matches!(s, ConnectionState::Backoff { attempt: a, .. } if *a == attempt))
            .await
            .expect("alive")
            .clone();
        let ConnectionState::Backoff {
            until, last_error, ..
        } = state
        else {
            unreachable!()
        };
        assert!(
            matches!(*last_error, TransportError::Connect { .. }),
            "{last_error}"
        );
        let delay = until.saturating_duration_since(tokio::time::Instant::now().into_std());
        let want = expected.next_delay();
        assert_eq!(delay, want, "attempt {attempt}");
        let nominal = Duration::from_secs(1 << (attempt - 1));
        assert!(
            delay <= nominal && delay >= nominal.mul_f64(0.75),
            "{delay:?} for {nominal:?}"
        );
    }
    transport.close(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn oversized_frames_are_read_past_not_a_reconnect_loop() {
    let (transport, mut orders, mut conn, _server) = ScriptedLink::start(|c| c.with_max_frame_len(64))
        .await
        .into_parts();
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    // Twice a PING announcing 1 MiB, its payload sent in full: neither is buffered or fatal.
    let payload = vec![0u8; 1 << 20];
    for tid in [1, 2] {
        let mut bytes = vec![0, 0x10, 0, 0, 0, tid, 0, 0];
        bytes.extend_from_slice(&payload);
        conn.send_raw(&bytes).await;
    }
    // The same connection goes on: an order after them arrives and is answered on it.
    conn.send(Frame::order(5, &sections()).expect("encodes")).await;
    let order = tokio::time::timeout(PATIENCE, orders.recv())
        .await
        .expect("an order in time")
        .expect("open");
    assert_eq!(order.tid(), 5);
    order.ack().await.expect("sent");
    assert_eq!(conn.recv().await, Frame::order_confirm(5));
    let stats = transport.stats();
    assert_eq!((stats.frames_oversized, stats.connects, stats.drops), (2, 1, 0));
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn the_first_reconnect_after_a_connection_is_attempt_one() {
    let (transport, _orders, mut conn, server) = ScriptedLink::start(|c| c).await.into_parts();
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    assert!(matches!(
        transport.state(),
        ConnectionState::Connected { epoch: 1, .. }
    ));
    drop(conn);
    // The drop counts for the backoff's delays, but no attempt has failed since the
    // connection: the handshake waits for `accept`, so the state stays Connecting.
    let state = wait_state(&transport, |s| matches!(s, ConnectionState::Connecting { .. })).await;
    assert!(
        matches!(state, ConnectionState::Connecting { attempt: 1 }),
        "{state:?}"
    );
    let mut conn = server.accept().await;
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn close_flushes_logs_and_closes_tls_cleanly() {
    let (transport, mut orders, conn, _server) = ScriptedLink::start(|c| c.with_fetch_orders(false))
        .await
        .into_parts();
    transport.connected().await.expect("connected");
    let pending = tokio::spawn(transport.sync_pathpoints(vec![]));
    // Enough records for several LOGS frames.
    transport.send_logs(records(0..3000));
    let (outcome, frames) = close_gracefully(&transport, conn).await;
    assert!(outcome.flushed, "{outcome:?}");
    assert_eq!((outcome.logs_discarded, outcome.uploads_abandoned), (0, 1));
    let mut logs = Vec::new();
    let mut log_frames = 0;
    for f in frames {
        match f.kind {
            FrameType::Logs => {
                log_frames += 1;
                logs.extend(f.payload_as::<Vec<LogRecord>>().expect("records"));
            }
            other => assert_eq!(other, FrameType::DataStream),
        }
    }
    assert_eq!(logs, records(0..3000));
    assert!(log_frames > 1, "batched into several frames");
    assert!(matches!(
        pending.await.expect("join"),
        Err(TransportError::Closed)
    ));
    assert!(matches!(transport.state(), ConnectionState::Closed));
    assert!(orders.recv().await.is_none());
    let again = transport.close(Duration::from_secs(1)).await;
    assert!(again.flushed);
}
