//! Who the device HTTP API believes: client certificates (mandatory without header mode), the
//! `X-SSL-Client-Certificate` header (ignored unless trusted, verified against the device CA
//! when trusted), and plain HTTP behind a proxy.

use ngtt_pki::{Ca, DeviceCertOptions};
use ngtt_server::{Server, ServerConfig, ServerError};
use ngtt_testkit::{header_form, HttpDevice};
use ngtt_testkit::{TestPki, TestServer};
use reqwest::Method;

const HEADER: &str = "X-SSL-Client-Certificate";

async fn start(pki: &TestPki, dir: &tempfile::TempDir, trust: bool, plain: bool) -> TestServer {
    TestServer::start(pki, &dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
        c.trust_proxy_header = trust;
        c.http_plain = plain;
    })
    .await
}

/// `GET /v1/device` with a header claiming `cert_pem`; the status and the device id answered.
async fn claim(dev: &HttpDevice, cert_pem: &str) -> (u16, serde_json::Value) {
    let answer = dev
        .call(
            Method::GET,
            "/v1/device",
            None,
            &[(HEADER, header_form(cert_pem))],
        )
        .await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn client_certificates_are_required_without_header_mode() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir, false, false).await;
    let addr = server.http.expect("enabled");

    // No client certificate: the TLS handshake fails, no request is served.
    let anonymous = HttpDevice::https(addr, &pki, None);
    assert!(anonymous
        .try_call(Method::GET, "/v1/device", None, &[])
        .await
        .is_err());
    // A certificate from another CA: refused too.
    let stranger_ca = Ca::generate("another CA").expect("CA");
    let stranger = stranger_ca
        .issue_device("dev1", ngtt_proto::Environment::LocalDevelopment)
        .expect("cert");
    let foreign = HttpDevice::https(addr, &pki, Some(&stranger));
    assert!(foreign
        .try_call(Method::GET, "/v1/device", None, &[])
        .await
        .is_err());
    // A certificate of our CA without a device id: the connection works, requests are 403.
    let no_id = pki.odd_device(&DeviceCertOptions {
        environment: Some(ngtt_proto::Environment::LocalDevelopment),
        ..DeviceCertOptions::default()
    });
    let nameless = HttpDevice::https(addr, &pki, Some(&no_id));
    let answer = nameless.simple(Method::GET, "/v1/device").await;
    assert_eq!(answer.status, 403);
    assert!(answer.body["status"]
        .as_str()
        .unwrap()
        .contains("device identity"));

    // A spoofed header is ignored when the header is not trusted: the certificate decides.
    let dev1 = HttpDevice::https(addr, &pki, Some(&pki.device("dev1")));
    let (status, body) = claim(&dev1, &pki.device("dev2").cert_pem).await;
    assert_eq!((status, body["device_id"].as_str()), (200, Some("dev1")));
    server.stop().await;
}

#[tokio::test]
async fn trusted_header_over_tls_without_client_certificate() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir, true, false).await;
    let addr = server.http.expect("enabled");
    let proxy = HttpDevice::https(addr, &pki, None);

    let (status, body) = claim(&proxy, &pki.device("dev2").cert_pem).await;
    assert_eq!(
        (status, body["device_id"].as_str()),
        (200, Some("dev2")),
        "{body}"
    );
    // Without the header there is nobody to serve.
    assert_eq!(proxy.simple(Method::GET, "/v1/device").await.status, 401);
    // A client certificate still wins over the header.
    let dev1 = HttpDevice::https(addr, &pki, Some(&pki.device("dev1")));
    let (status, body) = claim(&dev1, &pki.device("dev2").cert_pem).await;
    assert_eq!((status, body["device_id"].as_str()), (200, Some("dev1")));
    server.stop().await;
}

#[tokio::test]
async fn plain_http_behind_a_proxy_verifies_the_header() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir, true, true).await;
    let proxy = HttpDevice::plain(server.http.expect("enabled"));

    let (status, body) = claim(&proxy, &pki.device("dev7").cert_pem).await;
    assert_eq!(
        (status, body["device_id"].as_str()),
        (200, Some("dev7")),
        "{body}"
    );
    let orders = proxy
        .call(
            Method::POST,
            "/v1/device/orders",
            None,
            &[(HEADER, header_form(&pki.device("dev7").cert_pem))],
        )
        .await;
    assert_eq!((orders.status, orders.body), (200, serde_json::json!([])));

    // A certificate from another CA is refused even when the header is trusted.
    let stranger = Ca::generate("another CA")
        .expect("CA")
        .issue_device("dev7", ngtt_proto::Environment::LocalDevelopment)
        .expect("cert");
    let (status, body) = claim(&proxy, &stranger.cert_pem).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["status"].as_str().unwrap().contains("not trusted"), "{body}");
    // An expired certificate of our CA, garbage, and no header at all.
    let expired = pki.odd_device(&DeviceCertOptions {
        device_id: Some("dev7".into()),
        environment: Some(ngtt_proto::Environment::LocalDevelopment),
        not_before: time::OffsetDateTime::now_utc() - time::Duration::days(10),
        not_after: time::OffsetDateTime::now_utc() - time::Duration::days(1),
    });
    assert_eq!(claim(&proxy, &expired.cert_pem).await.0, 403);
    assert_eq!(claim(&proxy, "not a certificate").await.0, 403);
    assert_eq!(proxy.simple(Method::GET, "/v1/device").await.status, 401);
    server.stop().await;
}

#[tokio::test]
async fn plain_http_requires_trusting_the_header() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let mut config: ServerConfig = ngtt_testkit::server_config(&pki, &dir.path().join("db"));
    config.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
    config.http_plain = true;
    match Server::bind(config).await {
        Err(ServerError::Config(reason)) => assert!(reason.contains("--trust-proxy-header"), "{reason}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
