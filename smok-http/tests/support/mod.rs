//! Shared test support: a development PKI and an in-process `ngtt-server` with its device
//! HTTP API on 127.0.0.1:0, plus admin API helpers.
#![allow(dead_code)]

use std::net::SocketAddr;

use ngtt_pki::{Ca, CertifiedKey};
use ngtt_proto::Environment;
use ngtt_server::{Server, ServerConfig, ServerHandle, TlsPems};
use serde_json::Value;
use smok_http::{AuthMode, HttpClient, HttpConfig};

/// A CA, a server certificate, and a running server.
pub struct Setup {
    pub ca: Ca,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    pub handle: ServerHandle,
    pub task: tokio::task::JoinHandle<Result<(), ngtt_server::ServerError>>,
    _dir: tempfile::TempDir,
}

impl Setup {
    /// A server with the device HTTP API over HTTPS (or plain HTTP with the proxy header
    /// trusted, when `behind_proxy`).
    pub async fn start(behind_proxy: bool) -> Setup {
        let ca = Ca::generate("test device CA").expect("CA");
        let server_cert = ca.issue_server(&[]).expect("server cert");
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = TlsPems {
            device_ca: ca.cert_pem().to_owned(),
            server_cert: server_cert.cert_pem,
            server_key: server_cert.key_pem,
        };
        let mut config = ServerConfig::new(tls, dir.path().join("ngtt.db"));
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.admin_listen = Some("127.0.0.1:0".parse().expect("addr"));
        config.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
        config.trust_proxy_header = behind_proxy;
        config.http_plain = behind_proxy;
        let server = Server::bind(config).await.expect("bind");
        let http = server.http_addr().expect("HTTP API");
        let admin = server.admin_addr().expect("admin API");
        let handle = server.handle();
        let task = tokio::spawn(server.run());
        Setup {
            ca,
            http,
            admin,
            handle,
            task,
            _dir: dir,
        }
    }

    /// A device certificate of local development.
    pub fn device_cert(&self, id: &str) -> CertifiedKey {
        self.ca
            .issue_device(id, Environment::LocalDevelopment)
            .expect("device cert")
    }

    /// The configuration of device `id` against this server (HTTPS, client certificate).
    pub fn config(&self, id: &str) -> HttpConfig {
        let cert = self.device_cert(id);
        HttpConfig::new(cert.cert_pem, cert.key_pem)
            .with_ca_pem(self.ca.cert_pem())
            .with_base_url(format!("https://localhost:{}", self.http.port()))
    }

    /// A client of device `id`: HTTPS with its certificate, or the proxy header over plain
    /// HTTP for a server started `behind_proxy`.
    pub fn client(&self, id: &str, behind_proxy: bool) -> HttpClient {
        let config = if behind_proxy {
            let cert = self.device_cert(id);
            HttpConfig::new(cert.cert_pem, cert.key_pem)
                .with_auth(AuthMode::ProxyHeader)
                .with_base_url(format!("http://{}", self.http))
        } else {
            self.config(id)
        };
        HttpClient::new(config).expect("client")
    }

    /// An admin API request with a JSON body; the status and JSON answer.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new().request(method, format!("http://{}{path}", self.admin));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("admin JSON"))
    }

    /// Stops the server gracefully.
    pub async fn stop(self) {
        self.handle.shutdown();
        self.task.await.expect("task").expect("server");
    }
}
