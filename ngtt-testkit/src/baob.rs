//! What the BAOB and device-resource tests share: a server with the device HTTP API and a
//! small BAOB limit, device clients, and BAOB requests made as the Python client makes them.

use reqwest::Method;
use serde_json::Value;

pub use crate::http_device as device;
use crate::{HttpDevice, TestPki, TestServer};

/// Largest BAOB of these tests' servers: small enough to test the limit quickly, larger than
/// two storage chunks (1 MiB).
pub const MAX_BAOB: u64 = 3 << 20;

/// A server with the device HTTP API on and BAOBs limited to [`MAX_BAOB`].
pub async fn start(pki: &TestPki, dir: &tempfile::TempDir) -> TestServer {
    TestServer::start(pki, &dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
        c.max_baob_len = MAX_BAOB;
    })
    .await
}

/// A multipart body as the Python client sends it: `file`, then `data` with `{"version":N}`.
pub fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "b0undaryXyZ";
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `PUT /v1/device/baobs/{key}` as the Python client sends it: status and answer.
pub async fn upload(dev: &HttpDevice, key: &str, bytes: &[u8], version: i64) -> (u16, Value) {
    let data = format!("{{\"version\":{version}}}");
    let (ct, body) = multipart(&[("file", bytes), ("data", data.as_bytes())]);
    let answer = dev
        .call(
            Method::PUT,
            &format!("/v1/device/baobs/{key}"),
            Some((&ct, body)),
            &[],
        )
        .await;
    (answer.status, answer.body)
}

/// `GET /v1/device/baobs/{key}`: status, version header, bytes.
pub async fn download(dev: &HttpDevice, key: &str) -> (u16, Option<i64>, Vec<u8>) {
    let response = dev
        .client
        .get(format!("{}/v1/device/baobs/{key}", dev.base))
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let version = response
        .headers()
        .get("x-smok-baob-version")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, version, response.bytes().await.expect("body").to_vec())
}

/// One BAOB round (`POST /v1/device/baobs`) with the keys and versions `held`: the answer.
pub async fn round(dev: &HttpDevice, held: Value) -> Value {
    let answer = dev.minijson(Method::POST, "/v1/device/baobs", &held).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.content_type, "application/json");
    answer.body
}

/// `PUT` of a BAOB's bytes through the admin API (`query` e.g. `?version=3`).
pub async fn admin_put_baob(
    server: &TestServer,
    device: &str,
    key: &str,
    bytes: Vec<u8>,
    query: &str,
) -> (u16, Value) {
    let response = server
        .admin_client()
        .put(format!(
            "{}/v1/devices/{device}/baobs/{key}{query}",
            server.admin_url()
        ))
        .header(
            reqwest::header::CONTENT_TYPE,
            ngtt_server::ADMIN_BAOB_CONTENT_TYPE,
        )
        .body(bytes)
        .send()
        .await
        .expect("admin answer");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}
