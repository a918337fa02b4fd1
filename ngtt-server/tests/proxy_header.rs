//! `X-SSL-Client-Certificate` as HTTP-API.md §2.1 describes it, over a plain-HTTP listener
//! behind a (pretend) TLS-terminating proxy: the certificate file with every line break a tab,
//! OpenSSL's text dump before the PEM block, headers beyond 8 KiB.

mod support;

use reqwest::Method;
use support::http::HttpDevice;
use support::{Pki, TestServer};

const HEADER: &str = "X-SSL-Client-Certificate";

/// A certificate file as `openssl x509 -text` writes it: a text dump, then the PEM block;
/// `dump_lines` lines of dump make it as long as a test needs.
fn certificate_file(cert_pem: &str, dump_lines: usize) -> String {
    let mut file = String::from("Certificate:\r\n    Data:\r\n        Version: 3 (0x2)\r\n");
    file.push_str("        Subject Public Key Info:\r\n            Modulus:\r\n");
    for i in 0..dump_lines {
        file.push_str(&format!(
            "                {:02x}:ad:18:90:a2:8b:16:4c:90:2b:19:6d:11:de:e9:\r\n",
            i % 256
        ));
    }
    file.push_str(&cert_pem.replace('\n', "\r\n"));
    file
}

/// The header value the published client makes of a file (`api.py:30`).
fn header_value(file: &str) -> String {
    file.replace("\r\n", "\n").replace('\n', "\t")
}

#[tokio::test]
async fn the_published_clients_header_over_plain_http() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
        c.trust_proxy_header = true;
        c.http_plain = true;
    })
    .await;
    let proxy = HttpDevice::plain(server.http.expect("enabled"));
    let cert = pki.device("dev-7");

    // About 5.8 KB, like the client's own development certificate, and well past 8 KiB.
    for lines in [60, 200] {
        let value = header_value(&certificate_file(&cert.cert_pem, lines));
        assert!(!value.contains('\n'));
        let answer = proxy
            .call(Method::GET, "/v1/device", None, &[(HEADER, value.clone())])
            .await;
        assert_eq!(
            (answer.status, answer.body["device_id"].as_str()),
            (200, Some("dev-7")),
            "{} bytes",
            value.len()
        );
        if lines == 200 {
            assert!(value.len() > 8 << 10, "{}", value.len());
        }
        let sensors = proxy
            .call(Method::GET, "/v1/device/sensors", None, &[(HEADER, value)])
            .await;
        assert_eq!((sensors.status, sensors.body), (200, serde_json::json!([])));
    }

    // The published client's development certificate parses, but its CA is not ours (and it
    // expired in 2021): refused as untrusted, not as unreadable.
    let fixture = include_str!("../../ngtt-proto/tests/fixtures/smok-dev-testing-device.crt");
    let answer = proxy
        .call(
            Method::GET,
            "/v1/device",
            None,
            &[(HEADER, header_value(fixture))],
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(
        answer.body["status"].as_str().unwrap().contains("not trusted"),
        "{}",
        answer.body
    );
    server.stop().await;
}
