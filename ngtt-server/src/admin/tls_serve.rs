//! The admin API over HTTPS (`ngtt serve --admin-tls`): the server's own certificate, no client
//! certificates (the bearer token authenticates), HTTP/1.1 by hyper on each TLS connection.
//! A TLS handshake gets [`crate::ServerConfig::handshake_timeout`]; a client that speaks plain
//! HTTP to this port fails the handshake and is dropped.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Time allowed to send a request's headers (and, between requests, to start the next one).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` over TLS on `listener` until `shutdown` is cancelled, then finishes the
/// requests in progress.
pub(crate) async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    app: Router,
    shutdown: CancellationToken,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let (acceptor, app, stop) = (acceptor.clone(), app.clone(), shutdown.clone());
                    conns.spawn(connection(tcp, peer, acceptor, handshake_timeout, app, stop));
                }
                Err(e) => {
                    warn!("admin API: accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    while conns.join_next().await.is_some() {}
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    limit: Duration,
    app: Router,
    shutdown: CancellationToken,
) {
    let _ = tcp.set_nodelay(true);
    let stream = tokio::select! {
        result = tokio::time::timeout(limit, acceptor.accept(tcp)) => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                // Plain HTTP to the TLS port, a probe, a client distrusting the certificate.
                debug!(%peer, "admin API: TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                debug!(%peer, "admin API: TLS handshake timed out");
                return;
            }
        },
        () = shutdown.cancelled() => return,
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = result {
        debug!(%peer, "admin API connection ended: {e}");
    }
}
