//! One device connection: TLS handshake, identification by certificate, then a pure
//! [`session::Session`] that decides the frame exchange, carried out by the [`driver`] until the
//! connection ends.

mod baob_sync;
mod driver;
mod echoes;
mod ops;
mod outbox;
mod session;
mod storage_ops;
mod tls_stream;
mod uploads;
mod window;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use ngtt_proto::{DeviceIdentity, Frame, NgttCodec};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::{info_span, warn, Instrument};

use crate::accept::takeover::{Takeover, TakeoverLimiter};
use crate::accept::HandshakeTicket;
use crate::registry::Registry;
use crate::storage::Db;

/// Limits and timings of device connections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_inflight: usize,
    pub(crate) max_frame_len: usize,
    pub(crate) idle_timeout: Duration,
    /// A connection whose writes make no progress for this long is closed: the peer does not
    /// read.
    pub(crate) write_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) close_timeout: Duration,
    /// Orders flow this long after the handshake without FETCH_ORDERS (`None`: never).
    pub(crate) fetch_grace: Option<Duration>,
    /// PING answers are held this long ([`crate::ServerConfig::ping_answer_delay`]).
    pub(crate) ping_answer_delay: Duration,
    /// What a device's payloads may cost.
    pub(crate) budgets: crate::Budgets,
}

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) db: Db,
    pub(crate) registry: Registry,
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) shutdown: CancellationToken,
    pub(crate) limits: Limits,
    /// How often one device id may replace its live connection.
    pub(crate) takeovers: std::sync::Mutex<TakeoverLimiter>,
    /// With several nodes: the device leases and cross-node wake-ups.
    pub(crate) cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// A device connection's TLS stream (rustls's unbuffered API: no buffer held while idle).
type Tls = tls_stream::ServerTls;

/// Serves one accepted TCP connection until it ends. Never fails: problems are logged.
///
/// This task lives as long as the connection, and its future is allocated once at the size of
/// its largest state: so the handshake (the TLS stream mid-handshake and its timers) and the
/// refusal of a connection run boxed, freed once done, and the identified connection's driver
/// is boxed as well — an idle connection keeps only what it uses.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    conn: u64,
    ticket: HandshakeTicket,
) {
    let Some(tls) = Box::pin(handshake(&shared, tcp, peer, conn, ticket)).await else {
        return;
    };
    let identity = match peer_identity(&tls) {
        Ok(identity) => identity,
        Err(reason) => {
            warn!(%peer, conn, "connection refused: {reason}");
            Box::pin(refuse(*tls, shared.limits.close_timeout)).await;
            return;
        }
    };
    let span = info_span!("conn", device = %ngtt_proto::Escaped(&identity.device_id), %peer, conn);
    // Split at once: from here on the TLS state lives in one heap allocation (the halves'),
    // not in this task's future; the box it came in is freed at the end of this block (not
    // at the end of the connection, as a box moved out of in this task's scope would be).
    let (reader, writer) = {
        let tls = tls;
        tokio::io::split(*tls)
    };
    async move {
        if !pace_takeover(&shared, &identity.device_id).await {
            return;
        }
        Box::pin(driver::run(shared, reader, writer, identity, conn)).await;
    }
    .instrument(span)
    .await;
}

/// When the device already has a live connection, waits for this takeover's turn
/// ([`TakeoverLimiter`]); false when the connection must be closed instead (refused, or the
/// server is shutting down).
async fn pace_takeover(shared: &Shared, device_id: &str) -> bool {
    if !shared.registry.is_connected(device_id) {
        return true;
    }
    let decision = shared
        .takeovers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .takeover(device_id, std::time::Instant::now());
    match decision {
        Takeover::Proceed => true,
        Takeover::Delay { wait, report, recent } => {
            if report {
                warn!(
                    takeovers = recent,
                    wait_ms = wait.as_millis() as u64,
                    "device replaced its own connection more than a few times in a minute: \
                     probably two devices share one certificate; its takeovers are delayed"
                );
            } else {
                tracing::debug!(wait_ms = wait.as_millis() as u64, "takeover delayed");
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => true,
                () = shared.shutdown.cancelled() => false,
            }
        }
        Takeover::Refuse => {
            tracing::debug!("too many takeovers waiting: connection closed");
            false
        }
    }
}

/// The TLS handshake of an accepted connection, within the handshake timeout, giving up when
/// the server shuts down or the source's handshake slot is taken ([`HandshakeTicket`]).
async fn handshake(
    shared: &Shared,
    tcp: TcpStream,
    peer: SocketAddr,
    conn: u64,
    ticket: HandshakeTicket,
) -> Option<Box<Tls>> {
    // ORDER frames go out at once, in records of their own (see session::send).
    let _ = tcp.set_nodelay(true);
    let config = Arc::clone(shared.acceptor.config());
    let handshake = tokio::time::timeout(shared.limits.handshake_timeout, tls_stream::accept(tcp, config));
    tokio::select! {
        result = handshake => match result {
            Ok(Ok(tls)) => Some(Box::new(tls)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                // A probe or port scan: connected and left without a word.
                tracing::debug!(%peer, conn, "connection closed during the TLS handshake: {e}");
                None
            }
            Ok(Err(e)) => {
                warn!(%peer, conn, "TLS handshake failed, connection refused: {e}");
                None
            }
            Err(_) => {
                warn!(%peer, conn, "TLS handshake timed out, connection refused");
                None
            }
        },
        () = shared.shutdown.cancelled() => None,
        () = ticket.evicted.cancelled() => {
            tracing::debug!(%peer, conn, "TLS handshake gave up its slot to a newer connection");
            None
        }
    }
}

/// Closes a connection refused after the handshake, cleanly.
async fn refuse(tls: Tls, limit: Duration) {
    let mut framed = Framed::new(tls, NgttCodec::new());
    close(&mut framed, limit).await;
}

/// The device identity of the peer's end-entity certificate.
fn peer_identity(tls: &Tls) -> Result<DeviceIdentity, String> {
    let certs = tls
        .peer_certificates()
        .ok_or_else(|| "no client certificate".to_owned())?;
    let leaf = certs
        .first()
        .ok_or_else(|| "empty client certificate chain".to_owned())?;
    DeviceIdentity::from_der(leaf)
        .map_err(|e| format!("the client certificate has no usable device identity: {e}"))
}

/// Flushes what is buffered and closes the TLS session (close_notify, then TCP FIN), giving up
/// after `limit`.
async fn close<T: AsyncRead + AsyncWrite + Unpin>(framed: &mut Framed<T, NgttCodec>, limit: Duration) {
    let closing = <Framed<T, NgttCodec> as SinkExt<Frame>>::close(framed);
    match tokio::time::timeout(limit, closing).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("closing the connection: {e}"),
        Err(_) => tracing::debug!("closing the connection timed out"),
    }
}
