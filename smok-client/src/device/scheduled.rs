//! [`every`]: runs one periodic call of a device schedule — from the client's start (not the
//! host's boot, HTTP-API.md §4), jittered, each call bounded by a timeout, retried with backoff
//! after a failure. Each schedule is its own task: none waits for another or for readiness.

use std::future::Future;
use std::time::Duration;

use ngtt_transport::{Backoff, SplitMix64};

use super::schedule::Periodic;
use super::sync::SyncContext;
use super::wake::Timer;

/// How much earlier than its period a schedule may run (10 %), so that a fleet started
/// together does not stay in lock-step.
pub(crate) const SCHEDULE_JITTER: f64 = 0.1;

/// Runs `call` at the client's start and then every `period` (jittered) until the device is
/// closed. A call that fails, or takes longer than `timeout`, is retried after a backoff (never
/// later than a period).
pub(crate) async fn every<F, Fut>(
    ctx: &SyncContext,
    what: &'static str,
    period: Duration,
    timeout: Duration,
    mut call: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut schedule = Periodic::new(period, SCHEDULE_JITTER);
    let mut backoff = Backoff::new(ctx.backoff);
    let mut rng = SplitMix64::from_entropy();
    let mut timer = Timer::default();
    loop {
        let wait = schedule.wait(ctx.started.elapsed());
        if !wait.is_zero() && !ctx.sleep_on(&mut timer, wait).await {
            return;
        }
        let outcome = tokio::select! {
            r = tokio::time::timeout(timeout, call()) => r,
            _ = ctx.cancel.cancelled() => return,
        };
        let elapsed = ctx.started.elapsed();
        match outcome {
            Ok(Ok(())) => {
                backoff.reset();
                schedule.done(elapsed, rng.next_f64());
                ctx.round_done();
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "{what} failed: will retry");
                schedule.failed(elapsed, backoff.next_delay());
            }
            Err(_) => {
                tracing::warn!(?timeout, "{what} took too long: abandoned, will retry");
                schedule.failed(elapsed, backoff.next_delay());
            }
        }
    }
}
