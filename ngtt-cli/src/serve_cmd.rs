//! `ngtt serve`: run an NGTT server with its admin API until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ngtt_server::{Server, ServerConfig, TlsPems};

use crate::error::CliError;

/// Examples shown by `ngtt serve --help`.
pub const EXAMPLES: &str = "\
Examples:
  ngtt pki init --dir pki && ngtt pki device --dir pki --id dev1
  ngtt serve --pki pki --db ngtt.db
  ngtt serve --pki pki --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --http-listen 127.0.0.1:0
  NGTT_ADMIN_TOKEN=s3cret ngtt serve --pki pki --admin-listen 0.0.0.0:2406
  ngtt serve --pki pki --http-listen 127.0.0.1:8080 --http-plain --trust-proxy-header  # behind a TLS proxy
  ngtt serve --pki pki --listen 0.0.0.0:2405 --listen 0.0.0.0:2408   # also the first revision's port
  ngtt serve --pki pki --tls-max-record 16384 --fetch-grace off      # only clients of our own

Prints `ngtt listening on ADDR` (one line per --listen), `ngtt admin listening on ADDR` and
(unless --no-http) `ngtt http listening on ADDR` once ready; logs go to stderr (RUST_LOG,
default info).
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
    /// Admin API listen address (a non-loopback address requires a token).
    #[arg(long = "admin-listen", value_name = "ADDR", default_value = "127.0.0.1:2406")]
    admin_listen: SocketAddr,
    /// Device HTTP API listen address (HTTPS with device client certificates).
    #[arg(long = "http-listen", value_name = "ADDR", default_value = "0.0.0.0:8443")]
    http_listen: SocketAddr,
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
    /// SQLite database file (created if missing).
    #[arg(long, value_name = "PATH", default_value = "./ngtt.db")]
    db: PathBuf,
    /// Unanswered orders allowed per connection.
    #[arg(long = "max-inflight", value_name = "N", default_value_t = 8)]
    max_inflight: usize,
    /// Bearer token required by the admin API [env: NGTT_ADMIN_TOKEN].
    #[arg(long = "admin-token", value_name = "TOKEN")]
    admin_token: Option<String>,
    /// Close a connection that sent nothing for this many seconds.
    #[arg(long = "idle-timeout", value_name = "SECS", default_value_t = 120)]
    idle_timeout: u64,
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

/// The admin token from `--admin-token`, else from `NGTT_ADMIN_TOKEN` (empty means none).
pub fn admin_token(arg: &Option<String>) -> Option<String> {
    arg.clone()
        .or_else(|| std::env::var("NGTT_ADMIN_TOKEN").ok())
        .filter(|t| !t.is_empty())
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
    let mut listens = args.listen.iter().copied();
    if let Some(first) = listens.next() {
        config.listen = first;
    }
    config.extra_listen = listens.collect();
    config.tls_max_record = args.tls_max_record;
    config.fetch_grace = args.fetch_grace.0;
    config.admin_listen = Some(args.admin_listen);
    config.admin_token = admin_token(&args.admin_token);
    config.http_listen = (!args.no_http).then_some(args.http_listen);
    config.trust_proxy_header = args.trust_proxy_header;
    config.http_plain = args.http_plain;
    config.max_inflight_orders = args.max_inflight;
    config.max_connections = args.max_connections;
    config.max_frame_len = args.max_frame_len;
    config.max_baob_len = args.max_baob_len;
    config.idle_timeout = Duration::from_secs(args.idle_timeout.max(1));
    config.write_timeout = Duration::from_secs(args.write_timeout.max(1));
    let runtime = crate::runtime::runtime(true)?;
    runtime.block_on(async {
        let signal = shutdown_signal()?;
        let server = Server::bind(config).await?;
        for addr in server.local_addrs() {
            writeln!(out, "ngtt listening on {addr}").map_err(CliError::write)?;
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
