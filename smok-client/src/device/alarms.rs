//! Predicates and events on the device: the shared state, the program's API, and the three
//! tasks — predicate sync, ticks (silencing in the device's time zone, `zone.rs`), and event
//! upload.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use ngtt_transport::Backoff;
use smok_http::{Lenient, PredicateDefinition};
use tokio::sync::Notify;

use super::settings::ScheduleSettings;
use super::sync::SyncContext;
use super::wake::Timer;
use super::SmokDevice;
use crate::alarm::{Event, EventBook, EventId, NewEvent, PredicateInfo, Predicates, StatisticFactory};
use crate::clock::epoch_secs;
use crate::error::Result;
use crate::store::Store;

/// The state key of the cached predicate list.
const PREDICATES_KEY: &str = "predicates";
/// How long the event uploader waits for news before looking again. Every change to the
/// event book signals `events_changed` (`notify_one` keeps the signal for a task not waiting
/// yet), so this is only a safety net; at 60 s it woke an idle device once a minute for
/// nothing.
const EVENT_IDLE: Duration = Duration::from_secs(300);

/// Predicates and events, shared by the device's handles and its tasks. Lock order:
/// `predicates`, then `book`.
#[derive(Debug)]
pub(crate) struct Alarms {
    predicates: Mutex<Predicates>,
    book: Mutex<EventBook>,
    /// Events changed: the uploader looks.
    events_changed: Notify,
    /// `reset_predicates`: sync now.
    resync: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Alarms {
    /// What the last run left: events and the cached predicates.
    pub(crate) fn load(store: &Arc<dyn Store>) -> Alarms {
        let mut predicates = Predicates::default();
        match store.get_state(PREDICATES_KEY) {
            Ok(Some(bytes)) => match serde_json::from_slice::<Vec<PredicateDefinition>>(&bytes) {
                Ok(defs) => {
                    predicates.apply(defs.into_iter().map(Lenient::Valid).collect(), &**store);
                }
                Err(e) => tracing::warn!(error = %e, "the cached predicates cannot be read: ignored"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the cached predicates cannot be read"),
        }
        Alarms {
            predicates: Mutex::new(predicates),
            book: Mutex::new(EventBook::load(store.clone())),
            events_changed: Notify::new(),
            resync: Notify::new(),
        }
    }
}

fn now_secs() -> u64 {
    epoch_secs(SystemTime::now()).max(0.0) as u64
}

impl SmokDevice {
    fn alarms(&self) -> &Alarms {
        &self.inner.alarms
    }

    /// Registers a statistic under `name` (the Python client's `register_statistic`): every
    /// predicate whose `statistic` is `name` gets an instance made by `factory` at the next
    /// tick — also predicates that arrived before the registration.
    pub fn register_statistic(&self, name: &str, factory: impl StatisticFactory) {
        lock(&self.alarms().predicates).register(name, Arc::new(factory));
    }

    /// The predicates the device runs.
    pub fn predicates(&self) -> Vec<PredicateInfo> {
        lock(&self.alarms().predicates).list()
    }

    /// Drops every statistic instance (made again at the next tick) and syncs the predicates
    /// now.
    pub fn reset_predicates(&self) {
        lock(&self.alarms().predicates).reset();
        self.alarms().resync.notify_one();
    }

    /// Opens an event now (a point event is closed at once); stored before this returns and
    /// uploaded in the background. `Ok(None)` when the store holds too many events already.
    pub fn open_event(&self, event: NewEvent) -> Result<Option<Event>> {
        let opened = lock(&self.alarms().book).open(now_secs(), event)?;
        self.alarms().events_changed.notify_one();
        Ok(opened)
    }

    /// Closes an open event now; false when it is not open.
    pub fn close_event(&self, id: EventId) -> Result<bool> {
        let closed = lock(&self.alarms().book).close(id, now_secs())?;
        self.alarms().events_changed.notify_one();
        Ok(closed)
    }

    /// The event with this id, while the device keeps it (open, or closed and not yet
    /// confirmed by the server).
    pub fn event(&self, id: EventId) -> Option<Event> {
        lock(&self.alarms().book).get(id).cloned()
    }

    /// Every event the device keeps.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.alarms().book).all().cloned().collect()
    }

    /// The open events.
    pub fn open_events(&self) -> Vec<Event> {
        lock(&self.alarms().book)
            .all()
            .filter(|e| !e.is_closed())
            .cloned()
            .collect()
    }

    pub(super) fn spawn_alarm_tasks(&self, settings: &ScheduleSettings) {
        use tracing::Instrument;
        let span = tracing::info_span!("smok", device = %self.inner.identity.device_id);
        let mut tasks = lock(&self.inner.tasks);
        // Events of the program are uploaded even without predicates.
        tasks.push(tokio::spawn(
            upload_events(self.clone(), settings.call_timeout).instrument(span.clone()),
        ));
        if settings.predicates {
            tasks.push(tokio::spawn(
                sync_predicates(self.clone(), settings.clone()).instrument(span.clone()),
            ));
            tasks.push(tokio::spawn(
                tick_predicates(self.clone(), settings.predicate_tick).instrument(span),
            ));
        }
    }
}

/// `GET /v1/device/predicates` every `predicate_sync`.
async fn sync_predicates(device: SmokDevice, settings: ScheduleSettings) {
    let ctx: &SyncContext = &device.inner.sync;
    let sync = || sync_once(ctx, device.alarms());
    tokio::select! {
        _ = super::scheduled::every(ctx, "predicate sync", settings.predicate_sync, settings.call_timeout, sync) => {}
        _ = resync_loop(&device, settings.call_timeout) => {}
    }
}

/// One predicate sync: the server's list applied and cached in the store. A refusal (4xx) is
/// logged and waits for the next sync; no link or a 5xx is an error (retried with backoff).
async fn sync_once(ctx: &SyncContext, alarms: &Alarms) -> std::result::Result<(), String> {
    let result = ctx.http.predicates().await;
    ctx.health.record(&result);
    let list = match result {
        Ok(list) => list,
        Err(e) if e.is_clients_fault() => {
            tracing::warn!(error = %e, "the server refused the predicate sync");
            return Ok(());
        }
        Err(e) => return Err(e.to_string()),
    };
    let kept = lock(&alarms.predicates).apply(list, &*ctx.fw.store);
    match serde_json::to_vec(&kept) {
        Ok(bytes) => {
            if let Err(e) = ctx.fw.store.put_state(PREDICATES_KEY, &bytes) {
                tracing::warn!(error = %e, "the predicate list cannot be cached");
            }
        }
        Err(e) => tracing::warn!(error = %e, "the predicate list cannot be encoded"),
    }
    Ok(())
}

/// `reset_predicates`: an extra sync at once, outside the timetable (a failed one is left to
/// the timetable), done as the scheduled ones are: sync hooks told, the list cached.
async fn resync_loop(device: &SmokDevice, timeout: Duration) {
    let ctx = &device.inner.sync;
    loop {
        device.alarms().resync.notified().await;
        match tokio::time::timeout(timeout, sync_once(ctx, device.alarms())).await {
            Ok(Ok(())) => ctx.round_done(),
            Ok(Err(e)) => tracing::debug!(error = %e, "the predicate sync asked by reset_predicates failed"),
            Err(_) => tracing::debug!("the predicate sync asked by reset_predicates took too long"),
        }
    }
}

/// Ticks every statistic every `every`.
async fn tick_predicates(device: SmokDevice, every: Duration) {
    let ctx = &device.inner.sync;
    let mut timer = Timer::default();
    loop {
        {
            let alarms = device.alarms();
            let zone = device.time_zone();
            let values = |path: &str| device.value(path).ok().flatten();
            let mut predicates = lock(&alarms.predicates);
            let mut book = lock(&alarms.book);
            predicates.tick(SystemTime::now(), &zone, &values, &mut book, &*ctx.fw.store);
            if book.has_unsynced() {
                alarms.events_changed.notify_one();
            }
        }
        if !ctx.sleep_on(&mut timer, every).await {
            return;
        }
    }
}

/// Sends unsynced events (`POST /v1/device/alarms`) whenever there are some.
async fn upload_events(device: SmokDevice, call_timeout: Duration) {
    let ctx = &device.inner.sync;
    let alarms = device.alarms();
    let mut backoff = Backoff::new(ctx.backoff);
    // After each signal the safety net re-arms its timer instead of making a new one.
    let mut idle = Timer::default();
    loop {
        let (sent, reports) = lock(&alarms.book).batch();
        if sent.is_empty() {
            tokio::select! {
                _ = alarms.events_changed.notified() => {}
                _ = idle.sleep(EVENT_IDLE) => {}
                _ = ctx.cancel.cancelled() => return,
            }
            continue;
        }
        let result = match tokio::time::timeout(call_timeout, ctx.http.send_events(&reports)).await {
            Ok(r) => {
                ctx.health.record(&r);
                r.map_err(|e| (e.is_clients_fault(), e.to_string()))
            }
            Err(_) => Err((false, "no answer in time".into())),
        };
        let all_confirmed = match result {
            Ok(answer) => {
                let confirmed = lock(&alarms.book).answered(&sent, answer);
                tracing::debug!(sent = sent.len(), confirmed, "events sent");
                confirmed == sent.len()
            }
            Err((true, e)) => {
                tracing::warn!(error = %e, events = sent.len(), "the server refused events: not sent again");
                lock(&alarms.book).refused(&sent);
                true
            }
            Err((false, e)) => {
                tracing::debug!(error = %e, "event upload failed: will retry");
                false
            }
        };
        if all_confirmed {
            backoff.reset();
            ctx.round_done();
        } else if !ctx.sleep(backoff.next_delay()).await {
            return;
        }
    }
}
