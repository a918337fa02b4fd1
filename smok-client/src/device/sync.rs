//! The device's background syncs: each a task with its own timetable, every request with a
//! timeout and retried with jittered backoff, none waiting for another.
//!
//! | task | what | when |
//! |---|---|---|
//! | samples | queued pathpoint samples → `POST /v1/device/pathpoints` or DATA_STREAM | when samples are queued; retried with backoff |
//! | registration | the pathpoint list → `PUT /v1/device/pathpoints`; the answer's new names registered, levels applied | when the list changed |
//! | sensors | `GET /v1/device/sensors`, cached in the store | at start, then every `sensor_sync_interval` (300 s) from the client's start, jittered |
//! | sensor writes | queued records → `PUT /v1/device/sensor/write_log` | when records are queued |
//! | logs (`logs.rs`) | log records → the store → `PUT /v1/device/device_logs` or LOGS frames (NGTT) | when records arrive |
//!
//! Outcomes: 2xx — done; 4xx — the data is refused for good: logged and dropped (never sent
//! again, unlike the published client which re-sends a refused list forever); no link or 5xx —
//! kept, retried after a backoff (1 s doubling to 60 s by default, jittered).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ngtt_transport::{Backoff, BackoffConfig, Transport};
use smok_http::{HttpClient, HttpError, Lenient};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::framework::{to_series, Framework, Readiness, SensorsFrom, PATHPOINTS_KEY, SENSORS_KEY};
use super::http_side::HttpHealth;
use super::scheduled::every;
use super::wake::Timer;
use crate::error::ClientError;
use crate::store::{Pending, StoreResult};

/// Most samples in one upload.
const SAMPLE_BATCH: usize = 5_000;
/// Most sensor write records in one upload.
const WRITE_BATCH: usize = 1_000;
/// The longest one sensor sync may take (the HTTP request timeout ends it sooner).
const SENSOR_SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the pathpoint registration looks for a change nobody signalled. Every change to
/// the registry signals `registry_changed` (with `notify_one`, which keeps the wake-up for a
/// task not waiting yet), so this is only a safety net; a short one woke an idle device for
/// nothing (it was 5 s, a third of an idle device's CPU time).
const REGISTRATION_RECHECK: Duration = Duration::from_secs(300);

/// What the sync tasks share.
#[derive(Clone, Debug)]
pub(crate) struct SyncContext {
    pub(crate) http: Arc<HttpClient>,
    pub(crate) ngtt: Option<Transport>,
    pub(crate) fw: Arc<Framework>,
    pub(crate) health: HttpHealth,
    pub(crate) cancel: CancellationToken,
    pub(crate) backoff: BackoffConfig,
    pub(crate) sensor_interval: Duration,
    pub(crate) upload_timeout: Duration,
    pub(crate) started: Instant,
    /// Whether free heap pages go back to the system after each sync round (`heap.rs`).
    pub(crate) release_free_memory: bool,
}

impl SyncContext {
    /// Sleeps `d`; false when cancelled first.
    pub(crate) async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = super::wake::sleep(d) => true,
            _ = self.cancel.cancelled() => false,
        }
    }

    /// Sleeps `d` on `timer` (a task's own, for sleeps again and again); false when cancelled
    /// first.
    pub(crate) async fn sleep_on(&self, timer: &mut Timer, d: Duration) -> bool {
        tokio::select! {
            _ = timer.sleep(d) => true,
            _ = self.cancel.cancelled() => false,
        }
    }

    /// After a sync round: returns the heap's free pages to the system, when configured.
    pub(crate) fn round_done(&self) {
        if self.release_free_memory {
            super::heap::release_free_memory();
        }
    }

    fn record<T>(&self, result: &Result<T, HttpError>) {
        self.health.record(result);
    }
}

/// The next non-empty batch of a store queue and its last id: waits for `added` while the
/// queue is empty, backs off while the store fails. `None` once cancelled.
async fn next_batch<T>(
    ctx: &SyncContext,
    backoff: &mut Backoff,
    added: &Notify,
    read: impl Fn() -> StoreResult<Vec<Pending<T>>>,
) -> Option<(Vec<Pending<T>>, u64)> {
    loop {
        match read() {
            Ok(batch) => match batch.last().map(|p| p.id) {
                Some(last) => return Some((batch, last)),
                None => tokio::select! {
                    _ = added.notified() => {}
                    _ = ctx.cancel.cancelled() => return None,
                },
            },
            Err(e) => {
                tracing::error!(error = %e, "the store cannot be read: nothing uploaded");
                if !ctx.sleep(backoff.next_delay()).await {
                    return None;
                }
            }
        }
    }
}

/// Uploads queued samples until cancelled.
pub(crate) async fn upload_samples(ctx: SyncContext) {
    let mut backoff = Backoff::new(ctx.backoff);
    loop {
        let read = || ctx.fw.store.pending_samples(SAMPLE_BATCH);
        let Some((batch, last)) = next_batch(&ctx, &mut backoff, &ctx.fw.samples_added, read).await else {
            return;
        };
        let series = to_series(&batch);
        let result: Result<(), ClientError> = match &ctx.ngtt {
            Some(transport) => {
                match tokio::time::timeout(ctx.upload_timeout, transport.sync_pathpoints(series)).await {
                    Ok(r) => r.map_err(ClientError::from),
                    Err(_) => Err(ClientError::NoValue("no DATA_STREAM_CONFIRM in time".into())),
                }
            }
            None => {
                let r = ctx.http.sync_pathpoints(&series).await;
                ctx.record(&r);
                r.map_err(ClientError::from)
            }
        };
        let ack = match &result {
            Ok(()) => {
                backoff = Backoff::new(ctx.backoff);
                true
            }
            Err(e) if e.is_clients_fault() => {
                tracing::warn!(error = %e, samples = batch.len(), "the server refused pathpoint data: dropped");
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, samples = batch.len(), "pathpoint upload failed: kept, will retry");
                false
            }
        };
        if ack {
            if let Err(e) = ctx.fw.store.ack_samples_through(last) {
                tracing::error!(error = %e, "uploaded samples cannot be removed from the store");
            }
            ctx.round_done();
        } else if !ctx.sleep(backoff.next_delay()).await {
            return;
        }
    }
}

/// Keeps the server's list of the device's pathpoints current.
pub(crate) async fn register_pathpoints(ctx: SyncContext) {
    let mut backoff = Backoff::new(ctx.backoff);
    // Every read and write signals a possible change: after each, the safety net re-arms its
    // timer (one system call) instead of making a new one (five).
    let mut recheck = Timer::default();
    loop {
        if let Some((generation, list)) = ctx.fw.registry.registration_due() {
            let result = ctx.http.register_pathpoints_lenient(&list).await;
            ctx.record(&result);
            match result {
                Ok(answer) => {
                    backoff = Backoff::new(ctx.backoff);
                    ctx.fw.registry.registered(generation);
                    let mut known = Vec::with_capacity(answer.len());
                    for entry in answer {
                        match entry {
                            Lenient::Valid(reg) => {
                                match ctx.fw.registry.learn(&reg.path, reg.storage_level) {
                                    Ok(_) => known.push(reg),
                                    Err(e) => {
                                        tracing::warn!(error = %e, "skipping a pathpoint the server listed")
                                    }
                                }
                            }
                            Lenient::Invalid { raw, reason } => {
                                tracing::warn!(entry = %raw, "skipping a malformed pathpoint the server listed: {reason}");
                            }
                        }
                    }
                    match serde_json::to_vec(&known) {
                        Ok(bytes) => {
                            if let Err(e) = ctx.fw.store.put_state(PATHPOINTS_KEY, &bytes) {
                                tracing::warn!(error = %e, "the pathpoint list cannot be cached");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "the pathpoint list cannot be encoded"),
                    }
                    ctx.round_done();
                    continue; // new names from the answer: the union goes up at once
                }
                Err(e) if e.is_clients_fault() => {
                    tracing::warn!(error = %e, "the server refused the pathpoint list: sent again only when it changes");
                    ctx.fw.registry.registered(generation);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "pathpoint registration failed: will retry");
                    if !ctx.sleep(backoff.next_delay()).await {
                        return;
                    }
                    continue;
                }
            }
        }
        tokio::select! {
            _ = ctx.fw.registry_changed.notified() => {}
            _ = recheck.sleep(REGISTRATION_RECHECK) => {}
            _ = ctx.cancel.cancelled() => return,
        }
    }
}

/// Syncs the sensors at start and then periodically.
pub(crate) async fn sync_sensors(ctx: SyncContext) {
    let sync = || async {
        let result = ctx.http.sensors().await;
        ctx.record(&result);
        match result {
            Ok(entries) => {
                let mut defs = Vec::with_capacity(entries.len());
                for entry in entries {
                    match entry {
                        Lenient::Valid(def) => defs.push(def),
                        Lenient::Invalid { raw, reason } => {
                            tracing::warn!(entry = %raw, "skipping a malformed sensor the server sent: {reason}")
                        }
                    }
                }
                let count = ctx.fw.set_sensors(&defs);
                let kept: Vec<_> = ctx.fw.sensors().iter().map(|s| s.definition()).collect();
                match serde_json::to_vec(&kept) {
                    Ok(bytes) => {
                        if let Err(e) = ctx.fw.store.put_state(SENSORS_KEY, &bytes) {
                            tracing::warn!(error = %e, "the sensor list cannot be cached");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "the sensor list cannot be encoded"),
                }
                ctx.fw.readiness.send_replace(Readiness {
                    sensors: SensorsFrom::Server,
                    sensor_count: count,
                });
                Ok(())
            }
            Err(e) => {
                ctx.fw.readiness.send_if_modified(|r| {
                    if r.sensors != SensorsFrom::Pending {
                        return false;
                    }
                    let count = ctx.fw.sensors().len();
                    r.sensors = if count > 0 {
                        SensorsFrom::Cache { error: e.to_string() }
                    } else {
                        SensorsFrom::Unavailable { error: e.to_string() }
                    };
                    r.sensor_count = count;
                    true
                });
                Err(e.to_string())
            }
        }
    };
    every(
        &ctx,
        "sensor sync",
        ctx.sensor_interval,
        SENSOR_SYNC_TIMEOUT,
        sync,
    )
    .await;
}

/// Uploads queued sensor write records.
pub(crate) async fn upload_sensor_writes(ctx: SyncContext) {
    let mut backoff = Backoff::new(ctx.backoff);
    loop {
        let read = || ctx.fw.store.pending_sensor_writes(WRITE_BATCH);
        let Some((batch, last)) = next_batch(&ctx, &mut backoff, &ctx.fw.writes_added, read).await else {
            return;
        };
        let records: Vec<_> = batch.into_iter().map(|p| p.item).collect();
        let result = ctx.http.send_sensor_writes(&records).await;
        ctx.record(&result);
        match result {
            Ok(()) => backoff = Backoff::new(ctx.backoff),
            Err(e) if e.is_clients_fault() => {
                tracing::warn!(error = %e, records = records.len(), "the server refused sensor write records: dropped")
            }
            Err(e) => {
                tracing::debug!(error = %e, "sensor write log upload failed: will retry");
                if !ctx.sleep(backoff.next_delay()).await {
                    return;
                }
                continue;
            }
        }
        if let Err(e) = ctx.fw.store.ack_sensor_writes_through(last) {
            tracing::error!(error = %e, "uploaded sensor writes cannot be removed from the store");
        }
    }
}
