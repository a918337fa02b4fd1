//! The device HTTP API's accept loop: TLS (client certificates from the device CA) or plain
//! HTTP, then HTTP/1.1 by hyper, serving the axum router with the connection's [`ConnInfo`]
//! inserted into every request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use ngtt_proto::DeviceIdentity;
use rustls::server::danger::ClientCertVerifier;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::auth::ConnInfo;
use super::body_deadline::{BodyPace, DeadlineBody};
use crate::accept::{self, HandshakeTicket, SharedSlots};

/// Time allowed to send a request's headers (and, between requests, to start the next one).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A bound listener of the device HTTP API.
pub(crate) struct HttpListener {
    pub(crate) listener: TcpListener,
    /// `None`: plain HTTP (only behind a TLS-terminating proxy, proxy header trusted).
    pub(crate) tls: Option<TlsAcceptor>,
    /// Verifies `X-SSL-Client-Certificate` when the proxy header is trusted.
    pub(crate) header_verifier: Option<Arc<dyn ClientCertVerifier>>,
    pub(crate) handshake_timeout: Duration,
    /// Connections served at once, handshakes included.
    pub(crate) max_connections: usize,
    /// The handshakes in progress, by source.
    pub(crate) slots: SharedSlots,
    /// The pace every request body must keep.
    pub(crate) pace: BodyPace,
}

/// Serves until `shutdown` is cancelled, then lets each connection finish the request in
/// progress (HTTP/1.1 graceful close) and returns when all are done.
pub(crate) async fn serve(http: HttpListener, router: Router, shutdown: CancellationToken) {
    let mut conns = JoinSet::new();
    let mut conn_no: u64 = 0;
    let mut refusing = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = http.listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    conn_no += 1;
                    if conns.len() >= http.max_connections && !accept::evict_oldest(&http.slots) {
                        if !refusing {
                            warn!(%peer, limit = http.max_connections, "device HTTP API: connection limit reached: closing new connections until a slot is free");
                        }
                        refusing = true;
                        drop(tcp);
                        continue;
                    }
                    refusing = false;
                    let (ticket, _) = HandshakeTicket::take(&http.slots, conn_no, peer);
                    let (tls, router, stop) = (http.tls.clone(), router.clone(), shutdown.clone());
                    let limit = http.handshake_timeout;
                    conns.spawn(connection(tcp, peer, tls, limit, ticket, router, stop, http.pace));
                }
                Err(e) => {
                    warn!("device HTTP API: accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(http);
    while conns.join_next().await.is_some() {}
    info!("device HTTP API stopped");
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    limit: Duration,
    ticket: HandshakeTicket,
    router: Router,
    shutdown: CancellationToken,
    pace: BodyPace,
) {
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = tls else {
        drop(ticket);
        let info = ConnInfo { peer, cert: None };
        return http1(tcp, info, router, shutdown, pace).await;
    };
    let handshake = tokio::time::timeout(limit, acceptor.accept(tcp));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                // A probe or port scan: connected and left without a word.
                debug!(%peer, "device HTTP API: connection closed during the TLS handshake: {e}");
                return;
            }
            Ok(Err(e)) => {
                warn!(%peer, "device HTTP API: TLS handshake failed, connection refused: {e}");
                return;
            }
            Err(_) => {
                warn!(%peer, "device HTTP API: TLS handshake timed out");
                return;
            }
        },
        () = shutdown.cancelled() => return,
        () = ticket.evicted.cancelled() => {
            debug!(%peer, "device HTTP API: TLS handshake gave up its slot to a newer connection");
            return;
        }
    };
    drop(ticket);
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|leaf| {
            DeviceIdentity::from_der(leaf)
                .map_err(|e| format!("the client certificate has no usable device identity: {e}"))
        });
    http1(stream, ConnInfo { peer, cert }, router, shutdown, pace).await;
}

/// Serves HTTP/1.1 requests on one connection.
async fn http1<IO>(io: IO, info: ConnInfo, router: Router, shutdown: CancellationToken, pace: BodyPace)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = info.peer;
    let inner = TowerToHyperService::new(router);
    // Cancelled when a request body falls behind its pace: the connection is then dropped.
    let cut = CancellationToken::new();
    let body_cut = cut.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(|body| DeadlineBody::new(body, pace, body_cut.clone()));
        request.extensions_mut().insert(info.clone());
        inner.call(request)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                result = conn.as_mut() => result,
                () = cut.cancelled() => Ok(()),
            }
        }
        () = cut.cancelled() => {
            warn!(%peer, "device HTTP API: a request body arrived too slowly: connection cut");
            return;
        }
    };
    if let Err(e) = result {
        debug!(%peer, "device HTTP connection ended: {e}");
    }
}
