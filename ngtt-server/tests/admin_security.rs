//! The admin API against a web page and a forged identity, over real sockets: a cross-site
//! `text/plain` POST, DNS rebinding (a foreign `Host`), a browser `Origin`, a request without
//! the token, and a device certificate whose id forges log lines.

use std::io::{Read, Write};
use std::net::TcpStream;

use ngtt_testkit::{read_order, TestPki, TestServer};

/// Sends `request` as raw HTTP/1.1 and returns the status code and the whole answer.
fn raw(server: &TestServer, request: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(server.admin.unwrap()).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    (status, answer)
}

fn post(host: &str, extra: &str, body: &str) -> String {
    format!(
        "POST /v1/devices/dev1/orders HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_cannot_drive_the_admin_api() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |_| {}).await;
    let token = server.token.clone().unwrap();
    let auth = format!("Authorization: Bearer {token}\r\n");
    let body = read_order("W1").to_string();
    let host = server.admin.unwrap().to_string();

    // What a browser sends for a cross-site form or fetch: no token, text/plain, an Origin.
    let cross_site = post(
        &host,
        "Content-Type: text/plain\r\nOrigin: http://evil.example\r\n",
        &body,
    );
    let (status, answer) = raw(&server, &cross_site);
    assert_eq!(status, 403, "{answer}");
    // Even with the token (a leaked one), text/plain is refused: bodies are JSON.
    let (status, answer) = raw(
        &server,
        &post(&host, &format!("{auth}Content-Type: text/plain\r\n"), &body),
    );
    assert_eq!(status, 415, "{answer}");
    // No token at all.
    let (status, answer) = raw(&server, &post(&host, "Content-Type: application/json\r\n", &body));
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer.contains("WWW-Authenticate") || answer.contains("www-authenticate"),
        "{answer}"
    );
    // DNS rebinding: the page's own name in Host.
    let get = format!(
        "GET /v1/devices HTTP/1.1\r\nHost: rebind.evil.example:{}\r\n{auth}Connection: close\r\n\r\n",
        server.admin.unwrap().port()
    );
    let (status, answer) = raw(&server, &get);
    assert_eq!(status, 421, "{answer}");
    // The same request by IP, and by localhost, with the token: answered.
    let (status, answer) = raw(&server, &get.replace("rebind.evil.example", "localhost"));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = raw(
        &server,
        &post(&host, &format!("{auth}Content-Type: application/json\r\n"), &body),
    );
    assert_eq!(status, 201, "{answer}");
    // /healthz stays open.
    let health = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    assert_eq!(raw(&server, &health).0, 200);
    // BAOB uploads take raw bytes with their own content type, and only that.
    let put = |ct: &str| {
        format!("PUT /v1/devices/dev1/baobs/fw HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: {ct}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    };
    assert_eq!(raw(&server, &put("text/plain")).0, 415);
    assert_eq!(raw(&server, &put(ngtt_server::ADMIN_BAOB_CONTENT_TYPE)).0, 200);
    let (_, orders) = server.get("/v1/devices/dev1/orders").await;
    assert_eq!(
        orders.as_array().unwrap().len(),
        1,
        "only the authenticated JSON POST queued: {orders}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_names_and_origins() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, dir.path().join("db"), |c| {
        c.admin_hosts = vec!["admin.example.net".into()];
        c.admin_allow_origins = vec!["https://console.example.net".into()];
    })
    .await;
    let auth = format!("Authorization: Bearer {}\r\n", server.token.clone().unwrap());
    let get = |host: &str, origin: &str| {
        format!("GET /v1/devices HTTP/1.1\r\nHost: {host}\r\n{auth}{origin}Connection: close\r\n\r\n")
    };
    assert_eq!(raw(&server, &get("admin.example.net:2406", "")).0, 200);
    assert_eq!(raw(&server, &get("other.example.net", "")).0, 421);
    assert_eq!(
        raw(
            &server,
            &get("admin.example.net", "Origin: https://console.example.net\r\n")
        )
        .0,
        200
    );
    assert_eq!(
        raw(
            &server,
            &get("admin.example.net", "Origin: https://evil.example\r\n")
        )
        .0,
        403
    );
    server.stop().await;
}
