//! A scripted NGTT test server: real TLS (tokio-rustls, client certificates verified against the
//! test CA) on 127.0.0.1, speaking raw frames so that each test says exactly what the server
//! sends and checks exactly what the device wrote.
//!
//! Also used by `ngtt-cli/tests/device.rs` (through `#[path]`), so it depends only on crates
//! both test suites have.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ngtt_pki::{Ca, CertifiedKey};
use ngtt_proto::{DeviceIdentity, Environment, Frame, FrameType, NgttCodec, ProtoError};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// A CA with a server certificate (localhost, 127.0.0.1, ::1) and device `"dev-1"`.
pub struct Pki {
    pub ca: Ca,
    pub server: CertifiedKey,
    pub device: CertifiedKey,
}

impl Pki {
    pub fn new() -> Pki {
        let ca = Ca::generate("NGTT test CA").expect("CA");
        let server = ca.issue_server(&[]).expect("server certificate");
        let device = ca
            .issue_device("dev-1", Environment::LocalDevelopment)
            .expect("device certificate");
        Pki { ca, server, device }
    }
}

/// Logs to the test's output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration presenting `server` and requiring client certificates
/// issued by `client_ca_pem`.
pub fn server_config(server: &CertifiedKey, client_ca_pem: &str) -> Arc<ServerConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(client_ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .expect("client verifier");
    let chain = CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("server certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).expect("server key PEM");
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .expect("server config");
    Arc::new(config)
}

/// The listening test server. Connections are accepted only when a test asks.
pub struct TestServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    pub addr: SocketAddr,
}

impl TestServer {
    /// A server with a certificate of `pki`'s CA, trusting devices of that CA.
    pub async fn start(pki: &Pki) -> TestServer {
        TestServer::start_with(&pki.server, pki.ca.cert_pem()).await
    }

    /// A server presenting `server`, trusting devices issued by `client_ca_pem`.
    pub async fn start_with(server: &CertifiedKey, client_ca_pem: &str) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        TestServer {
            listener,
            acceptor: TlsAcceptor::from(server_config(server, client_ca_pem)),
            addr,
        }
    }

    /// The next TCP connection, before TLS.
    pub async fn accept_tcp(&self) -> TcpStream {
        let (tcp, _) = tokio::time::timeout(PATIENCE, self.listener.accept())
            .await
            .expect("a device should connect")
            .expect("accept");
        tcp
    }

    /// The next connection with a successful handshake.
    pub async fn accept(&self) -> Conn {
        let tcp = self.accept_tcp().await;
        let tls = tokio::time::timeout(PATIENCE, self.acceptor.accept(tcp))
            .await
            .expect("handshake in time")
            .expect("handshake");
        let peer = tls.get_ref().1.peer_certificates().expect("client certificate")[0].clone();
        let identity = DeviceIdentity::from_der(&peer).expect("device identity");
        Conn {
            framed: Framed::new(tls, NgttCodec::new()),
            identity,
        }
    }

    /// The next connection's handshake result (for tests expecting it to fail).
    pub async fn accept_handshake(&self) -> std::io::Result<()> {
        let tcp = self.accept_tcp().await;
        tokio::time::timeout(PATIENCE, self.acceptor.accept(tcp))
            .await
            .expect("handshake in time")
            .map(drop)
    }
}

/// One accepted device connection, frame by frame.
pub struct Conn {
    framed: Framed<TlsStream<TcpStream>, NgttCodec>,
    pub identity: DeviceIdentity,
}

/// What the device did next.
#[derive(Debug)]
pub enum Next {
    Frame(Frame),
    /// The device closed TLS cleanly (close_notify).
    Closed,
    /// The connection ended otherwise (e.g. without close_notify).
    Broken(ProtoError),
    /// Nothing happened within the time given.
    Silence,
}

impl Conn {
    /// What the device does within `within`.
    pub async fn next(&mut self, within: Duration) -> Next {
        match tokio::time::timeout(within, self.framed.next()).await {
            Err(_) => Next::Silence,
            Ok(None) => Next::Closed,
            Ok(Some(Ok(frame))) => Next::Frame(frame),
            Ok(Some(Err(e))) => Next::Broken(e),
        }
    }

    /// The next frame; panics on anything else.
    pub async fn recv(&mut self) -> Frame {
        match self.next(PATIENCE).await {
            Next::Frame(frame) => frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The next frame that is not a PING (pings are echoed).
    pub async fn recv_answering_pings(&mut self) -> Frame {
        loop {
            let frame = self.recv().await;
            if frame.kind != FrameType::Ping {
                return frame;
            }
            self.send(Frame::ping(frame.tid)).await;
        }
    }

    /// Asserts the device sends nothing for `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        match self.next(quiet).await {
            Next::Silence => {}
            other => panic!("expected silence, got {other:?}"),
        }
    }

    /// Sends `frame` to the device.
    pub async fn send(&mut self, frame: Frame) {
        self.framed.send(frame).await.expect("send to the device");
    }

    /// Sends raw bytes to the device (for malformed frames).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let tls = self.framed.get_mut();
        tls.write_all(bytes).await.expect("write");
        tls.flush().await.expect("flush");
    }
}

/// A device configuration for `pki`'s device and a server at `addr`, with short backoff
/// (20 ms, at most 100 ms, fixed seed) and default keepalive timings.
pub fn device_config(pki: &Pki, addr: SocketAddr) -> ngtt_transport::Config {
    ngtt_transport::Config::new(
        &addr.to_string(),
        pki.ca.cert_pem(),
        pki.device.cert_pem.clone(),
        pki.device.key_pem.clone(),
    )
    .expect("config")
    .with_backoff(ngtt_transport::BackoffConfig {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        seed: Some(7),
        ..ngtt_transport::BackoffConfig::default()
    })
}

/// Closes `transport` while `conn` reads what the device still writes, as a server does;
/// returns the close outcome and the frames read meanwhile. The device must close TLS cleanly.
pub async fn close_gracefully(
    transport: &ngtt_transport::Transport,
    mut conn: Conn,
) -> (ngtt_transport::CloseOutcome, Vec<Frame>) {
    let closing = {
        let transport = transport.clone();
        tokio::spawn(async move { transport.close(PATIENCE).await })
    };
    let mut frames = Vec::new();
    loop {
        match conn.next(PATIENCE).await {
            Next::Frame(frame) => frames.push(frame),
            Next::Closed => break,
            other => panic!("expected close_notify, got {other:?}"),
        }
    }
    drop(conn);
    let outcome = closing.await.expect("close task");
    (outcome, frames)
}
