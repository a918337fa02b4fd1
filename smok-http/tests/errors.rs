//! Error classes: no link (closed port, no answer in time), the server's fault (503 from a
//! tiny axum server), the client's fault (a registration our server refuses).

use std::time::Duration;

use axum::http::StatusCode;
use axum::Json;
use ngtt_proto::payload::PathpointSeries;
use ngtt_testkit::smok::{http_config, start_http_server};
use ngtt_testkit::TestPki;
use smok_http::{AuthMode, HttpClient, HttpConfig, PathpointRegistration, StorageLevel};

/// A client in header mode (no TLS needed) against `base`.
fn plain_client(base: &str, timeout: Duration) -> HttpClient {
    let ca = ngtt_pki::Ca::generate("CA").expect("CA");
    let cert = ca
        .issue_device("9", ngtt_proto::Environment::LocalDevelopment)
        .expect("cert");
    let config = HttpConfig::new(cert.cert_pem, cert.key_pem)
        .with_auth(AuthMode::ProxyHeader)
        .with_base_url(base)
        .with_connect_timeout(timeout)
        .with_request_timeout(timeout);
    HttpClient::new(config).expect("client")
}

#[tokio::test]
async fn closed_port_is_no_link() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = plain_client(&format!("http://{addr}"), Duration::from_secs(2));
    let err = client.device_info().await.expect_err("nothing listens");
    assert!(err.is_no_link() && err.is_retryable(), "{err:?}");
    assert!(!err.is_clients_fault() && !err.is_server_fault());
    assert_eq!(err.status(), None);
}

#[tokio::test]
async fn no_answer_in_time_is_no_link() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never answers.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let client = plain_client(&format!("http://{addr}"), Duration::from_millis(300));
    let err = client.fetch_orders().await.expect_err("no answer");
    assert!(err.is_no_link() && err.is_retryable(), "{err:?}");
    silent.abort();
}

#[tokio::test]
async fn service_unavailable_is_the_servers_fault() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "down for maintenance"})),
        )
    });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = plain_client(&format!("http://{addr}"), Duration::from_secs(5));
    let err = client
        .sync_pathpoints(&[PathpointSeries::new("W1", [])])
        .await
        .expect_err("503");
    assert!(err.is_server_fault() && err.is_retryable(), "{err:?}");
    assert_eq!(
        (err.status(), err.reason()),
        (Some(503), Some("down for maintenance"))
    );
    server.abort();
}

#[tokio::test]
async fn refused_upload_is_the_clients_fault() {
    let pki = TestPki::new();
    let server = start_http_server(&pki, false).await;
    let client = HttpClient::new(http_config(&pki, &server, "dev1", false)).expect("client");
    let err = client
        .register_pathpoints(&[PathpointRegistration::new("", StorageLevel::Trend)])
        .await
        .expect_err("an empty path is refused");
    assert!(err.is_clients_fault() && !err.is_retryable(), "{err:?}");
    assert_eq!(err.status(), Some(400));
    assert!(err.reason().unwrap().contains("invalid path"), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn untrusted_server_certificate_is_no_link() {
    let pki = TestPki::new();
    let server = start_http_server(&pki, false).await;
    let cert = pki.device("dev1");
    let other_ca = ngtt_pki::Ca::generate("someone else").expect("CA");
    let config = HttpConfig::new(cert.cert_pem, cert.key_pem)
        .with_ca_pem(other_ca.cert_pem())
        .with_base_url(format!("https://localhost:{}", server.http_addr().port()));
    let err = HttpClient::new(config)
        .expect("client")
        .device_info()
        .await
        .expect_err("the server is not trusted");
    assert!(err.is_no_link(), "{err:?}");
    server.stop().await;
}
