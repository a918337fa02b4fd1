//! TLS session resumption on the NGTT listener (docs/operations.md, "TLS session resumption"),
//! over real TLS: a device reconnecting after a restart of the server resumes its session and
//! is still itself; the keys are the server's own (a server with other keys, or resumption
//! off, makes a full handshake).

use ngtt_testkit::{read_order, read_path, RawDevice, TestPki, TestServer};

#[tokio::test]
async fn a_device_resumes_its_session_after_a_restart_and_keeps_its_identity() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let config = RawDevice::client_config(&pki, Some(&pki.device("dev1")));

    let server = TestServer::start(&pki, &db, |_| {}).await;
    let mut dev = RawDevice::connect_with(server.addr, config.clone())
        .await
        .unwrap();
    assert!(!dev.resumed(), "the first connection is a full handshake");
    dev.ping(1).await; // the ticket arrives after the handshake, read with the pong
    drop(dev);
    server.crash().await;

    let server = TestServer::start(&pki, &db, |_| {}).await;
    let mut dev = RawDevice::connect_with(server.addr, config.clone())
        .await
        .unwrap();
    assert!(dev.resumed(), "resumed with the ticket the first server issued");
    dev.fetch_orders().await;
    let id = server.queue("dev1", read_order("A")).await;
    let (_, sections) = dev.recv_order().await;
    assert_eq!(read_path(&sections), "A", "the resumed connection is dev1's");
    assert_eq!(server.order(id).await["state"], "sent");
    assert!(dir.path().join("db.tls-tickets").exists());
    server.stop().await;
}

#[tokio::test]
async fn other_keys_or_resumption_off_mean_a_full_handshake() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let config = RawDevice::client_config(&pki, Some(&pki.device("dev1")));

    let server = TestServer::start(&pki, dir.path().join("a"), |_| {}).await;
    let mut dev = RawDevice::connect_with(server.addr, config.clone())
        .await
        .unwrap();
    dev.ping(1).await;
    drop(dev);
    server.stop().await;

    // Another database, another key file: the ticket does not open, the handshake is full.
    let other = TestServer::start(&pki, dir.path().join("b"), |_| {}).await;
    let mut dev = RawDevice::connect_with(other.addr, config.clone()).await.unwrap();
    assert!(!dev.resumed());
    dev.ping(1).await;
    drop(dev);
    other.stop().await;

    let off = TestServer::start(&pki, dir.path().join("b"), |c| c.tls_resumption = false).await;
    let mut dev = RawDevice::connect_with(off.addr, config.clone()).await.unwrap();
    assert!(!dev.resumed(), "resumption off");
    dev.ping(2).await;
    drop(dev);
    let dev = RawDevice::connect_with(off.addr, config).await.unwrap();
    assert!(!dev.resumed(), "and no ticket was issued to resume with");
    off.stop().await;
}
