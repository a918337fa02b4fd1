//! [`ServerConfig`]: addresses, database, TLS material, limits and timings.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::ServerError;

/// Default NGTT port (NGTT.md §1).
pub const DEFAULT_PORT: u16 = 2405;
/// Default admin API port.
pub const DEFAULT_ADMIN_PORT: u16 = 2406;
/// The admin token file of a server on PostgreSQL when `admin_token_file` is not set:
/// `ngtt.db.admin-token` in the working directory, where every `ngtt` admin command looks last.
pub const DEFAULT_POSTGRES_TOKEN_FILE: &str = "ngtt.db.admin-token";
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
/// Largest [`ServerConfig::ping_answer_delay`]: 60 s (the published client drops a connection
/// whose ping is unanswered 90 s after its last write).
pub const MAX_PING_ANSWER_DELAY: Duration = Duration::from_secs(60);
/// Default of [`ServerConfig::ping_answer_delay`]: 60 s, halving an idle fleet's keepalive.
pub const DEFAULT_PING_ANSWER_DELAY: Duration = MAX_PING_ANSWER_DELAY;

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
    /// How long the answer to a device's keepalive PING is held (default
    /// [`DEFAULT_PING_ANSWER_DELAY`], 60 s; at most [`MAX_PING_ANSWER_DELAY`]; zero: answered
    /// at once). A device pings after 30 s without writing and only with no ping outstanding,
    /// so the delay sets an idle device's keepalive period to `max(30 s, delay)`: 60 s halves
    /// the keepalive bytes and the server's idle CPU. Only a keepalive is held — a PING read
    /// after at least a third of the delay in which the device sent nothing; a PING that
    /// follows other frames (a proof of reading after LOGS) is answered at once, and any other
    /// frame from the device, or anything written to it, releases what is held. Held at most
    /// half of [`ServerConfig::idle_timeout`], so that the device's next ping comes in time.
    /// The published client drops a connection whose ping stays unanswered 90 s after its
    /// last write, hence the bound.
    pub ping_answer_delay: Duration,
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
    /// Bearer token of the admin API: every `/v1/...` request must carry `Authorization:
    /// Bearer <token>`. `None` (the default): the token in [`ServerConfig::admin_token_file`],
    /// generated there at first start.
    pub admin_token: Option<String>,
    /// The file holding the admin token when `admin_token` is `None`; `None` (the default):
    /// `<database>.admin-token` beside [`ServerConfig::db_path`]
    /// ([`crate::default_admin_token_file`]). Created with mode 0600 and 256 random bits
    /// when missing.
    pub admin_token_file: Option<PathBuf>,
    /// TLS session resumption on the NGTT listener (stateless TLS 1.3 tickets, keys in
    /// [`ServerConfig::tls_ticket_file`], rolled every 12 h): a device reconnecting within a
    /// day, also after a restart of the server, resumes without certificates or signatures.
    /// On by default; off, every connection makes a full handshake.
    pub tls_resumption: bool,
    /// The file of the TLS ticket keys (mode 0600, a secret like the server's key); `None`
    /// (the default): beside the admin token file, `<database>.tls-tickets`
    /// ([`ServerConfig::tls_ticket_path`]).
    pub tls_ticket_file: Option<PathBuf>,
    /// Serve the admin API over HTTPS with the server's certificate ([`TlsPems::server_cert`]),
    /// without client certificates (the bearer token authenticates). Off by default.
    pub admin_tls: bool,
    /// Names the admin API answers to in the `Host` header, besides IP addresses and
    /// `localhost` (e.g. `admin.example.net`); other names are refused, against DNS rebinding.
    pub admin_hosts: Vec<String>,
    /// Browser origins (`https://console.example.net`) allowed to call the admin API; requests
    /// with any other `Origin` header are refused. Empty by default.
    pub admin_allow_origins: Vec<String>,
    /// The SQLite database file (created if missing); unused when [`ServerConfig::postgres`]
    /// is set.
    pub db_path: PathBuf,
    /// A PostgreSQL database to use instead of the SQLite file (`ngtt serve --db
    /// postgres://…`): several nodes can share it. `None` (the default): SQLite at `db_path`.
    pub postgres: Option<crate::storage::PostgresUrl>,
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
    /// A connection is closed when what the server writes to it makes no progress for this
    /// long (default 90 s): the device does not read (a full receive window), so holding the
    /// connection would only pin its memory and slot. Unanswered orders go back to the queue.
    pub write_timeout: Duration,
    /// Time allowed for the TLS handshake (default [`DEFAULT_HANDSHAKE_TIMEOUT`], 5 s), on the
    /// NGTT listeners and the device HTTP API.
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
    /// Connections still in the TLS handshake allowed per source address (an IPv4 address or
    /// an IPv6 /64), on the NGTT listeners and on the device HTTP API each (default
    /// [`DEFAULT_MAX_HANDSHAKES_PER_SOURCE`]). A new connection from a source at its limit
    /// takes the slot of that source's oldest handshake, so idle sockets cannot hold the
    /// connection slots and a real device behind the same address still gets in.
    pub max_handshakes_per_source: usize,
    /// Connections of the device HTTP API served at once, handshakes included (default
    /// [`DEFAULT_HTTP_MAX_CONNECTIONS`]); more are closed before any TLS work.
    pub http_max_connections: usize,
    /// Time a device HTTP API request body may take before any rate applies (default
    /// [`DEFAULT_HTTP_BODY_TIMEOUT`], 30 s); beyond it the body must have averaged
    /// `http_body_min_rate` bytes per second, or the connection is cut.
    pub http_body_timeout: Duration,
    /// Bytes per second a device HTTP API request body must average beyond
    /// `http_body_timeout` (default [`DEFAULT_HTTP_BODY_MIN_RATE`], 16 KiB/s).
    pub http_body_min_rate: u64,
    /// Length of the listen queue of every listener (default [`DEFAULT_LISTEN_BACKLOG`]; the
    /// kernel caps it at `net.core.somaxconn`). Sized for a reconnect storm: every device of
    /// a fleet reconnecting within a second after a restart.
    pub listen_backlog: u32,
    /// File descriptors kept aside for the admin API, storage, logs and listeners (default
    /// [`DEFAULT_FD_RESERVE`]). At start the soft open-file limit is raised to the hard one,
    /// and `max_connections` and `http_max_connections` are lowered (with one warning) to what
    /// the limit minus this reserve holds.
    pub fd_reserve: usize,
    /// Takeovers of one device id (a new connection replacing the live one) allowed per
    /// minute before they are spaced out (default [`DEFAULT_TAKEOVERS_PER_MINUTE`]).
    pub takeovers_per_minute: usize,
    /// Beyond `takeovers_per_minute`, the time between two takeovers of one device id
    /// (default [`DEFAULT_TAKEOVER_SPACING`], 10 s); a takeover that would wait more than
    /// six times this is refused. The first delayed takeover is reported once at WARN, as a
    /// probable certificate shared by two devices.
    pub takeover_spacing: Duration,
    /// The storage's worker pool and group commit batches (see [`crate::storage::Store`]).
    /// `batch_ops = 1` gives every hot-path write its own commit, as before group commit.
    pub storage: crate::storage::StoreLimits,
    /// What a peer's payload may cost: inflation of compressed logs, decoded memory, log
    /// batches ([`crate::Budgets`], documented in `docs/operations.md`, "Security").
    pub budgets: crate::Budgets,
    /// With [`ServerConfig::postgres`], several nodes may share the database: how this node
    /// coordinates with the others (which node delivers a device's orders, wake-ups across
    /// nodes; docs/architecture.md, "Several nodes"). Unused on SQLite (one node, coordinated
    /// in-process).
    pub cluster: crate::ClusterConfig,
}

/// Default of [`ServerConfig::handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default of [`ServerConfig::max_handshakes_per_source`].
pub const DEFAULT_MAX_HANDSHAKES_PER_SOURCE: usize = 16;
/// Default of [`ServerConfig::http_max_connections`].
pub const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 1024;
/// Default of [`ServerConfig::http_body_timeout`].
pub const DEFAULT_HTTP_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`ServerConfig::http_body_min_rate`].
pub const DEFAULT_HTTP_BODY_MIN_RATE: u64 = 16 * 1024;
/// Default of [`ServerConfig::listen_backlog`].
pub const DEFAULT_LISTEN_BACKLOG: u32 = 4096;
/// Default of [`ServerConfig::fd_reserve`].
pub const DEFAULT_FD_RESERVE: usize = 128;
/// Default of [`ServerConfig::takeovers_per_minute`].
pub const DEFAULT_TAKEOVERS_PER_MINUTE: usize = 6;
/// Default of [`ServerConfig::takeover_spacing`].
pub const DEFAULT_TAKEOVER_SPACING: Duration = Duration::from_secs(10);

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
            ping_answer_delay: DEFAULT_PING_ANSWER_DELAY,
            admin_listen: Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::LOCALHOST,
                DEFAULT_ADMIN_PORT,
            ))),
            http_listen: None,
            trust_proxy_header: false,
            http_plain: false,
            admin_token: None,
            admin_token_file: None,
            tls_resumption: true,
            tls_ticket_file: None,
            admin_tls: false,
            admin_hosts: Vec::new(),
            admin_allow_origins: Vec::new(),
            db_path: db_path.into(),
            postgres: None,
            tls,
            max_inflight_orders: DEFAULT_MAX_INFLIGHT_ORDERS,
            max_frame_len: ngtt_proto::DEFAULT_MAX_FRAME_LEN,
            idle_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(90),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            close_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(10),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_baob_len: DEFAULT_MAX_BAOB_LEN,
            max_handshakes_per_source: DEFAULT_MAX_HANDSHAKES_PER_SOURCE,
            http_max_connections: DEFAULT_HTTP_MAX_CONNECTIONS,
            http_body_timeout: DEFAULT_HTTP_BODY_TIMEOUT,
            http_body_min_rate: DEFAULT_HTTP_BODY_MIN_RATE,
            listen_backlog: DEFAULT_LISTEN_BACKLOG,
            fd_reserve: DEFAULT_FD_RESERVE,
            takeovers_per_minute: DEFAULT_TAKEOVERS_PER_MINUTE,
            takeover_spacing: DEFAULT_TAKEOVER_SPACING,
            storage: crate::storage::StoreLimits::default(),
            budgets: crate::Budgets::default(),
            cluster: crate::ClusterConfig::default(),
        }
    }

    /// How long keepalive answers are held: [`ServerConfig::ping_answer_delay`], at most half
    /// of [`ServerConfig::idle_timeout`].
    pub fn effective_ping_answer_delay(&self) -> Duration {
        self.ping_answer_delay.min(self.idle_timeout / 2)
    }

    /// Checks the limits, the admin token and the device HTTP API's flags.
    pub fn validate(&self) -> Result<(), ServerError> {
        self.cluster.validate()?;
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
        if self.max_handshakes_per_source == 0
            || self.http_max_connections == 0
            || self.listen_backlog == 0
            || self.http_body_min_rate == 0
        {
            return Err(ServerError::Config(
                "max_handshakes_per_source, http_max_connections, listen_backlog and \
                 http_body_min_rate must be at least 1"
                    .into(),
            ));
        }
        if self.idle_timeout.is_zero() || self.write_timeout.is_zero() || self.handshake_timeout.is_zero() {
            return Err(ServerError::Config("timeouts must not be zero".into()));
        }
        if self.ping_answer_delay > MAX_PING_ANSWER_DELAY {
            return Err(ServerError::Config(format!(
                "ping_answer_delay is {:?}: at most {MAX_PING_ANSWER_DELAY:?} (the published client \
                 drops a connection whose ping is unanswered 90 s after its last write)",
                self.ping_answer_delay
            )));
        }
        self.budgets.validate().map_err(ServerError::Config)?;
        if let Some(token) = &self.admin_token {
            if token.is_empty() {
                return Err(ServerError::Config("the admin token must not be empty".into()));
            }
        }
        Ok(())
    }

    /// Where the admin token is read from or generated when [`ServerConfig::admin_token`] is
    /// `None`.
    pub fn admin_token_path(&self) -> PathBuf {
        self.admin_token_file
            .clone()
            .unwrap_or_else(|| match &self.postgres {
                // No database file to put it beside: the file every `ngtt` admin command reads
                // by default, in the working directory.
                Some(_) => PathBuf::from(DEFAULT_POSTGRES_TOKEN_FILE),
                None => crate::admin::auth::default_token_file(&self.db_path),
            })
    }

    /// Where the TLS ticket keys are kept when [`ServerConfig::tls_resumption`] is on: the
    /// configured file, else beside the admin token file, its name with `.tls-tickets` in
    /// place of `.admin-token` (`<database>.tls-tickets` on SQLite). `None` on PostgreSQL
    /// when no admin token file is used (the token given directly, or no admin API): there is no file to put the
    /// keys beside, so they are kept in memory (sessions resume until the server restarts).
    pub fn tls_ticket_path(&self) -> Option<PathBuf> {
        if let Some(file) = &self.tls_ticket_file {
            return Some(file.clone());
        }
        let token_file_used = self.admin_token.is_none() && self.admin_listen.is_some();
        if self.postgres.is_some() && self.admin_token_file.is_none() && !token_file_used {
            return None;
        }
        let token = self.admin_token_path();
        let name = token
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name.strip_suffix(".admin-token").unwrap_or(&name);
        Some(token.with_file_name(format!("{stem}.tls-tickets")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ServerConfig {
        let pems = TlsPems {
            device_ca: String::new(),
            server_cert: String::new(),
            server_key: String::new(),
        };
        ServerConfig::new(pems, "db")
    }

    #[test]
    fn the_ping_answer_delay_is_bounded_by_the_clients_patience_and_the_idle_timeout() {
        let mut c = config();
        assert_eq!(c.ping_answer_delay, DEFAULT_PING_ANSWER_DELAY);
        assert!(c.validate().is_ok());
        assert_eq!(c.effective_ping_answer_delay(), Duration::from_secs(60));
        c.ping_answer_delay = Duration::ZERO;
        assert!(c.validate().is_ok(), "zero: answered at once");
        c.ping_answer_delay = MAX_PING_ANSWER_DELAY + Duration::from_millis(1);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("at most 60s"), "{e}");
        // A shorter idle timeout shortens the hold: the device's next ping must come in time.
        c.ping_answer_delay = MAX_PING_ANSWER_DELAY;
        c.idle_timeout = Duration::from_secs(30);
        assert!(c.validate().is_ok());
        assert_eq!(c.effective_ping_answer_delay(), Duration::from_secs(15));
    }
}
