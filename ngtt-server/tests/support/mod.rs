//! Shared test support: a development PKI, a server on 127.0.0.1:0 with a database in a temp
//! dir, a raw test device speaking frames over real TLS, and an admin API client.
#![allow(dead_code)]

pub mod http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ngtt_pki::{Ca, CertifiedKey, DeviceCertOptions};
use ngtt_proto::payload::Section;
use ngtt_proto::{Environment, Frame, FrameType, NgttCodec, ProtoError};
use ngtt_server::{Server, ServerConfig, ServerError, ServerHandle, TlsPems};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_util::codec::Framed;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(5);

/// Log to the test output when RUST_LOG is set.
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A CA with a server certificate.
pub struct Pki {
    pub ca: Ca,
    pub server: CertifiedKey,
}

impl Pki {
    pub fn new() -> Pki {
        let ca = Ca::generate("test device CA").expect("CA");
        let server = ca.issue_server(&[]).expect("server cert");
        Pki { ca, server }
    }

    pub fn tls(&self) -> TlsPems {
        TlsPems {
            device_ca: self.ca.cert_pem().to_owned(),
            server_cert: self.server.cert_pem.clone(),
            server_key: self.server.key_pem.clone(),
        }
    }

    /// A valid device certificate for `id`.
    pub fn device(&self, id: &str) -> CertifiedKey {
        self.ca
            .issue_device(id, Environment::LocalDevelopment)
            .expect("device cert")
    }

    /// A device certificate made as `options` say.
    pub fn device_with(&self, options: DeviceCertOptions) -> CertifiedKey {
        self.ca.issue_device_with(&options).expect("device cert")
    }
}

/// A server running in a task.
pub struct TestServer {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    /// The device HTTP API, when the test enabled it.
    pub http: Option<SocketAddr>,
    pub handle: ServerHandle,
    pub task: JoinHandle<Result<(), ServerError>>,
    pub db_path: PathBuf,
}

/// A config for `pki` and `db` on loopback ports chosen by the OS, with short timeouts.
pub fn config(pki: &Pki, db: &Path) -> ServerConfig {
    let mut config = ServerConfig::new(pki.tls(), db);
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = Some("127.0.0.1:0".parse().expect("addr"));
    config.close_timeout = Duration::from_millis(500);
    config.shutdown_grace = Duration::from_secs(3);
    config
}

impl TestServer {
    /// Starts a server on `db` with the test config, adjusted by `tweak`.
    pub async fn start(pki: &Pki, db: &Path, tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        init_logging();
        let mut config = config(pki, db);
        tweak(&mut config);
        let server = Server::bind(config).await.expect("bind server");
        let addr = server.local_addr();
        let admin = server.admin_addr().expect("admin enabled");
        let http = server.http_addr();
        let handle = server.handle();
        let task = tokio::spawn(server.run());
        TestServer {
            addr,
            admin,
            http,
            handle,
            task,
            db_path: db.to_owned(),
        }
    }

    /// The admin API's base URL.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// Graceful shutdown, waiting for the server to finish.
    pub async fn stop(self) {
        self.handle.shutdown();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops in time")
            .expect("server task")
            .expect("server result");
    }

    /// No graceful shutdown: the server's task is aborted, as in a crash.
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Connects a device with a fresh valid certificate for `id`.
    pub async fn device(&self, pki: &Pki, id: &str) -> Device {
        Device::connect(self.addr, pki, Some(&pki.device(id)))
            .await
            .expect("device connects")
    }

    /// Queues `sections` (JSON) for `device` through the admin API; returns the order id.
    pub async fn queue(&self, device: &str, sections: Value) -> i64 {
        let (status, body) = http(
            reqwest::Method::POST,
            &format!("{}/v1/devices/{device}/orders", self.admin_url()),
            Some(sections),
            None,
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_i64().expect("id")
    }

    /// `GET /v1/orders/{id}`.
    pub async fn order(&self, id: i64) -> Value {
        let (status, body) = self.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// GET on the admin API without a token.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        http(
            reqwest::Method::GET,
            &format!("{}{path}", self.admin_url()),
            None,
            None,
        )
        .await
    }
}

/// One admin API request; returns the status and the JSON body.
pub async fn http(
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("admin request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("admin body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, json)
}

/// A section list with one `read` order of `path`.
pub fn read_order(path: &str) -> Value {
    serde_json::json!([{"orders": [{"type": "read", "path": path}]}])
}

/// A raw test device: TLS client, NGTT codec, frames sent and received by hand.
pub struct Device {
    pub framed: Framed<TlsStream<TcpStream>, NgttCodec>,
}

impl Device {
    /// Connects to `addr` trusting the test CA, presenting `cert` (or no certificate).
    pub async fn connect(
        addr: SocketAddr,
        pki: &Pki,
        cert: Option<&CertifiedKey>,
    ) -> std::io::Result<Device> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pki.ca.cert_pem().as_bytes()).expect("CA pem"))
            .expect("root");
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let config = match cert {
            Some(cert) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).expect("cert pem")],
                    PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("key pem"),
                )
                .expect("client auth"),
            None => builder.with_no_client_auth(),
        };
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("name");
        let tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await?;
        Ok(Device {
            framed: Framed::new(tls, NgttCodec::new()),
        })
    }

    pub async fn send(&mut self, frame: Frame) {
        self.framed.send(frame).await.expect("send frame");
    }

    /// Sends without caring whether it works (the server may have closed already).
    pub async fn try_send(&mut self, frame: Frame) -> Result<(), ProtoError> {
        self.framed.send(frame).await
    }

    /// The next frame within `limit`; `None` on timeout. Panics if the connection ends.
    pub async fn recv_within(&mut self, limit: Duration) -> Option<Frame> {
        match tokio::time::timeout(limit, self.framed.next()).await {
            Err(_) => None,
            Ok(Some(Ok(frame))) => Some(frame),
            Ok(other) => panic!("connection ended while waiting for a frame: {other:?}"),
        }
    }

    /// The next frame (panics after [`WAIT`]).
    pub async fn recv(&mut self) -> Frame {
        self.recv_within(WAIT).await.expect("a frame within the wait")
    }

    /// Asserts that nothing arrives for `d`.
    pub async fn expect_silence(&mut self, d: Duration) {
        if let Some(frame) = self.recv_within(d).await {
            panic!("expected silence, got {frame:?}");
        }
    }

    /// Waits for the server to end the connection; returns true when it ended cleanly (TLS
    /// close_notify), false on an error.
    pub async fn expect_closed(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => panic!("the server did not close the connection"),
                Ok(None) => return true,
                Ok(Some(Err(_))) => return false,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    pub async fn fetch_orders(&mut self) {
        self.send(Frame::fetch_orders()).await;
    }

    /// The next frame, which must be an ORDER: its tid and sections.
    pub async fn recv_order(&mut self) -> (u16, Vec<Section>) {
        let frame = self.recv().await;
        assert_eq!(frame.kind, FrameType::Order, "{frame:?}");
        let sections = frame.payload_as::<Vec<Section>>().expect("sections");
        (frame.tid, sections)
    }

    /// Round-trips a PING: proves the connection is served.
    pub async fn ping(&mut self, tid: u16) {
        self.send(Frame::ping(tid)).await;
        loop {
            let frame = self.recv().await;
            if frame.kind == FrameType::Ping {
                assert_eq!(frame.tid, tid);
                return;
            }
        }
    }
}

/// The path of the single `read` order in `sections`.
pub fn read_path(sections: &[Section]) -> String {
    match &sections[0].orders[0] {
        ngtt_proto::payload::Order::Read(r) => r.path.clone(),
        other => panic!("not a read order: {other:?}"),
    }
}

/// Polls `f` until it returns `Some`, for at most [`WAIT`].
pub async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
