//! [`ScriptedServer`]: an NGTT test server over real TLS (client certificates verified
//! against the test CA) on 127.0.0.1, speaking raw frames so that each test says exactly what
//! the server sends and checks exactly what the device wrote. Used by `ngtt-transport`'s tests
//! and by `ngtt-cli`'s tests of `ngtt device`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ngtt_net::tls::{self, ClientAuth, PemIdentity};
use ngtt_pki::CertifiedKey;
use ngtt_proto::{DeviceIdentity, Frame, FrameType, NgttCodec, ProtoError};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use crate::TestPki;

/// How long a scripted exchange waits for the device's next step.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// A rustls server configuration presenting `server` and requiring client certificates
/// issued by `client_ca_pem`.
pub fn server_tls(server: &CertifiedKey, client_ca_pem: &str) -> Arc<rustls::ServerConfig> {
    let verifier = tls::client_verifier(client_ca_pem, ClientAuth::Required).expect("client verifier");
    let identity = PemIdentity {
        cert_pem: &server.cert_pem,
        key_pem: &server.key_pem,
        name: "server",
    };
    Arc::new(tls::server_config(identity, verifier).expect("server configuration"))
}

/// The listening test server. Connections are accepted only when a test asks.
pub struct ScriptedServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    /// Where devices connect.
    pub addr: SocketAddr,
}

impl ScriptedServer {
    /// A server with a certificate of `pki`'s CA, trusting devices of that CA.
    pub async fn start(pki: &TestPki) -> ScriptedServer {
        ScriptedServer::start_with(&pki.server, pki.ca_pem()).await
    }

    /// A server presenting `server`, trusting devices issued by `client_ca_pem`.
    pub async fn start_with(server: &CertifiedKey, client_ca_pem: &str) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        ScriptedServer {
            listener,
            acceptor: TlsAcceptor::from(server_tls(server, client_ca_pem)),
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
    /// Who the device is, from its certificate.
    pub identity: DeviceIdentity,
}

/// What the device did next.
#[derive(Debug)]
pub enum Next {
    /// A frame.
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

/// A device (`ngtt-transport`, device `"dev-1"`) connected to a [`ScriptedServer`]: what most
/// transport tests start from.
pub struct ScriptedLink {
    /// The PKI of both.
    pub pki: TestPki,
    /// The server.
    pub server: ScriptedServer,
    /// The device.
    pub transport: ngtt_transport::Transport,
    /// The orders the device receives.
    pub orders: ngtt_transport::Orders,
    /// The device's first connection, accepted (nothing read from it yet).
    pub conn: Conn,
}

impl ScriptedLink {
    /// Starts a server and a device configured by [`crate::device_config`] changed by `tune`,
    /// and accepts the device's first connection.
    pub async fn start(tune: impl FnOnce(ngtt_transport::Config) -> ngtt_transport::Config) -> ScriptedLink {
        crate::init_logging();
        let pki = TestPki::new();
        let server = ScriptedServer::start(&pki).await;
        let config = tune(crate::device_config(&pki, "dev-1", server.addr));
        let (transport, orders) = ngtt_transport::Transport::spawn(config).expect("spawn");
        let conn = server.accept().await;
        ScriptedLink {
            pki,
            server,
            transport,
            orders,
            conn,
        }
    }

    /// The device, its orders, its first connection and the server (keep the server alive for
    /// as long as the device may reconnect).
    pub fn into_parts(
        self,
    ) -> (
        ngtt_transport::Transport,
        ngtt_transport::Orders,
        Conn,
        ScriptedServer,
    ) {
        (self.transport, self.orders, self.conn, self.server)
    }
}
