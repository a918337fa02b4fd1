//! Support for the end-to-end tests: a real server on `127.0.0.1:0` with a database in the
//! test's PKI directory.
#![deny(missing_docs)]

pub mod cli;
pub mod fakes;
pub mod smok;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ngtt_server::{OrderState, Server, ServerConfig, ServerError, ServerHandle, TlsPems};
use ngtt_testkit::TestPki;
use tokio::task::JoinHandle;

/// A device of `pki` (issued on the spot) connecting to `addr`, with short timings and backoff
/// so that tests reconnect within milliseconds.
pub fn device_config(pki: &TestPki, id: &str, addr: SocketAddr) -> ngtt_transport::Config {
    let device = pki.device(id);
    ngtt_transport::Config::new(&addr.to_string(), pki.ca_pem(), device.cert_pem, device.key_pem)
        .expect("device config")
        .with_server_name("localhost")
        .with_timings(ngtt_transport::Timings {
            ping_after: Duration::from_millis(500),
            dead_after: Duration::from_secs(3),
            write_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
        })
        .with_backoff(ngtt_transport::BackoffConfig {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            reset_after: Duration::from_secs(1),
            jitter: 0.25,
            seed: Some(7),
        })
}

/// How long a test waits for something that must happen.
pub const WAIT: Duration = Duration::from_secs(20);

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A server running in a task of the test's runtime.
pub struct RunningServer {
    /// Where devices connect.
    pub addr: SocketAddr,
    /// Where the device HTTP API listens, when `tune` enabled it (`http_listen`).
    pub http_addr: Option<SocketAddr>,
    /// Control over the server (storage, shutdown).
    pub handle: ServerHandle,
    /// The server's task.
    pub task: JoinHandle<Result<(), ServerError>>,
    /// Its database file.
    pub db: PathBuf,
}

impl RunningServer {
    /// Starts a server for `pki` with its database at `db`, listening on `addr`
    /// (`127.0.0.1:0` for a fresh port), changing the default configuration with `tune`.
    pub async fn start(
        pki: &TestPki,
        db: PathBuf,
        addr: SocketAddr,
        tune: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let tls = TlsPems {
            device_ca: pki.ca_pem().to_owned(),
            server_cert: pki.server.cert_pem.clone(),
            server_key: pki.server.key_pem.clone(),
        };
        let mut config = ServerConfig::new(tls, db.clone());
        config.listen = addr;
        config.admin_listen = None;
        tune(&mut config);
        let server = Server::bind(config).await.expect("server binds");
        let (addr, http_addr, handle) = (server.local_addr(), server.http_addr(), server.handle());
        let task = tokio::spawn(server.run());
        RunningServer {
            addr,
            http_addr,
            handle,
            task,
            db,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(self) {
        self.handle.shutdown();
        self.task.await.expect("server task").expect("server ran");
    }

    /// Kills the server's task without any shutdown, as a crash would.
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Queues a list of sections (given as JSON) for `device` and wakes its connection,
    /// returning the order's id.
    pub async fn queue(&self, device: &str, sections: serde_json::Value) -> i64 {
        let bytes = minijson::to_vec(&minijson::Value::from(sections)).expect("MiniJSON");
        self.handle.queue_order(device, bytes).await.expect("queued")
    }

    /// The state of order `id`.
    pub fn state(&self, id: i64) -> OrderState {
        let record = self
            .handle
            .storage()
            .order(id)
            .expect("storage")
            .expect("order exists");
        record.state
    }

    /// Waits until `done` holds, failing the test after [`WAIT`].
    pub async fn until(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
