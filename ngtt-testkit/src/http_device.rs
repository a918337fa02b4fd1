//! [`HttpDevice`]: a device HTTP API client for the tests that send what `smok-http` never
//! would: reqwest over rustls with a device certificate (or none), raw bodies and headers, and
//! the answer decoded by its Content-Type.

use std::net::SocketAddr;

use ngtt_pki::CertifiedKey;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::Value;

use crate::TestPki;

/// The header form of a certificate PEM (every newline a tab), as `smok-http` sends it.
pub use smok_http::header_form;

/// The MiniJSON media type.
pub const MINIJSON: &str = "application/minijson";

/// What came back.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The Content-Type header (empty when absent).
    pub content_type: String,
    /// The body decoded from JSON or MiniJSON (as JSON).
    pub body: Value,
}

/// A client of one server's device HTTP API.
pub struct HttpDevice {
    /// The reqwest client.
    pub client: reqwest::Client,
    /// The base URL, without a trailing slash.
    pub base: String,
}

impl HttpDevice {
    /// HTTPS to `addr` trusting the test CA, presenting `cert` (or no certificate).
    pub fn https(addr: SocketAddr, pki: &TestPki, cert: Option<&CertifiedKey>) -> HttpDevice {
        let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).expect("CA");
        let mut builder = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca);
        if let Some(cert) = cert {
            let pem = format!("{}{}", cert.cert_pem, cert.key_pem);
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
        }
        HttpDevice {
            client: builder.build().expect("client"),
            base: format!("https://localhost:{}", addr.port()),
        }
    }

    /// Plain HTTP to `addr`.
    pub fn plain(addr: SocketAddr) -> HttpDevice {
        HttpDevice {
            client: reqwest::Client::new(),
            base: format!("http://{addr}"),
        }
    }

    /// Sends a request; `body` is (Content-Type, bytes); `headers` are extra headers.
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, String)],
    ) -> reqwest::Result<Answer> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some((content_type, bytes)) = body {
            request = request.header(CONTENT_TYPE, content_type).body(bytes);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = match response.headers().get(CONTENT_TYPE) {
            Some(value) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
            None => String::new(),
        };
        let bytes = response.bytes().await?;
        let body = if content_type == MINIJSON {
            Value::from(minijson::from_slice::<minijson::Value>(&bytes).expect("MiniJSON answer"))
        } else if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({status}): {e}: {bytes:?}"))
        };
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }

    /// Like [`HttpDevice::try_call`], panicking when no answer comes.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, String)],
    ) -> Answer {
        self.try_call(method, path, body, headers)
            .await
            .expect("an answer")
    }

    /// A request without body or extra headers.
    pub async fn simple(&self, method: Method, path: &str) -> Answer {
        self.call(method, path, None, &[]).await
    }

    /// A request with a MiniJSON body made from `value`.
    pub async fn minijson<T: serde::Serialize>(&self, method: Method, path: &str, value: &T) -> Answer {
        let bytes = minijson::to_vec(value).expect("MiniJSON");
        self.call(method, path, Some((MINIJSON, bytes)), &[]).await
    }

    /// A request with a JSON body.
    pub async fn json(&self, method: Method, path: &str, value: &Value) -> Answer {
        let bytes = serde_json::to_vec(value).expect("JSON");
        self.call(method, path, Some(("application/json", bytes)), &[])
            .await
    }
}
