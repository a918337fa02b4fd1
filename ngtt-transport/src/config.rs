//! [`Config`]: everything a device needs to talk to its server, held in memory.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::TransportError;
use crate::resolve::{Resolve, SystemResolver};
use crate::servers::ServerAddr;

/// The NGTT port used when an address names none (NGTT.md §1).
pub const DEFAULT_PORT: u16 = 2405;

/// Default bound of the offline log buffer (NGTT.md §4.4).
pub const DEFAULT_LOG_BUFFER: usize = 20_000;

/// Default bound of the uploads waiting on the device (sent or not, but not answered yet):
/// at most this many (see [`UploadLimits`]).
pub const DEFAULT_MAX_PENDING_UPLOADS: usize = 4096;

/// Default bound of the payload bytes of the uploads waiting on the device: 16 MiB, so that one
/// upload of the largest frame a default server accepts still fits (see [`UploadLimits`]).
pub const DEFAULT_MAX_PENDING_UPLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Default bound of the orders a device holds at once: handed to the application (or waiting
/// in the [`crate::Orders`] stream) and not answered yet.
pub const DEFAULT_MAX_OPEN_ORDERS: usize = 64;

/// How many uploads may wait on the device for the server's answer, and how many payload bytes
/// they may hold together: the bound of what a device keeps in memory for its uploads during
/// an outage. When either is reached, [`crate::Transport::sync_pathpoints`] waits for room
/// (backpressure) and [`crate::Transport::try_sync_pathpoints`] fails with
/// [`TransportError::UploadQueueFull`]; room is made by the server's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Uploads waiting at most ([`DEFAULT_MAX_PENDING_UPLOADS`]).
    pub max_count: usize,
    /// Payload bytes waiting at most ([`DEFAULT_MAX_PENDING_UPLOAD_BYTES`]). An upload larger
    /// than this alone can never be queued: it fails at once with
    /// [`TransportError::UploadTooLarge`].
    pub max_bytes: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_count: DEFAULT_MAX_PENDING_UPLOADS,
            max_bytes: DEFAULT_MAX_PENDING_UPLOAD_BYTES,
        }
    }
}

/// Keepalive and dead-peer timings (NGTT.md §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Send a PING when nothing was written for this long and no ping is outstanding (30 s).
    pub ping_after: Duration,
    /// Drop the connection when a ping is outstanding and nothing was read for this long
    /// (120 s).
    pub dead_after: Duration,
    /// Drop the connection when frames wait to be written and nothing could be written for
    /// this long (90 s).
    pub write_timeout: Duration,
    /// Give up a connection attempt (TCP connect plus TLS handshake) after this long (30 s).
    pub connect_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            ping_after: Duration::from_secs(30),
            dead_after: Duration::from_secs(120),
            write_timeout: Duration::from_secs(90),
            connect_timeout: Duration::from_secs(30),
        }
    }
}

/// Reconnect backoff (NGTT.md §4.7): `initial`, doubled per failed attempt up to `max`,
/// shortened by up to `jitter` of itself at random, and reset to `initial` once a connection
/// stayed up for `reset_after`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// Delay before the first retry (1 s).
    pub initial: Duration,
    /// Largest delay (60 s).
    pub max: Duration,
    /// A connection that stayed up this long resets the delay to `initial` when it drops
    /// (30 s).
    pub reset_after: Duration,
    /// Fraction of each delay taken off at random, 0.0..=1.0 (0.25: a nominal 4 s delay is
    /// 3 s to 4 s), so that a fleet does not reconnect in lock-step.
    pub jitter: f64,
    /// Seed of the jitter's random numbers; `None` seeds from the process's randomness.
    pub seed: Option<u64>,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            reset_after: Duration::from_secs(30),
            jitter: 0.25,
            seed: None,
        }
    }
}

/// How a device connects: servers, certificates (PEM, in memory) and session settings.
///
/// Built with [`Config::new`] and adjusted with the `with_*` methods; every field is public.
/// Nothing is checked until [`Config::device_identity`] or [`crate::Transport::spawn`].
#[derive(Clone)]
pub struct Config {
    /// The server nodes, tried in this order (see [`crate::Rotation`]); a DNS name stands for
    /// every address it resolves to. At least one.
    pub servers: Vec<ServerAddr>,
    /// Turns each server into socket addresses at the start of every round
    /// ([`SystemResolver`] by default; see [`Config::with_resolver`]).
    pub resolver: Arc<dyn Resolve>,
    /// Name every server certificate must be valid for; `None` (the default): each server's
    /// own host.
    pub server_name: Option<String>,
    /// CA certificates (PEM, one or more) the server certificate must chain to.
    pub ca_pem: String,
    /// The device certificate, then any intermediates (PEM).
    pub cert_pem: String,
    /// The device's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
    /// Keepalive, dead-peer and connect timings.
    pub timings: Timings,
    /// Reconnect backoff.
    pub backoff: BackoffConfig,
    /// Log records kept while they cannot be sent; the oldest are dropped beyond this.
    pub log_buffer: usize,
    /// Approximate payload size of one LOGS frame (64 KiB); at least one record per frame.
    pub log_batch_bytes: usize,
    /// Send FETCH_ORDERS after each handshake (true); a data-only device sets false.
    pub fetch_orders: bool,
    /// Largest frame payload accepted from the server (16 MiB). A larger frame is read past
    /// without being buffered; an ORDER of that size is refused with ORDER_REJECT.
    pub max_frame_len: usize,
    /// Bounds of the uploads waiting for the server's answer.
    pub upload_limits: UploadLimits,
    /// Orders held at once, at most (64): an ORDER beyond this is not taken (nothing is
    /// answered, so the server delivers it again on the next connection).
    pub max_open_orders: usize,
    /// How long a close caused by dropping every handle may spend flushing (5 s).
    pub close_timeout: Duration,
}

impl fmt::Debug for Config {
    /// Everything but the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("servers", &self.servers)
            .field("server_name", &self.server_name)
            .field("timings", &self.timings)
            .field("backoff", &self.backoff)
            .field("log_buffer", &self.log_buffer)
            .field("log_batch_bytes", &self.log_batch_bytes)
            .field("fetch_orders", &self.fetch_orders)
            .field("max_frame_len", &self.max_frame_len)
            .field("upload_limits", &self.upload_limits)
            .field("max_open_orders", &self.max_open_orders)
            .field("close_timeout", &self.close_timeout)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration for the server at `server` (`host`, `host:port`, `[v6]:port`; the port
    /// defaults to 2405), or for several server nodes separated by commas
    /// (`"a.example:2405,b.example:2405"`), with the given CA certificates, device certificate
    /// chain and key, all PEM. Each server's certificate is verified against its own host
    /// unless [`Config::with_server_name`] says otherwise.
    pub fn new(
        server: &str,
        ca_pem: impl Into<String>,
        cert_pem: impl Into<String>,
        key_pem: impl Into<String>,
    ) -> Result<Config, TransportError> {
        Ok(Config {
            servers: ServerAddr::parse_list(server)?,
            resolver: Arc::new(SystemResolver),
            server_name: None,
            ca_pem: ca_pem.into(),
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            timings: Timings::default(),
            backoff: BackoffConfig::default(),
            log_buffer: DEFAULT_LOG_BUFFER,
            log_batch_bytes: 64 * 1024,
            fetch_orders: true,
            max_frame_len: ngtt_proto::DEFAULT_MAX_FRAME_LEN,
            upload_limits: UploadLimits::default(),
            max_open_orders: DEFAULT_MAX_OPEN_ORDERS,
            close_timeout: Duration::from_secs(5),
        })
    }

    /// The same configuration verifying every server certificate against `name`.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The same configuration with these server nodes (each as [`Config::new`] takes one),
    /// tried in this order.
    pub fn with_servers<S: AsRef<str>>(
        mut self,
        servers: impl IntoIterator<Item = S>,
    ) -> Result<Self, TransportError> {
        let servers = servers
            .into_iter()
            .map(|s| ServerAddr::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(TransportError::Config("no server address".into()));
        }
        self.servers = servers;
        Ok(self)
    }

    /// The same configuration resolving the servers' names with `resolver` instead of the
    /// system's resolver: service discovery, a fixed table, … (see [`Resolve`]). It is asked
    /// again at the start of every round, so a changed answer is followed without a new
    /// configuration.
    pub fn with_resolver(mut self, resolver: impl Resolve + 'static) -> Self {
        self.resolver = Arc::new(resolver);
        self
    }

    /// The same configuration with other timings.
    pub fn with_timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }

    /// The same configuration with another backoff.
    pub fn with_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// The same configuration asking for orders (`true`) or not (a data-only device).
    pub fn with_fetch_orders(mut self, fetch: bool) -> Self {
        self.fetch_orders = fetch;
        self
    }

    /// The same configuration with another log buffer bound.
    pub fn with_log_buffer(mut self, records: usize) -> Self {
        self.log_buffer = records;
        self
    }

    /// The same configuration with another maximum received payload length.
    pub fn with_max_frame_len(mut self, len: usize) -> Self {
        self.max_frame_len = len;
        self
    }

    /// The same configuration with other upload bounds.
    pub fn with_upload_limits(mut self, limits: UploadLimits) -> Self {
        self.upload_limits = limits;
        self
    }

    /// The same configuration holding at most `orders` unanswered orders.
    pub fn with_max_open_orders(mut self, orders: usize) -> Self {
        self.max_open_orders = orders;
        self
    }

    /// The servers as `host:port` (brackets around an IPv6 host), separated by commas: the
    /// form [`Config::new`] takes.
    pub fn addr(&self) -> String {
        let shown: Vec<String> = self.servers.iter().map(ToString::to_string).collect();
        shown.join(",")
    }

    /// The name server number `index`'s certificate must be valid for.
    pub fn server_name_of(&self, index: usize) -> Option<&str> {
        match &self.server_name {
            Some(name) => Some(name),
            None => self.servers.get(index).map(|s| s.host.as_str()),
        }
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port` into host and port (default 2405).
/// A bare IPv6 address (two colons or more) is a host without a port.
pub fn split_host_port(server: &str) -> Result<(String, u16), TransportError> {
    let bad = |why: &str| TransportError::Config(format!("server address {server:?}: {why}"));
    let s = server.trim();
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("expected ':' after ']'"))?,
                ),
            ),
        }
    } else if s.matches(':').count() == 1 {
        let (host, port) = s.split_once(':').unwrap_or((s, ""));
        (host, Some(port))
    } else {
        (s, None)
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p.parse().map_err(|_| bad("invalid port"))?,
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let ok = |s: &str| split_host_port(s).expect(s);
        assert_eq!(ok("127.0.0.1:9"), ("127.0.0.1".into(), 9));
        assert_eq!(ok("api.smok.co"), ("api.smok.co".into(), DEFAULT_PORT));
        assert_eq!(ok("[::1]:2408"), ("::1".into(), 2408));
        assert_eq!(ok("[::1]"), ("::1".into(), DEFAULT_PORT));
        assert_eq!(ok("::1"), ("::1".into(), DEFAULT_PORT));
        for bad in ["", ":80", "host:x", "host:70000", "[::1", "[::1]x"] {
            assert!(split_host_port(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults_and_builders() {
        let c = Config::new("[::1]:7", "ca", "cert", "key")
            .expect("valid")
            .with_server_name("server.test")
            .with_fetch_orders(false)
            .with_log_buffer(3)
            .with_max_frame_len(10);
        assert_eq!(c.addr(), "[::1]:7");
        assert_eq!(c.server_name_of(0), Some("server.test"));
        assert!(!c.fetch_orders);
        assert_eq!((c.log_buffer, c.max_frame_len), (3, 10));
        assert_eq!(c.timings.ping_after, Duration::from_secs(30));
        assert_eq!(c.backoff.max, Duration::from_secs(60));
        assert_eq!(c.upload_limits, UploadLimits::default());
        assert_eq!(c.max_open_orders, DEFAULT_MAX_OPEN_ORDERS);
        assert!(!format!("{c:?}").contains("key_pem"));
    }

    #[test]
    fn several_servers() {
        let c = Config::new("a.example:1, b.example", "ca", "cert", "key").expect("valid");
        assert_eq!(c.addr(), "a.example:1,b.example:2405");
        assert_eq!(
            (c.server_name_of(0), c.server_name_of(1)),
            (Some("a.example"), Some("b.example"))
        );
        let c = c.with_servers(["[::1]:3", "c.example:4"]).expect("valid");
        assert_eq!(c.addr(), "[::1]:3,c.example:4");
        assert_eq!(c.server_name_of(2), None);
        let c = c.with_server_name("node.test");
        assert_eq!(c.server_name_of(1), Some("node.test"));
        assert!(c.clone().with_servers(Vec::<String>::new()).is_err());
        assert!(c.with_servers(["ok:1", "bad:x"]).is_err());
        assert!(Config::new("a:1,", "ca", "cert", "key").is_err());
    }
}
