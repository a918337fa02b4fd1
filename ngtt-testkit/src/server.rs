//! [`TestServer`]: the real `ngtt-server` in a task of the test's runtime, on `127.0.0.1:0`,
//! with its database where the test says, plus helpers for its admin API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ngtt_proto::payload::Section;
use ngtt_server::{OrderState, Server, ServerConfig, ServerError, ServerHandle};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::{init_logging, HttpDevice, RawDevice, TestPki, WAIT};

/// A server running in a task.
pub struct TestServer {
    /// Where devices connect (NGTT).
    pub addr: SocketAddr,
    /// The admin API, unless `tweak` switched it off.
    pub admin: Option<SocketAddr>,
    /// The device HTTP API, when `tweak` enabled it (`http_listen`).
    pub http: Option<SocketAddr>,
    /// Control over the server (storage, shutdown).
    pub handle: ServerHandle,
    /// The server's task.
    pub task: JoinHandle<Result<(), ServerError>>,
    /// Its database file.
    pub db: PathBuf,
    /// The admin API's bearer token (generated beside the database unless `tweak` set one).
    pub token: Option<String>,
}

/// A configuration for `pki` and `db` on loopback ports chosen by the OS (NGTT and admin API),
/// with short close timeouts.
pub fn server_config(pki: &TestPki, db: &Path) -> ServerConfig {
    let mut config = ServerConfig::new(pki.tls_pems(), db);
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = Some("127.0.0.1:0".parse().expect("addr"));
    config.close_timeout = Duration::from_millis(500);
    config.shutdown_grace = Duration::from_secs(3);
    config
}

impl TestServer {
    /// Starts a server on `db` with [`server_config`], adjusted by `tweak`.
    pub async fn start(
        pki: &TestPki,
        db: impl AsRef<Path>,
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        init_logging();
        let mut config = server_config(pki, db.as_ref());
        tweak(&mut config);
        let server = Server::bind(config).await.expect("bind server");
        let addr = server.local_addr();
        let admin = server.admin_addr();
        let http = server.http_addr();
        let token = server.admin_token().map(str::to_owned);
        let handle = server.handle();
        let task = tokio::spawn(server.run());
        TestServer {
            addr,
            admin,
            http,
            handle,
            task,
            db: db.as_ref().to_owned(),
            token,
        }
    }

    /// Like [`TestServer::start`], listening for devices on `addr` (to restart on the same
    /// port).
    pub async fn start_at(
        pki: &TestPki,
        db: impl AsRef<Path>,
        addr: SocketAddr,
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        TestServer::start(pki, db, |config| {
            config.listen = addr;
            tweak(config)
        })
        .await
    }

    /// The admin API's base URL.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin.expect("the admin API is enabled"))
    }

    /// A client whose every request carries the admin token.
    pub fn admin_client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = &self.token {
            let value = format!("Bearer {token}")
                .parse()
                .expect("a token is a header value");
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("HTTP client")
    }

    /// The device HTTP API's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http.expect("the device HTTP API is enabled")
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

    /// Connects a raw device with a fresh valid certificate for `id`.
    pub async fn device(&self, pki: &TestPki, id: &str) -> RawDevice {
        RawDevice::connect(self.addr, pki, Some(&pki.device(id)))
            .await
            .expect("device connects")
    }

    /// Queues a list of sections (given as JSON) for `device` and wakes its connection,
    /// returning the order's id.
    pub async fn queue(&self, device: &str, sections: Value) -> i64 {
        let bytes = minijson::to_vec(&minijson::Value::from(sections)).expect("MiniJSON");
        self.queue_bytes(device, bytes).await
    }

    /// Queues sections already encoded as MiniJSON for `device`; returns the order's id.
    pub async fn queue_bytes(&self, device: &str, sections: Vec<u8>) -> i64 {
        self.handle.queue_order(device, sections).await.expect("queued")
    }

    /// The state of order `id`, from storage.
    pub fn state(&self, id: i64) -> OrderState {
        let record = self
            .handle
            .storage()
            .order(id)
            .expect("storage")
            .expect("order exists");
        record.state
    }

    /// How many samples are stored for `device`, all pathpoints together.
    pub fn stored_samples(&self, device: &str) -> usize {
        let series = self
            .handle
            .storage()
            .read_series(device, &ngtt_server::storage::SeriesQuery::default())
            .expect("storage");
        series.iter().map(|s| s.values.len()).sum()
    }

    /// `GET /v1/orders/{id}` on the admin API.
    pub async fn order(&self, id: i64) -> Value {
        let (status, body) = self.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// GET on the admin API with the token.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.admin(reqwest::Method::GET, path, None).await
    }

    /// An admin API request with the token: the status and the JSON answer.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.admin_url());
        admin_request(method, &url, body, self.token.as_deref()).await
    }

    /// Waits until every order of `ids` is answered (neither queued nor sent), failing the test
    /// after [`WAIT`].
    pub async fn until_answered(&self, ids: &[i64]) {
        self.until("every order answered", |s| {
            ids.iter()
                .all(|&id| !matches!(s.state(id), OrderState::Queued | OrderState::Sent))
        })
        .await
    }

    /// Waits until the server no longer counts `device` as connected (it has seen the close of
    /// a connection the test dropped), failing the test after [`WAIT`].
    pub async fn until_disconnected(&self, device: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, devices) = self.get("/v1/devices").await;
            assert_eq!(status, 200, "{devices}");
            let connected = devices
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| d["device"] == device && d["connected"] == true);
            if !connected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {device} to be disconnected"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `done` holds, failing the test after [`WAIT`].
    pub async fn until(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One admin API request; returns the status and the JSON body.
pub async fn admin_request(
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

/// The path of the single `read` order in `sections`.
pub fn read_path(sections: &[Section]) -> String {
    match &sections[0].orders[0] {
        ngtt_proto::payload::Order::Read(r) => r.path.clone(),
        other => panic!("not a read order: {other:?}"),
    }
}

/// A server with the device HTTP API on (`127.0.0.1:0`), its database in `dir`.
pub async fn http_server(pki: &TestPki, dir: &tempfile::TempDir) -> TestServer {
    TestServer::start(pki, dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
    })
    .await
}

/// A device HTTP API client of `server` (HTTPS) with `id`'s certificate.
pub fn http_device(server: &TestServer, pki: &TestPki, id: &str) -> HttpDevice {
    HttpDevice::https(server.http.expect("HTTP API enabled"), pki, Some(&pki.device(id)))
}

/// The `status` text of an API error answer, failing the test when there is none.
pub fn status_of(body: &Value) -> &str {
    body["status"]
        .as_str()
        .unwrap_or_else(|| panic!("no status in {body}"))
}
