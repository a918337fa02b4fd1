//! [`RawDevice`]: a device that speaks NGTT frame by frame over real TLS, for tests that say
//! exactly what a device sends to a server and check exactly what comes back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ngtt_net::tls::{self, PemIdentity};
use ngtt_pki::CertifiedKey;
use ngtt_proto::payload::Section;
use ngtt_proto::{Frame, FrameType, NgttCodec, ProtoError};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, HandshakeKind};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_util::codec::Framed;

use crate::{TestPki, WAIT};

/// A raw test device: TLS client, NGTT codec, frames sent and received by hand.
pub struct RawDevice {
    /// The connection, framed.
    pub framed: Framed<TlsStream<TcpStream>, NgttCodec>,
}

impl RawDevice {
    /// Connects to `addr` trusting the test CA, presenting `cert` (or no certificate).
    pub async fn connect(
        addr: SocketAddr,
        pki: &TestPki,
        cert: Option<&CertifiedKey>,
    ) -> std::io::Result<RawDevice> {
        RawDevice::connect_with(addr, RawDevice::client_config(pki, cert)).await
    }

    /// A TLS client configuration trusting the test CA and presenting `cert` (or no
    /// certificate). Connections made with one configuration share its session cache: the
    /// second resumes the first's session when the server sent a ticket.
    pub fn client_config(pki: &TestPki, cert: Option<&CertifiedKey>) -> Arc<ClientConfig> {
        let roots = tls::roots([pki.ca_pem()], "CA").expect("CA");
        let identity = cert.map(|cert| PemIdentity {
            cert_pem: &cert.cert_pem,
            key_pem: &cert.key_pem,
            name: "device",
        });
        Arc::new(tls::client_config(roots, identity).expect("client configuration"))
    }

    /// Connects to `addr` with `config` (see [`RawDevice::client_config`]).
    pub async fn connect_with(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<RawDevice> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("name");
        let tls = TlsConnector::from(config).connect(name, tcp).await?;
        Ok(RawDevice {
            framed: Framed::new(tls, NgttCodec::new()),
        })
    }

    /// Whether this connection resumed an earlier TLS session (no certificates exchanged).
    pub fn resumed(&self) -> bool {
        let (_, connection) = self.framed.get_ref().get_ref();
        connection.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// Sends `frame` (panics when it cannot).
    pub async fn send(&mut self, frame: Frame) {
        self.framed.send(frame).await.expect("send frame");
    }

    /// Sends without caring whether it works (the server may have closed already).
    pub async fn try_send(&mut self, frame: Frame) -> Result<(), ProtoError> {
        self.framed.send(frame).await
    }

    /// The next frame within `limit`; `None` on timeout. Panics if the connection ends.
    pub async fn recv_within(&mut self, limit: Duration) -> Option<Frame> {
        match tokio::time::timeout(limit, self.framed.next()).await {
            Err(_) => None,
            Ok(Some(Ok(frame))) => Some(frame),
            Ok(other) => panic!("connection ended while waiting for a frame: {other:?}"),
        }
    }

    /// The next frame (panics after [`WAIT`]).
    pub async fn recv(&mut self) -> Frame {
        self.recv_within(WAIT).await.expect("a frame within the wait")
    }

    /// Asserts that nothing arrives for `d`.
    pub async fn expect_silence(&mut self, d: Duration) {
        if let Some(frame) = self.recv_within(d).await {
            panic!("expected silence, got {frame:?}");
        }
    }

    /// Waits for the server to end the connection; returns true when it ended cleanly (TLS
    /// close_notify), false on an error.
    pub async fn expect_closed(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => panic!("the server did not close the connection"),
                Ok(None) => return true,
                Ok(Some(Err(_))) => return false,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Sends FETCH_ORDERS.
    pub async fn fetch_orders(&mut self) {
        self.send(Frame::fetch_orders()).await;
    }

    /// The next frame, which must be an ORDER: its tid and sections.
    pub async fn recv_order(&mut self) -> (u16, Vec<Section>) {
        let frame = self.recv().await;
        assert_eq!(frame.kind, FrameType::Order, "{frame:?}");
        let sections = frame.payload_as::<Vec<Section>>().expect("sections");
        (frame.tid, sections)
    }

    /// Round-trips a PING: proves the connection is served.
    pub async fn ping(&mut self, tid: u16) {
        self.send(Frame::ping(tid)).await;
        loop {
            let frame = self.recv().await;
            if frame.kind == FrameType::Ping {
                assert_eq!(frame.tid, tid);
                return;
            }
        }
    }
}
