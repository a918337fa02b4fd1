//! [`SmokDeviceBuilder`]: everything a device needs to reach its server, with the defaults of
//! the seed: HTTP polling unless `use_ngtt(true)`.

use std::time::Duration;

use std::path::PathBuf;
use std::sync::Arc;

use ngtt_proto::DeviceIdentity;
use ngtt_transport::{BackoffConfig, Resolve, Timings, DEFAULT_LOG_BUFFER};
use smok_http::AuthMode;

use super::framework::SysctlHook;
use crate::error::{ClientError, Result};
use crate::executor::HandlerResult;
use crate::orders::SysctlOrder;
use crate::pathpoint::{Attempts, PathpointProvider};
use crate::store::Store;

/// The default interval between two sensor syncs.
pub const DEFAULT_SENSOR_SYNC: Duration = Duration::from_secs(300);

/// The default interval between two order polls over HTTP.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);

/// The default NGTT port.
pub const DEFAULT_NGTT_PORT: u16 = 2405;

/// How [`SmokDevice`](super::SmokDevice)s are made.
///
/// The device id and environment come from the certificate; the environment gives the default
/// server (`api.smok.co` for production, `api.test.smok-serwis.pl` for staging; local
/// development has none, so set [`http_base_url`](Self::http_base_url) and, with NGTT,
/// [`ngtt_server`](Self::ngtt_server)).
#[derive(Clone)]
pub struct SmokDeviceBuilder {
    pub(super) cert_pem: String,
    pub(super) key_pem: String,
    pub(super) ca_pem: Option<String>,
    pub(super) use_ngtt: bool,
    pub(super) ngtt_servers: Vec<String>,
    pub(super) ngtt_server_name: Option<String>,
    pub(super) ngtt_resolver: Option<Arc<dyn Resolve>>,
    pub(super) http_base_url: Option<String>,
    pub(super) http_auth: AuthMode,
    pub(super) http_timeouts: Option<(Duration, Duration)>,
    pub(super) poll_interval: Duration,
    pub(super) fetch_orders: bool,
    pub(super) log_buffer: usize,
    pub(super) retry: (Duration, Duration),
    pub(super) ngtt_timings: Option<Timings>,
    pub(super) ngtt_backoff: Option<BackoffConfig>,
    pub(super) store: Option<Arc<dyn Store>>,
    pub(super) store_path: Option<PathBuf>,
    pub(super) provider: Option<Arc<dyn PathpointProvider>>,
    pub(super) attempts: Attempts,
    pub(super) sensor_interval: Duration,
    pub(super) upload_timeout: Duration,
    pub(super) sysctl: Option<SysctlHook>,
    pub(super) sync_sensors: bool,
    pub(super) schedules: super::settings::ScheduleSettings,
    pub(super) extras: super::ExtrasConfig,
    pub(super) release_free_memory: bool,
}

impl std::fmt::Debug for SmokDeviceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmokDeviceBuilder")
            .field("use_ngtt", &self.use_ngtt)
            .field("ngtt_servers", &self.ngtt_servers)
            .field("http_base_url", &self.http_base_url)
            .field("poll_interval", &self.poll_interval)
            .field("store", &self.store)
            .field("store_path", &self.store_path)
            .field("attempts", &self.attempts)
            .field("sensor_interval", &self.sensor_interval)
            .finish_non_exhaustive()
    }
}

impl SmokDeviceBuilder {
    /// A device with this certificate (PEM, the device's certificate first) and private key.
    pub fn new(cert_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        SmokDeviceBuilder {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            ca_pem: None,
            use_ngtt: false,
            ngtt_servers: Vec::new(),
            ngtt_server_name: None,
            ngtt_resolver: None,
            http_base_url: None,
            http_auth: AuthMode::ClientCertificate,
            http_timeouts: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
            fetch_orders: true,
            log_buffer: DEFAULT_LOG_BUFFER,
            retry: (Duration::from_secs(1), Duration::from_secs(60)),
            ngtt_timings: None,
            ngtt_backoff: None,
            store: None,
            store_path: None,
            provider: None,
            attempts: Attempts::default(),
            sensor_interval: DEFAULT_SENSOR_SYNC,
            upload_timeout: Duration::from_secs(60),
            sysctl: None,
            sync_sensors: true,
            schedules: Default::default(),
            extras: super::ExtrasConfig::default(),
            release_free_memory: super::heap::DEFAULT_RELEASE_FREE_MEMORY,
        }
    }

    /// Whether sensors are synced from the server (default true). A device that does not use
    /// sensors can turn the sync off: [`SmokDevice::ready`](super::SmokDevice::ready) then says
    /// [`SensorsFrom::Disabled`](super::SensorsFrom::Disabled) at once.
    pub fn sync_sensors(mut self, on: bool) -> Self {
        self.sync_sensors = on;
        self
    }

    /// Keeps what the device has not uploaded yet (samples, logs, sensor writes) and what it
    /// learnt from the server in an SQLite file at `path` (created if needed), so that a restart
    /// resumes with it. Without this or [`store`](Self::store), an in-memory store is used.
    pub fn store_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.store_path = Some(path.into());
        self
    }

    /// Uses `store` (e.g. a [`crate::store::SqliteStore`] opened with other limits, or a
    /// [`crate::store::MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Makes pathpoints the device is asked about but has not registered (by orders, sensors,
    /// the server's list): the Python client's `provide_unknown_pathpoint`.
    pub fn pathpoint_provider(mut self, provider: impl PathpointProvider) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// How often reads and writes are attempted, by advise level (default [`Attempts::default`]).
    pub fn attempts(mut self, attempts: Attempts) -> Self {
        self.attempts = attempts;
        self
    }

    /// How often sensors are synced from the server (default 300 s, counted from the client's
    /// start, the first sync at once).
    pub fn sensor_sync_interval(mut self, every: Duration) -> Self {
        self.sensor_interval = every;
        self
    }

    /// How long an upload of pathpoint data may take before it is retried (default 60 s).
    pub fn upload_timeout(mut self, timeout: Duration) -> Self {
        self.upload_timeout = timeout;
        self
    }

    /// What the framework's order handler does with `sysctl` orders (default: unsupported).
    pub fn on_sysctl<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(SysctlOrder) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = HandlerResult> + Send + 'static,
    {
        self.sysctl = Some(Arc::new(move |order| Box::pin(hook(order))));
        self
    }

    /// The CA certificates (PEM) the device trusts for the server, over NGTT and HTTPS.
    pub fn ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Orders, logs and pathpoint data over NGTT (`true`) or over the HTTP API (`false`, the
    /// default). Everything else always goes over HTTP.
    pub fn use_ngtt(mut self, on: bool) -> Self {
        self.use_ngtt = on;
        self
    }

    /// The NGTT server as `host:port` (default: the environment's host, port 2405); several
    /// server nodes may be given separated by commas, as with [`ngtt_servers`](Self::ngtt_servers).
    pub fn ngtt_server(mut self, addr: impl Into<String>) -> Self {
        self.ngtt_servers = vec![addr.into()];
        self
    }

    /// Several NGTT server nodes, each `host:port` (a DNS name stands for every address it
    /// resolves to): the device connects to the first that answers, and when a connection
    /// fails or drops moves on to the next at once, backing off only after every one failed
    /// (see `ngtt_transport::Rotation`).
    pub fn ngtt_servers<S: Into<String>>(mut self, addrs: impl IntoIterator<Item = S>) -> Self {
        self.ngtt_servers = addrs.into_iter().map(Into::into).collect();
        self
    }

    /// How the NGTT servers' names are turned into addresses (default: the system's resolver):
    /// service discovery, a fixed table, … It is asked again whenever the device has tried
    /// every address of the last answer, so a changed answer is followed (see
    /// `ngtt_transport::Resolve`).
    pub fn ngtt_resolver(mut self, resolver: impl Resolve + 'static) -> Self {
        self.ngtt_resolver = Some(Arc::new(resolver));
        self
    }

    /// The name every NGTT server's certificate must carry (default: each server's own host).
    pub fn ngtt_server_name(mut self, name: impl Into<String>) -> Self {
        self.ngtt_server_name = Some(name.into());
        self
    }

    /// The HTTP API's base URL (default: `https://` + the environment's host).
    pub fn http_base_url(mut self, url: impl Into<String>) -> Self {
        self.http_base_url = Some(url.into());
        self
    }

    /// How HTTP requests identify the device (default: the client certificate).
    pub fn http_auth(mut self, auth: AuthMode) -> Self {
        self.http_auth = auth;
        self
    }

    /// Connect and whole-request timeouts of HTTP requests (default 10 s and 30 s).
    pub fn http_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.http_timeouts = Some((connect, request));
        self
    }

    /// How often orders are polled over HTTP (default 60 s); unused with NGTT.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Whether this device takes orders at all (default true): a data-only device neither
    /// polls nor sends FETCH_ORDERS.
    pub fn fetch_orders(mut self, on: bool) -> Self {
        self.fetch_orders = on;
        self
    }

    /// Whether the heap's free pages go back to the system after each sync round (default
    /// true; glibc's `malloc_trim`, nothing elsewhere). A round's request and answer are
    /// short-lived allocations whose pages the C allocator would otherwise keep resident: with
    /// 1 000 pathpoints this was 730 of 1 530 KiB of resident heap. Turn it off for a program
    /// that would rather keep those pages for its next allocations.
    pub fn release_free_memory(mut self, on: bool) -> Self {
        self.release_free_memory = on;
        self
    }

    /// How many log records the memory buffer between the log layer and the store holds
    /// (default 20 000); the oldest are dropped first and counted (`logs_dropped()`). The store
    /// holds `StoreLimits::logs` more while the server cannot be reached.
    pub fn log_buffer(mut self, records: usize) -> Self {
        self.log_buffer = records;
        self
    }

    /// Backoff of HTTP retries (uploads and logs after no link or a 5xx): from `initial`,
    /// doubling up to `max` (default 1 s to 60 s).
    pub fn http_retry(mut self, initial: Duration, max: Duration) -> Self {
        self.retry = (initial, max);
        self
    }

    /// NGTT keepalive timings (default NGTT.md §4.6: 30 s, 120 s, 90 s).
    pub fn ngtt_timings(mut self, timings: Timings) -> Self {
        self.ngtt_timings = Some(timings);
        self
    }

    /// NGTT reconnect backoff (default 1 s to 60 s with jitter).
    pub fn ngtt_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.ngtt_backoff = Some(backoff);
        self
    }

    /// The device's identity, read from the certificate.
    pub fn identity(&self) -> Result<DeviceIdentity> {
        Ok(DeviceIdentity::from_pem(self.cert_pem.as_bytes()).map_err(ngtt_proto::ProtoError::from)?)
    }

    /// The NGTT server addresses, separated by commas: the ones set, or the environment's host
    /// on port 2405.
    pub(super) fn ngtt_addr(&self, identity: &DeviceIdentity) -> Result<String> {
        match (self.ngtt_servers.is_empty(), identity.default_host()) {
            (false, _) => Ok(self.ngtt_servers.join(",")),
            (true, Some(host)) => Ok(format!("{host}:{DEFAULT_NGTT_PORT}")),
            (true, None) => Err(ClientError::Config(format!(
                "the {} environment has no default NGTT server: set ngtt_server",
                identity.environment
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngtt_servers_are_joined_for_the_transport() {
        let local = identity(ngtt_proto::Environment::LocalDevelopment);
        let b = SmokDeviceBuilder::new("cert", "key");
        assert!(
            b.ngtt_addr(&local).is_err(),
            "local development has no default server"
        );
        let b = b.ngtt_server("a.example:1");
        assert_eq!(b.ngtt_addr(&local).expect("set"), "a.example:1");
        let b = b.ngtt_servers(["a.example:1", "b.example:2"]);
        assert_eq!(b.ngtt_addr(&local).expect("set"), "a.example:1,b.example:2");
        let staging = identity(ngtt_proto::Environment::Staging);
        let b = b.ngtt_servers(Vec::<String>::new());
        assert!(b.ngtt_addr(&staging).expect("default").ends_with(":2405"));
    }

    fn identity(environment: ngtt_proto::Environment) -> DeviceIdentity {
        DeviceIdentity {
            device_id: "7".into(),
            environment,
        }
    }
}
