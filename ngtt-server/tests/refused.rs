//! Connections the server must refuse or cut, each followed by a good device still being served.

use std::time::Duration;

use ngtt_pki::{Ca, DeviceCertOptions};
use ngtt_proto::Environment;
use ngtt_testkit::{RawDevice, TestPki, TestServer};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

/// The connection attempt either fails or ends without serving anything.
async fn assert_refused(result: std::io::Result<RawDevice>) {
    if let Ok(mut dev) = result {
        // TLS 1.3: the client finishes its side before the server checks its certificate.
        let _ = dev.try_send(ngtt_proto::Frame::ping(1)).await;
        dev.expect_closed().await;
    }
}

async fn good_device_still_served(server: &TestServer, pki: &TestPki) {
    let mut dev = server.device(pki, "good").await;
    dev.ping(42).await;
}

#[tokio::test]
async fn client_without_certificate() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    assert_refused(RawDevice::connect(server.addr, &pki, None).await).await;
    good_device_still_served(&server, &pki).await;
    server.stop().await;
}

#[tokio::test]
async fn certificate_from_another_ca() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let other = Ca::generate("some other CA").unwrap();
    let cert = other.issue_device("dev1", Environment::LocalDevelopment).unwrap();
    assert_refused(RawDevice::connect(server.addr, &pki, Some(&cert)).await).await;
    good_device_still_served(&server, &pki).await;
    assert!(server.handle.connected_devices().iter().all(|d| d != "dev1"));
    server.stop().await;
}

#[tokio::test]
async fn certificate_without_device_id() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let cert = pki.odd_device(&DeviceCertOptions::default()); // device_id: None
    assert_refused(RawDevice::connect(server.addr, &pki, Some(&cert)).await).await;
    good_device_still_served(&server, &pki).await;
    let (_, devices) = server.get("/v1/devices").await;
    assert_eq!(devices.as_array().unwrap().len(), 1, "{devices}");
    server.stop().await;
}

#[tokio::test]
async fn expired_certificate() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let now = OffsetDateTime::now_utc();
    let cert = pki.odd_device(&DeviceCertOptions {
        device_id: Some("old".into()),
        not_before: now - time::Duration::days(30),
        not_after: now - time::Duration::days(1),
        ..DeviceCertOptions::default()
    });
    assert_refused(RawDevice::connect(server.addr, &pki, Some(&cert)).await).await;
    good_device_still_served(&server, &pki).await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_frame() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| c.max_frame_len = 1024).await;
    let mut dev = server.device(&pki, "big").await;
    // A header announcing 2048 payload bytes: refused as soon as the length is read.
    dev.framed
        .get_mut()
        .write_all(&[0, 0, 8, 0, 0, 1, 0, 4])
        .await
        .unwrap();
    dev.framed.get_mut().flush().await.unwrap();
    dev.expect_closed().await;
    good_device_still_served(&server, &pki).await;
    server.stop().await;
}

#[tokio::test]
async fn garbage_bytes() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;

    // Not TLS at all.
    let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xfe garbage")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        loop {
            match raw.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue, // a TLS alert, then the close
            }
        }
    })
    .await;
    assert!(read.is_ok(), "server closed the plain TCP connection");

    // Garbage inside TLS: the first four bytes read as an absurd length.
    let mut dev = server.device(&pki, "noisy").await;
    dev.framed.get_mut().write_all(&[0xFF; 16]).await.unwrap();
    dev.framed.get_mut().flush().await.unwrap();
    dev.expect_closed().await;

    // A frame cut short by the close.
    let mut dev = server.device(&pki, "cut").await;
    dev.framed
        .get_mut()
        .write_all(&[0, 0, 0, 9, 0, 1, 0, 4, 1, 2])
        .await
        .unwrap();
    dev.framed.get_mut().shutdown().await.unwrap();
    dev.expect_closed().await;

    good_device_still_served(&server, &pki).await;
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_before_tls() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| c.max_connections = 2).await;
    let mut first = server.device(&pki, "one").await;
    let mut second = server.device(&pki, "two").await;
    first.ping(1).await;
    second.ping(2).await;
    // A third is over the limit: closed at once, before the handshake.
    assert_refused(RawDevice::connect(server.addr, &pki, Some(&pki.device("three"))).await).await;
    // The two served are untouched, and a place frees up when one leaves.
    first.ping(3).await;
    drop(second);
    ngtt_testkit::eventually(|| async {
        match RawDevice::connect(server.addr, &pki, Some(&pki.device("four"))).await {
            Ok(mut dev) => {
                let _ = dev.try_send(ngtt_proto::Frame::ping(9)).await;
                // Served: the PING comes back; still over the limit: the connection ends.
                let answer = tokio::time::timeout(
                    Duration::from_millis(500),
                    futures::StreamExt::next(&mut dev.framed),
                );
                matches!(answer.await, Ok(Some(Ok(_)))).then_some(())
            }
            Err(_) => None,
        }
    })
    .await;
    server.stop().await;
}
