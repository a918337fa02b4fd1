//! The macro task: the list fetched ahead and cached, due occurrences written through the
//! pathpoint registry at their time, each run recorded in the store before it is reported,
//! reports coalesced ([`Reports`]) and retried until the server has them.
//!
//! Across a restart: an occurrence recorded as run is never run again, and its report is sent
//! if it was not; an occurrence whose writes were under way when the process died (between
//! its first write and the store's record, milliseconds) runs again. The server counts a
//! repeated report once.

use std::time::{Duration, SystemTime};

use ngtt_proto::payload::Advise;
use ngtt_transport::Backoff;
use smok_http::{Lenient, MacroDefinition};

use super::schedule::Periodic;
use super::scheduled::SCHEDULE_JITTER;
use super::settings::ScheduleSettings;
use super::wake::Timer;
use super::SmokDevice;
use crate::clock::epoch_secs;
use crate::macros::{MacroPlan, Reports};
use crate::store::Store;

/// The state key of the cached macro list.
const MACROS_KEY: &str = "macros";
/// How far back the window asked for starts, and how long it is (HTTP-API.md §7.11).
const WINDOW_BACK: u64 = 3600;
const WINDOW_LEN: u64 = 9000;
/// Reported runs older than this are forgotten.
const KEEP_RUNS: f64 = 2.0 * 86_400.0;
/// The longest the task sleeps without looking at the clock again (wall-clock jumps).
const MAX_SLEEP: Duration = Duration::from_secs(60);

fn now() -> f64 {
    epoch_secs(SystemTime::now())
}

fn cached_plan(device: &SmokDevice) -> MacroPlan {
    match device.fw().store.get_state(MACROS_KEY) {
        Ok(Some(bytes)) => match serde_json::from_slice::<Vec<MacroDefinition>>(&bytes) {
            Ok(defs) => MacroPlan::from_server(defs.into_iter().map(Lenient::Valid).collect()).0,
            Err(e) => {
                tracing::warn!(error = %e, "the cached macros cannot be read: ignored");
                MacroPlan::default()
            }
        },
        Ok(None) => MacroPlan::default(),
        Err(e) => {
            tracing::warn!(error = %e, "the cached macros cannot be read");
            MacroPlan::default()
        }
    }
}

impl SmokDevice {
    pub(super) fn spawn_macro_task(&self, settings: &ScheduleSettings) {
        use tracing::Instrument;
        if !settings.macros {
            return;
        }
        let span = tracing::info_span!("smok", device = %self.inner.identity.device_id);
        let task = tokio::spawn(run_macros(self.clone(), settings.clone()).instrument(span));
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }
}

/// The occurrences the store has as run are no longer pending in `plan`; with `reports`,
/// those not yet reported are queued for it (what an earlier run of the program left).
fn apply_runs(plan: &mut MacroPlan, store: &dyn Store, reports: Option<&mut Reports>) -> bool {
    match store.macro_runs() {
        Ok(runs) => {
            for run in &runs {
                plan.ran(&run.macro_id, run.timestamp);
            }
            if let Some(reports) = reports {
                let now = now();
                for run in runs.iter().filter(|r| !r.reported) {
                    reports.push(&run.macro_id, run.timestamp, now);
                }
            }
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "the store's macro runs cannot be read: no macro runs now");
            false
        }
    }
}

/// Refreshes the list, runs what is due, reports what ran — until the device is closed.
///
/// The store is read when the list changes (at start and at each refresh), not at every run:
/// between refreshes the plan itself drops each occurrence as it runs, and the reports wait
/// in memory (and in the store, for a restart).
async fn run_macros(device: SmokDevice, settings: ScheduleSettings) {
    let ctx = &device.inner.sync;
    let store = &ctx.fw.store;
    let mut plan = cached_plan(&device);
    let mut reports = Reports::default();
    let mut reports_loaded = false;
    let mut plan_checked = false;
    let mut refresh = Periodic::new(settings.macro_refresh, SCHEDULE_JITTER);
    let mut refresh_backoff = Backoff::new(ctx.backoff);
    let mut store_backoff = Backoff::new(ctx.backoff);
    let mut report_backoff = Backoff::new(ctx.backoff);
    let mut rng = ngtt_transport::SplitMix64::from_entropy();
    let mut timer = Timer::default();
    loop {
        if refresh.is_due(ctx.started.elapsed()) {
            let start = (now().max(0.0) as u64).saturating_sub(WINDOW_BACK);
            let result = tokio::time::timeout(
                settings.call_timeout,
                ctx.http.macro_occurrences(start, start + WINDOW_LEN),
            )
            .await;
            let elapsed = ctx.started.elapsed();
            if let Ok(r) = &result {
                ctx.health.record(r);
            }
            match result {
                Ok(Ok(list)) => {
                    let (fresh, kept) = MacroPlan::from_server(list);
                    plan = fresh;
                    plan_checked = false;
                    match serde_json::to_vec(&kept) {
                        Ok(bytes) => {
                            if let Err(e) = store.put_state(MACROS_KEY, &bytes) {
                                tracing::warn!(error = %e, "the macro list cannot be cached");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "the macro list cannot be encoded"),
                    }
                    if let Err(e) = store.prune_macro_runs(now() - KEEP_RUNS) {
                        tracing::warn!(error = %e, "old macro runs cannot be pruned");
                    }
                    refresh_backoff.reset();
                    refresh.done(elapsed, rng.next_f64());
                    ctx.round_done();
                }
                Ok(Err(e)) if e.is_clients_fault() => {
                    tracing::warn!(error = %e, "the server refused the macro refresh: the cached list is kept");
                    refresh.done(elapsed, rng.next_f64());
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "macro refresh failed: will retry");
                    refresh.failed(elapsed, refresh_backoff.next_delay());
                }
                Err(_) => {
                    tracing::warn!("macro refresh took too long: will retry");
                    refresh.failed(elapsed, refresh_backoff.next_delay());
                }
            }
        }

        if !plan_checked {
            let load = (!reports_loaded).then_some(&mut reports);
            if !apply_runs(&mut plan, &**store, load) {
                if !ctx.sleep_on(&mut timer, store_backoff.next_delay()).await {
                    return;
                }
                continue;
            }
            for run in reports.iter() {
                plan.ran(&run.macro_id, run.timestamp); // ran here, even if the store failed
            }
            store_backoff.reset();
            plan_checked = true;
            reports_loaded = true;
        }

        for due in plan.due(now()) {
            for (path, value) in &due.writes {
                if let Err(e) = device.write(path, value.clone(), Advise::Force).await {
                    tracing::warn!(macro_id = %due.macro_id, path = %path, error = %e, "a macro's write failed");
                }
            }
            plan.ran(&due.macro_id, due.timestamp);
            match store.macro_ran(&due.macro_id, due.timestamp) {
                Ok(_) => {
                    tracing::info!(macro_id = %due.macro_id, timestamp = due.timestamp, "macro occurrence executed")
                }
                Err(e) => {
                    tracing::error!(macro_id = %due.macro_id, error = %e, "a macro run cannot be recorded: after a restart it may run again");
                }
            }
            reports.push(&due.macro_id, due.timestamp, now());
        }

        if reports.send_now(now(), plan.next()) {
            send_reports(ctx, &settings, &mut reports, &mut report_backoff).await;
        }

        let t = now();
        let mut wait = refresh.wait(ctx.started.elapsed()).min(MAX_SLEEP);
        let wake = [plan.next(), reports.wake_at(t, plan.next())]
            .into_iter()
            .flatten()
            .min_by(f64::total_cmp);
        if let Some(at) = wake {
            wait = wait.min(Duration::from_secs_f64((at - t).clamp(0.0, 60.0)));
        }
        if !ctx
            .sleep_on(&mut timer, wait.max(Duration::from_millis(10)))
            .await
        {
            return;
        }
    }
}

/// Sends the waiting reports, oldest first, one request each on the kept-alive connection;
/// stops at the first that fails (retried after a backoff).
async fn send_reports(
    ctx: &super::sync::SyncContext,
    settings: &ScheduleSettings,
    reports: &mut Reports,
    backoff: &mut Backoff,
) {
    while let Some(run) = reports.first().cloned() {
        let result = tokio::time::timeout(
            settings.call_timeout,
            ctx.http.report_macro(&run.macro_id, run.timestamp),
        )
        .await;
        if let Ok(r) = &result {
            ctx.health.record(r);
        }
        let delivered = match result {
            Ok(Ok(())) => true,
            Ok(Err(e)) if e.is_clients_fault() => {
                tracing::warn!(macro_id = %run.macro_id, error = %e, "the server refused a macro report: taken as delivered");
                true
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "macro report failed: will retry");
                false
            }
            Err(_) => false,
        };
        if !delivered {
            reports.failed(now(), backoff.next_delay().as_secs_f64());
            return;
        }
        if let Err(e) = ctx.fw.store.macro_reported(&run.macro_id, run.timestamp) {
            tracing::error!(error = %e, "a macro report cannot be recorded: it may be sent again");
        }
        reports.delivered();
    }
    backoff.reset();
    ctx.round_done();
}
