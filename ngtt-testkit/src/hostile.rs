//! Hostile device-API servers for the `smok-client` robustness tests: a plain-HTTP axum app
//! on `127.0.0.1:0` answering raw JSON (well-formed or not), and a device that talks to it
//! as if behind a TLS-terminating proxy, retrying within milliseconds.

use std::net::SocketAddr;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use smok_client::{SmokDevice, SmokDeviceBuilder};
use smok_http::AuthMode;

use crate::TestPki;

/// `v` as an `application/json` answer, whatever it holds.
pub fn json_answer(v: Value) -> Response {
    ([("content-type", "application/json")], v.to_string()).into_response()
}

/// Serves `app` over plain HTTP on a fresh `127.0.0.1` port for the rest of the test; its
/// address.
pub async fn serve_plain(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Device `id` of `pki` (issued on the spot) against the plain-HTTP server at `addr`,
/// authenticated by the proxy header, HTTP retries from 10 ms to 50 ms.
pub fn hostile_device(pki: &TestPki, id: &str, addr: SocketAddr) -> SmokDeviceBuilder {
    let cert = pki.device(id);
    SmokDevice::builder(cert.cert_pem, cert.key_pem)
        .http_base_url(format!("http://{addr}"))
        .http_auth(AuthMode::ProxyHeader)
        .http_retry(Duration::from_millis(10), Duration::from_millis(50))
}
