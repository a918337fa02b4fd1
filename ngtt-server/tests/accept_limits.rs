//! The accept path's limits over real sockets: idle TCP sockets holding handshake slots, a
//! trickled device HTTP API body, the device HTTP API's connection cap, and two devices sharing
//! one certificate taking each other's place.

use std::sync::Arc;
use std::time::Duration;

use ngtt_testkit::{CapturedLogs, RawDevice, TestPki, TestServer, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether the server closed `tcp` (EOF or reset) within `limit`.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn idle_sockets_from_one_address_do_not_keep_a_device_out() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |c| {
        c.max_connections = 20;
        // Long enough that only the per-source limit can free the slots.
        c.handshake_timeout = Duration::from_secs(120);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    let cert = pki.device("dev-1");
    for round in 0..5u16 {
        let mut device = RawDevice::connect(server.addr, &pki, Some(&cert))
            .await
            .unwrap_or_else(|e| panic!("round {round}: the device was kept out: {e}"));
        device.ping(round + 1).await;
        drop(device);
        // More idle sockets between the device's visits.
        for _ in 0..50 {
            idle.push(TcpStream::connect(server.addr).await.expect("connect"));
        }
    }
    drop(idle);
    server.stop().await;
}

#[tokio::test]
async fn a_trickled_http_body_is_cut() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
        c.trust_proxy_header = true;
        c.http_plain = true;
        c.http_body_timeout = Duration::from_secs(1);
        c.http_body_min_rate = 1024;
    })
    .await;
    let cert = pki.device("dev-2").cert_pem.replace('\n', "\t");
    let mut tcp = TcpStream::connect(server.http_addr()).await.expect("connect");
    let head = format!(
        "PUT /v1/device/device_logs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         X-SSL-Client-Certificate: {cert}\r\nContent-Length: 100\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.expect("headers");
    let started = std::time::Instant::now();
    // One byte every 300 ms would take 30 s for the whole body.
    let mut cut = false;
    for _ in 0..100 {
        if tcp.write_all(b" ").await.is_err() || closed_within(&mut tcp, Duration::from_millis(300)).await {
            cut = true;
            break;
        }
    }
    assert!(cut, "the trickled body was never cut");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "cut only after {took:?}");
    server.stop().await;
}

#[tokio::test]
async fn the_http_api_caps_its_connections() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
        c.trust_proxy_header = true;
        c.http_plain = true;
        c.http_max_connections = 4;
    })
    .await;
    let addr = server.http_addr();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // Give the server time to accept all four.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(addr).await.expect("connect");
    assert!(
        closed_within(&mut extra, WAIT).await,
        "a fifth connection was served"
    );
    // A slot frees when a connection ends.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut again = TcpStream::connect(addr).await.expect("connect");
        again
            .write_all(b"GET /v1/device HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("request");
        let mut answer = [0u8; 12];
        if again.read_exact(&mut answer).await.is_ok() {
            assert!(answer.starts_with(b"HTTP/1.1 "), "{answer:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no slot freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// Connects with `cert` again and again, each time until the server closes the connection.
async fn keep_connecting(
    server: std::net::SocketAddr,
    pki: Arc<TestPki>,
    cert: ngtt_pki::CertifiedKey,
    until: tokio::time::Instant,
) {
    while tokio::time::Instant::now() < until {
        let Ok(mut device) = RawDevice::connect(server, &pki, Some(&cert)).await else {
            continue;
        };
        let _ = tokio::time::timeout_at(until, device.expect_closed()).await;
    }
}

#[tokio::test]
async fn two_devices_sharing_a_certificate_are_rate_limited_and_reported_once() {
    let logs = CapturedLogs::install();
    let pki = Arc::new(TestPki::new());
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |c| {
        c.takeovers_per_minute = 3;
        c.takeover_spacing = Duration::from_secs(1);
    })
    .await;
    let cert = pki.device("shared-cert");
    let until = tokio::time::Instant::now() + Duration::from_secs(4);
    let a = tokio::spawn(keep_connecting(
        server.addr,
        Arc::clone(&pki),
        cert.clone(),
        until,
    ));
    let b = tokio::spawn(keep_connecting(server.addr, Arc::clone(&pki), cert, until));
    a.await.unwrap();
    b.await.unwrap();
    let replaced = logs.count("replacing the device's previous connection");
    // Unlimited, the two replace each other hundreds of times a second; limited: three free
    // takeovers, then one a second.
    assert!((3..=10).contains(&replaced), "{replaced} takeovers in 4 s");
    assert_eq!(logs.count("probably two devices share one certificate"), 1);
    server.stop().await;
}
