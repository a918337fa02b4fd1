//! `ngtt serve`: run an NGTT server with its admin API until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ngtt_server::{PostgresUrl, Server, ServerConfig, TlsPems};

use crate::error::CliError;

/// Examples shown by `ngtt serve --help`.
pub const EXAMPLES: &str = "\
Examples:
  ngtt pki init --dir pki && ngtt pki device --dir pki --id dev1
  ngtt serve --pki pki --db ngtt.db
  ngtt serve --pki pki --db 'postgres://ngtt@db.example/ngtt?schema=fleet&pool_size=16'
  ngtt serve --pki pki --db 'postgres://ngtt@db.example/ngtt?schema=fleet' --lease-ttl 10   # a node, slow database
  ngtt serve --pki pki --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --http-listen 127.0.0.1:0
  ngtt serve --pki pki --admin-listen 0.0.0.0:2406 --admin-host admin.example.net --admin-tls
  ngtt order list --admin-token-file ngtt.db.admin-token --device dev1
  ngtt serve --pki pki --http-listen 127.0.0.1:8080 --http-plain --trust-proxy-header  # behind a TLS proxy
  ngtt serve --pki pki --listen 0.0.0.0:2405 --listen 0.0.0.0:2408   # also the first revision's port
  ngtt serve --pki pki --tls-max-record 16384 --fetch-grace off      # only clients of our own

Prints `ngtt listening on ADDR` (one line per --listen), `ngtt admin listening on ADDR` and
(unless --no-http) `ngtt http listening on ADDR` once ready; logs go to stderr (RUST_LOG,
default info). The admin API always needs a bearer token: NGTT_ADMIN_TOKEN, else the one in
--admin-token-file (default <db>.admin-token; ./ngtt.db.admin-token with a PostgreSQL URL,
where the admin commands look for it), generated at first start (mode 0600) and
printed once on stderr.
SIGINT or SIGTERM shut down gracefully (exit status 0).";

/// `ngtt serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// PKI directory: DIR/ca.pem is the device CA, DIR/server.pem and DIR/server.key the
    /// server's certificate and key.
    #[arg(long, value_name = "DIR")]
    pki: PathBuf,
    /// NGTT listen address; give it again for more listeners (e.g. 2405 and the first
    /// revision's 2408).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:2405", action = clap::ArgAction::Append)]
    listen: Vec<SocketAddr>,
    /// Largest plaintext per TLS record on the NGTT listeners, 27..=16384 bytes. The published
    /// Python clients need 512 (they read 512 bytes per wake-up, NGTT.md §8).
    #[arg(long = "tls-max-record", value_name = "BYTES", default_value_t = ngtt_server::DEFAULT_TLS_MAX_RECORD)]
    tls_max_record: usize,
    /// Seconds after the handshake when a connection that sent no FETCH_ORDERS gets its orders
    /// anyway (the first revision never asks; fractions allowed), or `off`: only on
    /// FETCH_ORDERS.
    #[arg(long = "fetch-grace", value_name = "SECS|off", default_value = "1", value_parser = parse_grace)]
    fetch_grace: Grace,
    /// Admin API listen address (every request but /healthz needs the token).
    #[arg(long = "admin-listen", value_name = "ADDR", default_value = "127.0.0.1:2406")]
    admin_listen: SocketAddr,
    /// Device HTTP API listen address (HTTPS with device client certificates) [default:
    /// 0.0.0.0:8443, or 127.0.0.1:8443 with --trust-proxy-header].
    #[arg(long = "http-listen", value_name = "ADDR")]
    http_listen: Option<SocketAddr>,
    /// Do not serve the device HTTP API.
    #[arg(long = "no-http", conflicts_with_all = ["trust_proxy_header", "http_plain"])]
    no_http: bool,
    /// Let a request without a client certificate identify its device by the
    /// X-SSL-Client-Certificate header of a TLS-terminating proxy (the certificate must still
    /// chain to the device CA). Spoofable by anyone who can reach the listener directly.
    #[arg(long = "trust-proxy-header")]
    trust_proxy_header: bool,
    /// Serve the device HTTP API as plain HTTP, for a TLS-terminating proxy in front
    /// (requires --trust-proxy-header).
    #[arg(long = "http-plain", requires = "trust_proxy_header")]
    http_plain: bool,
    /// SQLite database file (created if missing), or a PostgreSQL URL
    /// (postgres://user:password@host:port/dbname, plus ?schema=NAME and ?pool_size=N) shared
    /// by several nodes.
    #[arg(long, value_name = "PATH|URL", default_value = "./ngtt.db")]
    db: String,
    /// Unanswered orders allowed per connection.
    #[arg(long = "max-inflight", value_name = "N", default_value_t = 8)]
    max_inflight: usize,
    /// Deprecated (visible in `ps`): the admin API's bearer token; prefer NGTT_ADMIN_TOKEN or
    /// --admin-token-file.
    #[arg(long = "admin-token", value_name = "TOKEN", hide = true)]
    admin_token: Option<String>,
    /// File holding the admin API's bearer token, created (mode 0600) with a random token
    /// when missing [default: <db>.admin-token].
    #[arg(long = "admin-token-file", value_name = "PATH")]
    admin_token_file: Option<PathBuf>,
    /// File of the TLS ticket keys with which devices resume their sessions, also after a
    /// restart (a secret: mode 0600, rolled every 12 h) [default: beside the admin token file,
    /// <db>.tls-tickets].
    #[arg(long = "tls-ticket-file", value_name = "PATH")]
    tls_ticket_file: Option<PathBuf>,
    /// No TLS session resumption on the NGTT listener: every connection makes a full
    /// handshake (certificates and signatures both ways).
    #[arg(long = "no-tls-resumption", conflicts_with = "tls_ticket_file")]
    no_tls_resumption: bool,
    /// Serve the admin API over HTTPS with the server's certificate (--pki's server.pem);
    /// clients give an https:// URL and --admin-ca.
    #[arg(long = "admin-tls")]
    admin_tls: bool,
    /// A name the admin API answers to in the Host header, besides IP addresses and
    /// localhost (repeatable); other names are refused (DNS rebinding).
    #[arg(long = "admin-host", value_name = "NAME", action = clap::ArgAction::Append)]
    admin_host: Vec<String>,
    /// A browser origin allowed to call the admin API, e.g. https://console.example.net
    /// (repeatable); requests from other origins are refused.
    #[arg(long = "admin-allow-origin", value_name = "ORIGIN", action = clap::ArgAction::Append)]
    admin_allow_origin: Vec<String>,
    /// Close a connection that sent nothing for this many seconds.
    #[arg(long = "idle-timeout", value_name = "SECS", default_value_t = 120)]
    idle_timeout: u64,
    /// Hold the answer to a device's keepalive PING this many seconds (0: at once; at most
    /// 60, and at most half the idle timeout). An idle device pings 30 s after its last write
    /// and only once answered, so 60 halves the keepalive traffic and the server's idle CPU.
    /// Only a PING after a third of the delay in silence is held; any other frame from the
    /// device, or anything written to it, releases the answer at once.
    #[arg(long = "ping-answer-delay", value_name = "SECS",
          default_value_t = ngtt_server::DEFAULT_PING_ANSWER_DELAY.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=60))]
    ping_answer_delay: u64,
    /// Close a connection whose writes made no progress for this many seconds (the device
    /// does not read).
    #[arg(long = "write-timeout", value_name = "SECS", default_value_t = 90)]
    write_timeout: u64,
    /// Largest frame payload accepted, in bytes.
    #[arg(long = "max-frame-len", value_name = "BYTES", default_value_t = ngtt_proto::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: usize,
    /// NGTT connections served at once; more are closed before the TLS handshake.
    #[arg(long = "max-connections", value_name = "N", default_value_t = ngtt_server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Largest BAOB accepted from a device or through the admin API, in bytes (streamed to
    /// the database, never held in memory whole).
    #[arg(long = "max-baob-len", value_name = "BYTES", default_value_t = ngtt_server::DEFAULT_MAX_BAOB_LEN)]
    max_baob_len: u64,
    /// Seconds allowed for a TLS handshake (NGTT and device HTTP API; fractions allowed).
    #[arg(long = "handshake-timeout", value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    handshake_timeout: Duration,
    /// Connections still in the TLS handshake per source address (IPv4, or IPv6 /64); a new
    /// one from a source at its limit takes the slot of that source's oldest handshake.
    #[arg(long = "max-handshakes-per-source", value_name = "N", default_value_t = ngtt_server::DEFAULT_MAX_HANDSHAKES_PER_SOURCE)]
    max_handshakes_per_source: usize,
    /// Device HTTP API connections served at once; more are closed before the TLS handshake.
    #[arg(long = "http-max-connections", value_name = "N", default_value_t = ngtt_server::DEFAULT_HTTP_MAX_CONNECTIONS)]
    http_max_connections: usize,
    /// Seconds a device HTTP API request body may take before a minimum rate applies
    /// (--http-body-min-rate); a body that falls behind is cut with its connection.
    #[arg(long = "http-body-timeout", value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    http_body_timeout: Duration,
    /// Bytes per second a device HTTP API request body must average beyond --http-body-timeout.
    #[arg(long = "http-body-min-rate", value_name = "BYTES", default_value_t = ngtt_server::DEFAULT_HTTP_BODY_MIN_RATE)]
    http_body_min_rate: u64,
    /// Listen queue length of every listener, sized for a reconnect storm (the kernel caps it
    /// at net.core.somaxconn).
    #[arg(long = "listen-backlog", value_name = "N", default_value_t = ngtt_server::DEFAULT_LISTEN_BACKLOG)]
    listen_backlog: u32,
    /// File descriptors kept aside for the admin API, storage and logs; the connection limits
    /// are lowered (with a warning) to what the open-file limit minus this holds.
    #[arg(long = "fd-reserve", value_name = "N", default_value_t = ngtt_server::DEFAULT_FD_RESERVE)]
    fd_reserve: usize,
    /// Takeovers of one device id per minute (a new connection replacing the live one)
    /// before they are spaced out by --takeover-spacing.
    #[arg(long = "takeovers-per-minute", value_name = "N", default_value_t = ngtt_server::DEFAULT_TAKEOVERS_PER_MINUTE)]
    takeovers_per_minute: usize,
    /// Seconds between two takeovers of one device id beyond --takeovers-per-minute.
    #[arg(long = "takeover-spacing", value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    takeover_spacing: Duration,
    /// Budgets on what payloads may cost.
    #[command(flatten)]
    budgets: crate::serve_budgets::BudgetArgs,
    /// With a PostgreSQL --db, this node's id (no tab nor comma) among the nodes sharing the database [default:
    /// host, process id and start time: new at every start].
    #[arg(long = "node-id", value_name = "ID")]
    node_id: Option<String>,
    /// With a PostgreSQL --db, seconds a node counts as alive after renewing (every fifth of
    /// it): the longest the devices of a node cut off from the database wait for their orders
    /// on another node (a killed node's lock tells its death at once).
    #[arg(long = "lease-ttl", value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    lease_ttl: Duration,
    /// With a PostgreSQL --db, seconds between two sweeps that wake the connections of this
    /// node whose devices have queued orders (a cross-node notification may have been lost).
    #[arg(long = "cluster-sweep", value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    cluster_sweep: Duration,
}

/// A positive number of seconds, fractions allowed, at most a day.
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero() && *d <= Duration::from_secs(86_400))
        .ok_or_else(|| format!("{text:?}: must be more than 0 and at most 86400 seconds"))
}

/// Where the device HTTP API listens: the address given, else loopback when the proxy header
/// is trusted (only the proxy on this host should reach it), else every interface.
pub fn http_listen_addr(given: Option<SocketAddr>, trust_proxy_header: bool) -> SocketAddr {
    given.unwrap_or_else(|| {
        let ip = if trust_proxy_header {
            std::net::Ipv4Addr::LOCALHOST
        } else {
            std::net::Ipv4Addr::UNSPECIFIED
        };
        SocketAddr::from((ip, ngtt_server::DEFAULT_HTTP_PORT))
    })
}

/// `--fetch-grace`: a delay, or none.
#[derive(Clone, Copy, Debug)]
struct Grace(Option<Duration>);

fn parse_grace(text: &str) -> Result<Grace, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(Grace(None));
    }
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is neither a number of seconds nor `off`"))?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= Duration::from_secs(3600))
        .map(|d| Grace(Some(d)))
        .ok_or_else(|| format!("{text:?}: the grace must be 0..=3600 seconds"))
}

/// Completes on SIGINT or SIGTERM. The handlers are installed before this returns, so that a
/// signal arriving right after the "listening" lines is not fatal.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    use tokio::signal::unix::{signal, SignalKind};
    let io = |source| CliError::Io {
        context: "installing signal handlers",
        source,
    };
    let mut interrupt = signal(SignalKind::interrupt()).map_err(io)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(io)?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Runs the server until a signal, printing the listening lines to `out`.
pub fn run(args: &ServeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    crate::runtime::init_logging();
    let tls = TlsPems::from_pki_dir(&args.pki)?;
    let mut config = ServerConfig::new(tls, &args.db);
    if PostgresUrl::is_postgres(&args.db) {
        // The error names the URL without its password.
        config.postgres = Some(PostgresUrl::parse(&args.db).map_err(ngtt_server::StorageError::Invalid)?);
    }
    let mut listens = args.listen.iter().copied();
    if let Some(first) = listens.next() {
        config.listen = first;
    }
    config.extra_listen = listens.collect();
    config.tls_max_record = args.tls_max_record;
    config.fetch_grace = args.fetch_grace.0;
    config.admin_listen = Some(args.admin_listen);
    config.admin_token = crate::admin_token::serve_token(args.admin_token.as_deref());
    config.admin_token_file = args.admin_token_file.clone();
    config.tls_ticket_file = args.tls_ticket_file.clone();
    config.tls_resumption = !args.no_tls_resumption;
    config.admin_hosts = args.admin_host.clone();
    config.admin_tls = args.admin_tls;
    config.admin_allow_origins = args.admin_allow_origin.clone();
    config.http_listen = (!args.no_http).then(|| http_listen_addr(args.http_listen, args.trust_proxy_header));
    config.trust_proxy_header = args.trust_proxy_header;
    config.http_plain = args.http_plain;
    config.max_inflight_orders = args.max_inflight;
    config.max_connections = args.max_connections;
    config.max_frame_len = args.max_frame_len;
    config.max_baob_len = args.max_baob_len;
    config.idle_timeout = Duration::from_secs(args.idle_timeout.max(1));
    config.ping_answer_delay = Duration::from_secs(args.ping_answer_delay);
    config.handshake_timeout = args.handshake_timeout;
    config.max_handshakes_per_source = args.max_handshakes_per_source;
    config.http_max_connections = args.http_max_connections;
    config.http_body_timeout = args.http_body_timeout;
    config.http_body_min_rate = args.http_body_min_rate;
    config.listen_backlog = args.listen_backlog;
    config.fd_reserve = args.fd_reserve;
    config.takeovers_per_minute = args.takeovers_per_minute;
    config.takeover_spacing = args.takeover_spacing;
    if let Some(node_id) = &args.node_id {
        config.cluster.node_id = node_id.clone();
    }
    config.cluster.lease_ttl = args.lease_ttl;
    config.cluster.sweep_every = args.cluster_sweep;
    config.write_timeout = Duration::from_secs(args.write_timeout.max(1));
    config.budgets = args.budgets.budgets();
    // Before the runtime's threads exist, so that they share the capped arenas.
    ngtt_server::tune_allocator();
    let runtime = crate::runtime::runtime(true)?;
    runtime.block_on(async {
        let signal = shutdown_signal()?;
        let server = Server::bind(config).await?;
        for addr in server.local_addrs() {
            writeln!(out, "ngtt listening on {addr}").map_err(CliError::write)?;
        }
        if let (Some(path), Some(token)) = (server.admin_token_generated(), server.admin_token()) {
            eprintln!("ngtt admin token {token} in {} (shown once)", path.display());
        }
        if let Some(admin) = server.admin_addr() {
            writeln!(out, "ngtt admin listening on {admin}").map_err(CliError::write)?;
        }
        if let Some(http) = server.http_addr() {
            writeln!(out, "ngtt http listening on {http}").map_err(CliError::write)?;
        }
        out.flush().map_err(CliError::write)?;
        server.run_until(signal).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusting_the_proxy_header_binds_loopback_unless_an_address_is_given() {
        assert_eq!(http_listen_addr(None, true).to_string(), "127.0.0.1:8443");
        assert_eq!(http_listen_addr(None, false).to_string(), "0.0.0.0:8443");
        let given: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        assert_eq!(http_listen_addr(Some(given), true), given);
    }

    #[test]
    fn seconds_must_be_positive_and_bounded() {
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("1e9").is_err());
        assert!(parse_secs("soon").is_err());
    }
}
