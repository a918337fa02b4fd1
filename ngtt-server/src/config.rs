//! [`ServerConfig`]: addresses, database, TLS material, limits and timings.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::ServerError;

/// Default NGTT port (NGTT.md §1).
pub const DEFAULT_PORT: u16 = 2405;
/// Default admin API port.
pub const DEFAULT_ADMIN_PORT: u16 = 2406;
/// Default port of the device HTTP API (`ngtt serve --http-listen`).
pub const DEFAULT_HTTP_PORT: u16 = 8443;
/// Largest request body the device HTTP API accepts (16 MiB).
pub const MAX_HTTP_BODY: usize = 16 << 20;
/// Default of [`ServerConfig::max_baob_len`]: 64 MiB.
pub const DEFAULT_MAX_BAOB_LEN: u64 = 64 << 20;
/// Default window of unanswered ORDER frames per connection (NGTT.md §4.3).
pub const DEFAULT_MAX_INFLIGHT_ORDERS: usize = 8;
/// Default largest TLS record plaintext on the NGTT listener: 512 bytes, what the published
/// clients read per wake-up (NGTT.md §8).
pub const DEFAULT_TLS_MAX_RECORD: usize = 512;
/// The range of [`ServerConfig::tls_max_record`]: rustls's minimum record size (32 bytes with
/// the 5-byte header) up to the TLS maximum of 16 KiB.
pub const TLS_MAX_RECORD_RANGE: std::ops::RangeInclusive<usize> = 27..=16384;
/// Default of [`ServerConfig::fetch_grace`]: 1 s.
pub const DEFAULT_FETCH_GRACE: Duration = Duration::from_secs(1);
/// Largest window accepted: server tids are taken from 1..=0x7FFF and must not be reused while
/// unanswered.
pub const MAX_INFLIGHT_LIMIT: usize = 0x4000;

/// The TLS material of a server, PEM-encoded.
#[derive(Clone)]
pub struct TlsPems {
    /// The CA(s) that sign device certificates: only clients with a certificate chaining to one
    /// of them are accepted.
    pub device_ca: String,
    /// The server's certificate chain, leaf first.
    pub server_cert: String,
    /// The server's private key (PKCS#8, PKCS#1 or SEC1).
    pub server_key: String,
}

impl std::fmt::Debug for TlsPems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPems")
            .field("device_ca", &self.device_ca)
            .field("server_cert", &self.server_cert)
            .field("server_key", &"<redacted>")
            .finish()
    }
}

impl TlsPems {
    /// Reads the three PEM files.
    pub fn from_files(
        device_ca: &Path,
        server_cert: &Path,
        server_key: &Path,
    ) -> Result<TlsPems, ServerError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| ServerError::ReadFile {
                path: path.to_owned(),
                source,
            })
        };
        Ok(TlsPems {
            device_ca: read(device_ca)?,
            server_cert: read(server_cert)?,
            server_key: read(server_key)?,
        })
    }

    /// Reads `DIR/ca.pem`, `DIR/server.pem` and `DIR/server.key`: the layout `ngtt pki init`
    /// writes.
    pub fn from_pki_dir(dir: &Path) -> Result<TlsPems, ServerError> {
        TlsPems::from_files(
            &dir.join("ca.pem"),
            &dir.join("server.pem"),
            &dir.join("server.key"),
        )
    }
}

/// Everything a [`crate::Server`] needs. Build it with [`ServerConfig::new`] and adjust the
/// public fields.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where devices connect (default `0.0.0.0:2405`). Port 0 picks a free port; see
    /// [`crate::Server::local_addr`].
    pub listen: SocketAddr,
    /// More NGTT listeners, served exactly like `listen` (e.g. the first revision's port 2408
    /// beside 2405). Empty by default.
    pub extra_listen: Vec<SocketAddr>,
    /// Largest plaintext carried by one TLS record on the NGTT listeners (default
    /// [`DEFAULT_TLS_MAX_RECORD`], 512 bytes; within [`TLS_MAX_RECORD_RANGE`]). The published
    /// clients read 512 bytes per `select()` wake-up, so plaintext decrypted beyond that waits
    /// unseen until the next packet (NGTT.md §8); 16384 gives the largest records rustls writes.
    pub tls_max_record: usize,
    /// How long after the TLS handshake a connection that sent no FETCH_ORDERS starts receiving
    /// its queued orders anyway (NGTT.md §4.1: the first revision has no FETCH_ORDERS); default
    /// [`DEFAULT_FETCH_GRACE`]. `None`: only after FETCH_ORDERS (connections that never ask are
    /// data-only, and the device HTTP API keeps handing their orders out).
    pub fetch_grace: Option<Duration>,
    /// Where the admin HTTP API listens (default `127.0.0.1:2406`); `None` disables it.
    pub admin_listen: Option<SocketAddr>,
    /// Where the device HTTP API (HTTP-API.md) listens; `None` (the default of
    /// [`ServerConfig::new`]) disables it. `ngtt serve` enables it on `0.0.0.0:8443`.
    pub http_listen: Option<SocketAddr>,
    /// Trust the `X-SSL-Client-Certificate` header of a TLS-terminating proxy: a request
    /// without a client certificate may identify its device by that header (the certificate
    /// must still chain to the device CA). Off by default: the header is spoofable.
    pub trust_proxy_header: bool,
    /// Serve the device HTTP API as plain HTTP (behind a TLS-terminating proxy). Only allowed
    /// together with `trust_proxy_header`.
    pub http_plain: bool,
    /// Bearer token of the admin API. Required when `admin_listen` is not a loopback address;
    /// when set, every `/v1/...` request must carry `Authorization: Bearer <token>`.
    pub admin_token: Option<String>,
    /// The SQLite database file (created if missing).
    pub db_path: PathBuf,
    /// TLS certificates and key.
    pub tls: TlsPems,
    /// Unanswered ORDER frames allowed per connection (default 8, at most
    /// [`MAX_INFLIGHT_LIMIT`]).
    pub max_inflight_orders: usize,
    /// Largest frame payload accepted from a device (default 16 MiB). Larger frames are a
    /// protocol error. Orders queued through the admin API must fit too.
    pub max_frame_len: usize,
    /// A connection that sent nothing for this long is closed (default 120 s).
    pub idle_timeout: Duration,
    /// Time allowed for the TLS handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// Time allowed to send TLS close_notify when closing a connection (default 2 s).
    pub close_timeout: Duration,
    /// On shutdown, time allowed for connections to finish before they are aborted (default
    /// 10 s).
    pub shutdown_grace: Duration,
    /// NGTT connections served at once, handshakes included (default
    /// [`DEFAULT_MAX_CONNECTIONS`]). A connection beyond the limit is closed at once, before
    /// any TLS work, and logged; the device retries with its backoff. It protects the server's
    /// memory and file descriptors from a reconnect storm or a flood of idle sockets.
    pub max_connections: usize,
    /// Largest BAOB accepted, in bytes, from a device (`PUT /v1/device/baobs/{key}`) or an
    /// operator (admin API); default [`DEFAULT_MAX_BAOB_LEN`]. BAOBs are streamed to and from
    /// storage in 1 MiB chunks, so this bounds the database, not the server's memory.
    pub max_baob_len: u64,
    /// The storage's worker pool and group commit batches (see [`crate::storage::Store`]).
    /// `batch_ops = 1` gives every hot-path write its own commit, as before group commit.
    pub storage: crate::storage::StoreLimits,
}

/// Default of [`ServerConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

impl ServerConfig {
    /// A configuration with the defaults: NGTT on `0.0.0.0:2405`, admin API on
    /// `127.0.0.1:2406`, device HTTP API off, 8 orders in flight, 16 MiB frames, 120 s idle
    /// timeout.
    pub fn new(tls: TlsPems, db_path: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, DEFAULT_PORT)),
            extra_listen: Vec::new(),
            tls_max_record: DEFAULT_TLS_MAX_RECORD,
            fetch_grace: Some(DEFAULT_FETCH_GRACE),
            admin_listen: Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::LOCALHOST,
                DEFAULT_ADMIN_PORT,
            ))),
            http_listen: None,
            trust_proxy_header: false,
            http_plain: false,
            admin_token: None,
            db_path: db_path.into(),
            tls,
            max_inflight_orders: DEFAULT_MAX_INFLIGHT_ORDERS,
            max_frame_len: ngtt_proto::DEFAULT_MAX_FRAME_LEN,
            idle_timeout: Duration::from_secs(120),
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(10),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_baob_len: DEFAULT_MAX_BAOB_LEN,
            storage: crate::storage::StoreLimits::default(),
        }
    }

    /// Checks the limits, the admin token rule and the device HTTP API's flags.
    pub fn validate(&self) -> Result<(), ServerError> {
        if self.http_plain && !self.trust_proxy_header {
            return Err(ServerError::Config(
                "plain HTTP for the device HTTP API (--http-plain) requires trusting the proxy \
                 header (--trust-proxy-header): without a TLS client certificate it is the only \
                 way a device can identify itself"
                    .into(),
            ));
        }
        if !(1..=MAX_INFLIGHT_LIMIT).contains(&self.max_inflight_orders) {
            return Err(ServerError::Config(format!(
                "max_inflight_orders must be 1..={MAX_INFLIGHT_LIMIT}, not {}",
                self.max_inflight_orders
            )));
        }
        if !TLS_MAX_RECORD_RANGE.contains(&self.tls_max_record) {
            return Err(ServerError::Config(format!(
                "tls_max_record must be {}..={} bytes, not {}",
                TLS_MAX_RECORD_RANGE.start(),
                TLS_MAX_RECORD_RANGE.end(),
                self.tls_max_record
            )));
        }
        if self.max_frame_len < 64 {
            return Err(ServerError::Config(format!(
                "max_frame_len must be at least 64 bytes, not {}",
                self.max_frame_len
            )));
        }
        if self.max_baob_len == 0 {
            return Err(ServerError::Config("max_baob_len must be at least 1 byte".into()));
        }
        if self.max_connections == 0 {
            return Err(ServerError::Config("max_connections must be at least 1".into()));
        }
        if self.idle_timeout.is_zero() || self.handshake_timeout.is_zero() {
            return Err(ServerError::Config("timeouts must not be zero".into()));
        }
        if let Some(token) = &self.admin_token {
            if token.is_empty() {
                return Err(ServerError::Config("the admin token must not be empty".into()));
            }
        }
        if let Some(addr) = self.admin_listen {
            if !addr.ip().is_loopback() && self.admin_token.is_none() {
                return Err(ServerError::AdminTokenRequired(addr));
            }
        }
        Ok(())
    }
}
