//! [`SmokDevice`]: one API for a device program, whichever transport carries its orders.
//!
//! With `use_ngtt(false)` (the default) orders are polled over the HTTP API and count as
//! acknowledged when they are handed out; logs and pathpoint data are uploaded over HTTP with
//! retries. With `use_ngtt(true)` orders, logs and pathpoint data flow over one NGTT connection
//! (`ngtt-transport`) and are acknowledged by hand; device information, pathpoint registration
//! and message reports still go over HTTP. In both modes log records and pathpoint data wait in
//! the device's store until the server has them. If NGTT cannot connect, the device keeps retrying with
//! backoff and says so in its [`LinkState`]: it never silently falls back to HTTP polling, which
//! would give up the acknowledgement guarantee.

mod alarms;
mod builder;
mod extras;
mod framework;
mod handler;
mod heap;
mod http_side;
mod logs;
mod macros;
mod order;
mod pathpoints;
pub mod schedule;
mod scheduled;
mod sensors;
mod settings;
mod state;
mod sync;
pub(crate) mod wake;
mod zone;

use std::sync::Arc;
use std::time::Duration;

use ngtt_proto::payload::{LogRecord, PathpointSeries};
use ngtt_proto::DeviceIdentity;
use ngtt_transport::Transport;
use smok_http::{DeviceInfo, HttpClient, HttpConfig, PathpointRegistration};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use builder::{SmokDeviceBuilder, DEFAULT_NGTT_PORT, DEFAULT_POLL_INTERVAL, DEFAULT_SENSOR_SYNC};
pub use extras::SyncHook;
pub(crate) use extras::{Extras, ExtrasConfig, SyncHooks, WeakDevice};
pub use framework::{Readiness, SensorsFrom, SysctlHook};
pub use handler::DeviceHandler;
pub use order::{DeviceOrder, DeviceOrders, Via};
pub(crate) use pathpoints::now_ms;
pub use settings::{
    DEFAULT_MACRO_REFRESH, DEFAULT_PREDICATE_SYNC, DEFAULT_PREDICATE_TICK, DEFAULT_SCHEDULE_TIMEOUT,
    DEFAULT_ZONE_REFRESH,
};
pub use state::LinkState;
pub(crate) use sync::SyncContext;

use crate::error::{ClientError, Result};
use crate::executor::{ExecutionReport, Executor};
use crate::log_layer::{LogSink, SmokLogLayer};
use crate::orders::Section;
use crate::pathpoint::Registry;
use crate::store::{MemoryStore, SqliteStore, Store};
use framework::Framework;
use http_side::{HttpHealth, Retry};
use logs::DeviceLogs;

/// A device connected to its SMOK server.
///
/// Cloning gives another handle to the same device. Built with [`SmokDevice::builder`]; must be
/// built and used inside a tokio runtime.
#[derive(Clone, Debug)]
pub struct SmokDevice {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    identity: DeviceIdentity,
    http: Arc<HttpClient>,
    ngtt: Option<Transport>,
    logs: DeviceLogs,
    retry: Retry,
    health: HttpHealth,
    /// The link state: with NGTT, the transport's own state mapped onto [`LinkState`]; with
    /// HTTP, the outcome of the last request.
    state_tx: watch::Sender<LinkState>,
    cancel: CancellationToken,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    fw: Arc<Framework>,
    sync: SyncContext,
    alarms: alarms::Alarms,
    extras: Arc<Extras>,
    /// The device's time zone: its one owner.
    zone: zone::ZoneOwner,
}

/// How long `close` waits for a background task to stop before aborting it.
const TASK_GRACE: Duration = Duration::from_millis(500);

/// Where the log layer's records go: the device's log buffer, emptied into its store and from
/// there to the server (over NGTT or HTTP).
#[derive(Clone, Debug)]
pub struct DeviceLogSink {
    device: SmokDevice,
}

impl LogSink for DeviceLogSink {
    fn push(&self, record: LogRecord) {
        self.device.send_logs([record]);
    }
}

impl SmokDevice {
    /// Starts describing a device with its certificate and key (PEM).
    pub fn builder(cert_pem: impl Into<String>, key_pem: impl Into<String>) -> SmokDeviceBuilder {
        SmokDeviceBuilder::new(cert_pem, key_pem)
    }

    pub(crate) fn start(b: SmokDeviceBuilder) -> Result<(SmokDevice, DeviceOrders)> {
        let identity = b.identity()?;
        let span = tracing::info_span!("smok", device = %identity.device_id);
        let mut http_config = HttpConfig::new(b.cert_pem.clone(), b.key_pem.clone()).with_auth(b.http_auth);
        if let Some(ca) = &b.ca_pem {
            http_config = http_config.with_ca_pem(ca.clone());
        }
        if let Some(url) = &b.http_base_url {
            http_config = http_config.with_base_url(url.clone());
        }
        if let Some((connect, request)) = b.http_timeouts {
            http_config = http_config
                .with_connect_timeout(connect)
                .with_request_timeout(request);
        }
        let http = Arc::new(HttpClient::new(http_config)?);
        let state_tx = watch::Sender::new(LinkState::Connecting);
        let cancel = CancellationToken::new();
        let retry = Retry {
            initial: b.retry.0,
            max: b.retry.1,
        };
        let mut tasks = Vec::new();

        let (ngtt, orders, health) = if b.use_ngtt {
            let Some(ca) = &b.ca_pem else {
                return Err(ClientError::Config(
                    "NGTT needs the CA of the server's certificate: set ca_pem".into(),
                ));
            };
            let mut config =
                ngtt_transport::Config::new(&b.ngtt_addr(&identity)?, ca, &b.cert_pem, &b.key_pem)?
                    .with_fetch_orders(b.fetch_orders)
                    .with_log_buffer(b.log_buffer);
            if let Some(name) = &b.ngtt_server_name {
                config = config.with_server_name(name.clone());
            }
            if let Some(resolver) = &b.ngtt_resolver {
                config.resolver = Arc::clone(resolver);
            }
            if let Some(timings) = b.ngtt_timings {
                config = config.with_timings(timings);
            }
            if let Some(backoff) = b.ngtt_backoff {
                config = config.with_backoff(backoff);
            }
            let (transport, orders) = Transport::spawn(config)?;
            tasks.push(tokio::spawn(
                follow_transport(transport.watch_state(), state_tx.clone(), cancel.clone())
                    .instrument(span.clone()),
            ));
            let orders = if b.fetch_orders {
                DeviceOrders::ngtt(orders)
            } else {
                DeviceOrders::none()
            };
            (
                Some(transport),
                orders,
                HttpHealth::ignoring().with_hooks(SyncHooks::new(&b.extras)),
            )
        } else {
            let health = HttpHealth::tracking(state_tx.clone()).with_hooks(SyncHooks::new(&b.extras));
            let orders = if b.fetch_orders {
                let (tx, rx) = mpsc::channel(16);
                let poll =
                    http_side::poll_orders(http.clone(), b.poll_interval, tx, health.clone(), cancel.clone());
                tasks.push(tokio::spawn(poll.instrument(span.clone())));
                DeviceOrders::http(rx)
            } else {
                DeviceOrders::none()
            };
            (None, orders, health)
        };
        let logs = DeviceLogs::new(b.log_buffer);
        let store: Arc<dyn Store> = match (&b.store, &b.store_path) {
            (Some(store), _) => store.clone(),
            (None, Some(path)) => Arc::new(SqliteStore::open(path)?),
            (None, None) => Arc::new(MemoryStore::new()),
        };
        let fw = Arc::new(Framework::new(
            Registry::new(b.provider.clone()),
            store,
            b.attempts,
            b.sysctl.clone(),
        ));
        let sync = SyncContext {
            http: http.clone(),
            ngtt: ngtt.clone(),
            fw: fw.clone(),
            health: health.clone(),
            cancel: cancel.clone(),
            backoff: retry.backoff(),
            sensor_interval: b.sensor_interval,
            upload_timeout: b.upload_timeout,
            started: std::time::Instant::now(),
            release_free_memory: b.release_free_memory,
        };
        tasks.push(tokio::spawn(
            sync::upload_samples(sync.clone()).instrument(span.clone()),
        ));
        tasks.push(tokio::spawn(
            sync::register_pathpoints(sync.clone()).instrument(span.clone()),
        ));
        if b.sync_sensors {
            tasks.push(tokio::spawn(
                sync::sync_sensors(sync.clone()).instrument(span.clone()),
            ));
        } else {
            fw.readiness.send_modify(|r| {
                r.sensors = SensorsFrom::Disabled;
                r.sensor_count = fw.sensors().len();
            });
        }
        tasks.push(tokio::spawn(
            sync::upload_sensor_writes(sync.clone()).instrument(span.clone()),
        ));
        let upload_logs = match &ngtt {
            Some(transport) => tokio::spawn(
                logs::upload_logs_ngtt(sync.clone(), transport.clone(), logs.clone()).instrument(span),
            ),
            None => tokio::spawn(logs::upload_logs_http(sync.clone(), logs.clone()).instrument(span)),
        };
        tasks.push(upload_logs);
        let schedules = b.schedules.clone();
        let alarms = alarms::Alarms::load(&fw.store);
        let zone = zone::ZoneOwner::load(fw.store.clone());
        let inner = Inner {
            identity,
            http,
            ngtt,
            logs,
            retry,
            health,
            state_tx,
            cancel,
            tasks: std::sync::Mutex::new(tasks),
            fw,
            sync,
            alarms,
            extras: Arc::new(Extras::new(&b.extras)),
            zone,
        };
        let device = SmokDevice {
            inner: Arc::new(inner),
        };
        if schedules.zone {
            device.spawn_zone_task(&schedules);
        }
        device.spawn_alarm_tasks(&schedules);
        device.spawn_macro_task(&schedules);
        device.start_extras();
        Ok((device, orders))
    }

    /// The device's id and environment, from its certificate.
    pub fn identity(&self) -> &DeviceIdentity {
        &self.inner.identity
    }

    /// Which transport carries orders, logs and pathpoint data.
    pub fn via(&self) -> Via {
        if self.inner.ngtt.is_some() {
            Via::Ngtt
        } else {
            Via::Http
        }
    }

    /// The NGTT transport, when NGTT is used (for its statistics, say).
    pub fn ngtt(&self) -> Option<&Transport> {
        self.inner.ngtt.as_ref()
    }

    /// How the link to the server stands now.
    pub fn link_state(&self) -> LinkState {
        self.inner.state_tx.borrow().clone()
    }

    /// Watches the link to the server.
    pub fn watch_link_state(&self) -> watch::Receiver<LinkState> {
        self.inner.state_tx.subscribe()
    }

    /// Uploads pathpoint data; resolves once the server stored it.
    ///
    /// Over NGTT: on DATA_STREAM_CONFIRM, surviving reconnects. Over HTTP: the request is
    /// retried with backoff while there is no link or the server fails (5xx). Either way a
    /// refusal (DATA_STREAM_REJECT, a 4xx) is an error with `is_clients_fault()`, logged, and
    /// the data is not sent again.
    pub async fn sync_pathpoints(&self, series: Vec<PathpointSeries>) -> Result<()> {
        let result = match &self.inner.ngtt {
            Some(transport) => transport.sync_pathpoints(series).await.map_err(ClientError::from),
            None => {
                let http = &self.inner.http;
                let upload = || http.sync_pathpoints(&series);
                let cancel = &self.inner.cancel;
                self.inner
                    .retry
                    .run("upload", &self.inner.health, cancel, upload)
                    .await
                    .map_err(ClientError::from)
            }
        };
        if let Err(e) = &result {
            if e.is_clients_fault() {
                tracing::warn!(device = %self.inner.identity.device_id, error = %e, "pathpoint data refused: dropped");
            }
        }
        result
    }

    /// Queues log records for upload; never blocks. They go into a bounded memory buffer
    /// (`log_buffer`), from which a background task moves them into the store at once; they
    /// leave the store only once the server has them (HTTP: its `2xx`; NGTT: the echo of a PING
    /// written after their LOGS frames), so they survive a restart without network. Beyond the
    /// bounds the oldest are dropped and counted ([`SmokDevice::logs_dropped`]).
    pub fn send_logs(&self, records: impl IntoIterator<Item = LogRecord>) {
        self.inner.logs.push(records);
    }

    /// Moves the log records waiting in memory into the store now (the background task does
    /// so as they arrive): once this returns they survive a crash of the process. Returns how
    /// many were moved. Does I/O: call it from a task, not from inside a log call.
    pub fn persist_logs(&self) -> Result<usize> {
        Ok(self.inner.logs.stash(&self.inner.fw)?)
    }

    /// Log records dropped since the device was built because a queue was full: the memory
    /// buffer (`log_buffer`), or the store's log queue (`StoreLimits::logs`; its count over the
    /// store's whole life is `store_stats().logs_dropped`).
    pub fn logs_dropped(&self) -> u64 {
        self.inner.logs.dropped()
    }

    /// A `tracing` layer that sends the program's log events through this device.
    pub fn log_layer(&self) -> SmokLogLayer<DeviceLogSink> {
        SmokLogLayer::new(DeviceLogSink { device: self.clone() })
    }

    /// The device's configuration (`GET /v1/device`), over HTTP. Its time zone becomes the
    /// device's ([`SmokDevice::time_zone`]) when it is usable.
    pub async fn device_info(&self) -> Result<DeviceInfo> {
        let result = self.inner.http.device_info().await;
        self.inner.health.record(&result);
        let info = result?;
        self.inner.zone.learn(&info);
        Ok(info)
    }

    /// Registers pathpoints and returns every pathpoint the server knows for this device
    /// (`PUT /v1/device/pathpoints`), over HTTP.
    pub async fn register_pathpoints(
        &self,
        pathpoints: &[PathpointRegistration],
    ) -> Result<Vec<PathpointRegistration>> {
        let result = self.inner.http.register_pathpoints(pathpoints).await;
        self.inner.health.record(&result);
        Ok(result?)
    }

    /// Reports a `message` order executed (`POST /v1/device/orders/message/{uuid}`), over HTTP.
    pub async fn report_message(&self, uuid: &str) -> Result<()> {
        let result = self.inner.http.report_message(uuid).await;
        self.inner.health.record(&result);
        Ok(result?)
    }

    /// Stops: flushes what it can within `timeout` (logs, and over NGTT pending answers), then
    /// closes the link. Uploads still unanswered fail; what the store keeps (samples, sensor
    /// writes, log records) waits for the next run.
    pub async fn close(&self, timeout: Duration) {
        let inner = &self.inner;
        let deadline = tokio::time::Instant::now() + timeout;
        // The log uploader goes on meanwhile: while the server can be reached, give it the time
        // to deliver what the store holds (one uploader, so nothing is sent twice).
        let _ = inner.logs.stash(&inner.fw);
        let reachable = match &inner.ngtt {
            Some(transport) => transport.state().is_connected(),
            None => !matches!(self.link_state(), LinkState::Down { .. }),
        };
        let nothing_left = inner.fw.store.pending_logs(1).is_ok_and(|p| p.is_empty());
        let delivered = nothing_left
            || (reachable
                && tokio::time::timeout(timeout, inner.logs.until_store_empty(&inner.fw))
                    .await
                    .is_ok());
        if !delivered {
            tracing::warn!(device = %inner.identity.device_id, "closing with log records not delivered (kept in the store)");
        }
        if let Some(transport) = &inner.ngtt {
            transport
                .close(deadline.saturating_duration_since(tokio::time::Instant::now()))
                .await;
        }
        inner.cancel.cancel();
        let tasks = std::mem::take(&mut *inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        // A task in the middle of a request sees the cancellation only when the request ends
        // (up to the request timeout): it is aborted instead of waited for.
        for mut task in tasks {
            if tokio::time::timeout(TASK_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
        inner.state_tx.send_replace(LinkState::Closed);
    }
}

impl SmokDevice {
    pub(crate) fn fw(&self) -> &Framework {
        &self.inner.fw
    }

    /// The framework's order handler: reads and writes executed against this device's
    /// pathpoints (see [`DeviceHandler`]).
    pub fn order_handler(&self) -> DeviceHandler {
        DeviceHandler::new(self.clone())
    }

    /// Runs `sections` now through [`SmokDevice::order_handler`] (the Python client's
    /// `execute`), without answering anything.
    pub async fn execute(&self, sections: &[Section]) -> ExecutionReport {
        Executor::new(self.order_handler()).run(sections).await
    }

    /// Executes every order of `orders` through [`SmokDevice::order_handler`] and answers it,
    /// one order after another, until the stream ends (the device is closed).
    pub fn spawn_order_executor(&self, mut orders: DeviceOrders) -> JoinHandle<()> {
        let executor = Executor::new(self.order_handler());
        let span = tracing::info_span!("smok", device = %self.inner.identity.device_id);
        tokio::spawn(
            async move {
                while let Some(order) = orders.recv().await {
                    let done = executor.execute(order).await;
                    if let Err(e) = done.answered {
                        tracing::warn!(error = %e, "answering an order failed (NGTT delivers it again)");
                    }
                }
            }
            .instrument(span),
        )
    }
}

/// Mirrors the NGTT transport's state into the device's [`LinkState`].
async fn follow_transport(
    mut from: watch::Receiver<ngtt_transport::ConnectionState>,
    to: watch::Sender<LinkState>,
    cancel: CancellationToken,
) {
    loop {
        let state = LinkState::from(&*from.borrow_and_update());
        to.send_replace(state);
        tokio::select! {
            changed = from.changed() => if changed.is_err() { return },
            _ = cancel.cancelled() => return,
        }
    }
}

impl SmokDeviceBuilder {
    /// Starts the device: its HTTP client, and either the NGTT connection or the HTTP order
    /// poller and log uploader. Returns the device and its stream of orders.
    pub fn build(self) -> Result<(SmokDevice, DeviceOrders)> {
        SmokDevice::start(self)
    }
}
