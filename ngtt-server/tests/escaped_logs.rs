//! Strings an operator or a device chose reach the log escaped, never raw: device ids, keys and
//! uuids with a newline, ANSI codes or a bidirectional override, given to the admin API and the
//! device HTTP API over real sockets, and the log captured as the server writes it. Junk a
//! device sends at will is warned about once per connection.

use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{http_device, CapturedLogs, TestPki, TestServer};
use reqwest::Method;
use serde_json::json;

/// `s` as one percent-encoded path segment.
fn segment(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn admin_and_device_supplied_strings_are_logged_escaped() {
    let log = CapturedLogs::install();
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let order = json!([{"orders": [{"type": "write", "path": "W1", "value": 5}], "disposition": 0}]);
    // Refused: a newline and ANSI codes in the device id.
    for id in [
        "dev1\n2026-01-01T00:00:00Z  INFO forged: admin logged in",
        "dev\x1b[31mred\x1b[0m",
    ] {
        let path = format!("/v1/devices/{}/orders", segment(id));
        let (status, _) = server.admin(Method::POST, &path, Some(order.clone())).await;
        assert_eq!(status, 400, "{id:?}");
    }
    // Accepted, and logged: a bidirectional override and a zero-width space are printable.
    let sly = "ev\u{202e}li\u{200b}d";
    let device = segment(sly);
    let (status, _) = server
        .admin(Method::POST, &format!("/v1/devices/{device}/orders"), Some(order))
        .await;
    assert_eq!(status, 201);
    let (status, body) = server
        .admin(
            Method::PUT,
            &format!("/v1/devices/{device}/metadata/{}", segment("k\u{202e}y")),
            Some(json!({"value": "v"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server
        .admin(Method::DELETE, &format!("/v1/devices/{device}/archives"), None)
        .await;
    assert_eq!(status, 200);
    // A device reports a message order whose uuid carries an override.
    let dev = http_device(&server, &pki, "dev2");
    let path = format!("/v1/device/orders/message/{}", segment("u\u{202e}id"));
    let answer = dev.simple(Method::POST, &path).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    server.stop().await;

    let text = log.text();
    for raw in ['\x1b', '\u{202e}', '\u{200b}'] {
        assert!(!text.contains(raw), "{raw:?} reached the log raw:\n{text}");
    }
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-01-01T00:00:00Z  INFO forged")),
        "{text}"
    );
    for escaped in ["ev\\u{202e}li\\u{200b}d", "k\\u{202e}y", "u\\u{202e}id"] {
        assert!(text.contains(escaped), "{escaped} not in the log:\n{text}");
    }
    assert!(
        text.contains("order queued") && text.contains("metadata set by an operator"),
        "{text}"
    );
}

#[tokio::test]
async fn junk_log_records_are_warned_about_once_per_connection() {
    let log = CapturedLogs::install();
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |_| {}).await;
    let mut dev = server.device(&pki, "junk-logger").await;
    // Each frame: 100 items that are no log records, one with a forged line in its text.
    let junk = minijson::to_vec(&vec!["junk\n2026-01-01T00:00:00Z  WARN forged"; 100]).unwrap();
    for _ in 0..20 {
        dev.send(Frame::new(FrameType::Logs, 0, junk.clone())).await;
    }
    dev.ping(1).await;
    server.stop().await;
    let text = log.text();
    assert_eq!(log.count("skipping invalid log records"), 1, "{text}");
    assert!(
        text.contains("kind=\"invalid log records\" count=19"),
        "the repeats are counted:\n{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-01-01T00:00:00Z  WARN forged")),
        "{text}"
    );
}

#[tokio::test]
async fn every_refused_device_request_is_logged_once_with_device_and_route() {
    let log = CapturedLogs::install();
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().unwrap());
        // Client certificates optional: a request can come without one.
        c.trust_proxy_header = true;
    })
    .await;
    let dev = http_device(&server, &pki, "refused-dev");
    let bad_window = dev.simple(Method::GET, "/v1/device/macro/occurrences/9-1").await;
    assert_eq!(bad_window.status, 400, "{:?}", bad_window.body);
    let not_a_list = dev
        .json(Method::PUT, "/v1/device/sensor/write_log", &json!({"a": 1}))
        .await;
    assert_eq!(not_a_list.status, 400, "{:?}", not_a_list.body);
    let unknown = dev.simple(Method::GET, "/v1/device/no-such-thing").await;
    assert_eq!(unknown.status, 404);
    let anonymous = ngtt_testkit::HttpDevice::https(server.http_addr(), &pki, None);
    let who = anonymous.simple(Method::GET, "/v1/device/predicates").await;
    assert_eq!(who.status, 401);
    server.stop().await;

    let text = log.text();
    let refusals: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("device HTTP request refused"))
        .collect();
    let once = |needles: &[&str]| {
        let hits: Vec<&&str> = refusals
            .iter()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .collect();
        assert_eq!(hits.len(), 1, "{needles:?} in\n{}", refusals.join("\n"));
    };
    once(&[
        "device=refused-dev",
        "route=GET /v1/device/macro/occurrences/{window}",
        "status=400",
        "the window ends",
    ]);
    once(&[
        "device=refused-dev",
        "route=PUT /v1/device/sensor/write_log",
        "status=400",
        "not a list of write records",
    ]);
    once(&["route=GET /v1/device/no-such-thing", "status=404"]);
    once(&[
        "route=GET /v1/device/predicates",
        "status=401",
        "no client certificate",
    ]);
}
