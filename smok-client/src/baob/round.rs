//! The BAOB round and the task that runs it (see the module documentation of [`super`]).
//!
//! Outcomes per key: a download or upload refused (4xx) or undecodable is logged and skipped,
//! the rest of the round goes on; no link or a 5xx ends the round, which is retried after a
//! backoff. An upload refused with `409` means the server holds a newer copy: one more round
//! follows at once and downloads it.

use bytes::Bytes;
use ngtt_proto::Escaped;
use ngtt_transport::{Backoff, SplitMix64};
use smok_http::{BaobVersion, HttpError};

use super::plan::Plan;
use super::{BaobChange, BaobState};
use crate::device::SyncContext;
use crate::error::ClientError;
use crate::schedule::Periodic;

/// What a round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RoundReport {
    pub(crate) deleted: usize,
    pub(crate) downloaded: usize,
    pub(crate) uploaded: usize,
    pub(crate) skipped: usize,
    /// An upload was refused as not newer: the server's copy should be downloaded.
    pub(crate) again: bool,
}

/// Asks the server what to transfer: over NGTT when the device uses it and the connection
/// answers, else (no connection, no answer in time) over HTTP, which the bytes need anyway.
async fn plan(ctx: &SyncContext, held: Vec<(String, i64)>) -> Result<Plan, ClientError> {
    if let Some(transport) = &ctx.ngtt {
        let request = ngtt_proto::payload::SyncBaobRequest(held.iter().cloned().collect());
        match tokio::time::timeout(ctx.upload_timeout, transport.sync_baobs(request)).await {
            Ok(Ok(answer)) => {
                return Ok(Plan::from_answer(smok_http::BaobPlan {
                    should_delete: answer.delete,
                    should_download: answer.download,
                    should_upload: answer.upload,
                    malformed: Vec::new(),
                }))
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "no SYNC_BAOB answer: asking over HTTP"),
            Err(_) => tracing::debug!("no SYNC_BAOB answer in time: asking over HTTP"),
        }
    }
    let held: Vec<BaobVersion> = held
        .into_iter()
        .map(|(key, version)| BaobVersion { key, version })
        .collect();
    let answer = ctx.http.baob_round(&held).await;
    ctx.health.record(&answer);
    Ok(Plan::from_answer(answer?))
}

/// A failure that skips the key (logged) rather than ending the round.
fn skips_key(e: &HttpError) -> bool {
    !e.is_retryable()
}

/// One round.
pub(crate) async fn round(ctx: &SyncContext, state: &BaobState) -> Result<RoundReport, ClientError> {
    let store = &ctx.fw.store;
    let plan = plan(ctx, store.baob_versions()?).await?;
    let mut report = RoundReport::default();
    if plan.is_empty() {
        return Ok(report);
    }
    for key in &plan.delete {
        if store.delete_baob(key)? {
            report.deleted += 1;
            state.notify(BaobChange::Deleted { key: key.clone() });
        }
    }
    for key in &plan.download {
        let result = ctx.http.baob_download(key, state.max_len).await;
        ctx.health.record(&result);
        match result {
            Ok(baob) => {
                store.put_baob(key, baob.version, &baob.data)?;
                report.downloaded += 1;
                state.notify(BaobChange::Updated {
                    key: key.clone(),
                    version: baob.version,
                });
            }
            Err(e) if skips_key(&e) => {
                tracing::warn!(key = %Escaped(key), error = %e, "BAOB download skipped");
                report.skipped += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    for key in &plan.upload {
        let Some(baob) = store.get_baob(key)? else {
            continue; // deleted meanwhile
        };
        let result = ctx
            .http
            .baob_upload(key, Bytes::from(baob.data), baob.version)
            .await;
        ctx.health.record(&result);
        match result {
            Ok(()) => report.uploaded += 1,
            Err(HttpError::Refused { status: 409, reason }) => {
                tracing::info!(key = %Escaped(key), reason = %Escaped(&reason), "BAOB upload refused as not newer: the server's copy will be downloaded");
                report.again = true;
            }
            Err(e) if skips_key(&e) => {
                tracing::warn!(key = %Escaped(key), error = %e, "BAOB upload skipped");
                report.skipped += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}

/// Runs rounds until cancelled: at start, every interval from the start (jittered), and when
/// woken; failed rounds are retried after a backoff.
pub(crate) async fn run_rounds(ctx: SyncContext, state: std::sync::Arc<crate::device::Extras>) {
    let state = &state.baob;
    let mut schedule = Periodic::new(state.interval, 0.1);
    let mut backoff = Backoff::new(ctx.backoff);
    let mut rng = SplitMix64::from_entropy();
    let mut timer = crate::device::wake::Timer::default();
    loop {
        let wait = schedule.wait(ctx.started.elapsed());
        if !wait.is_zero() {
            tokio::select! {
                _ = timer.sleep(wait) => {}
                _ = state.wake.notified() => {}
                _ = ctx.cancel.cancelled() => return,
            }
        }
        let result = tokio::select! {
            r = round(&ctx, state) => r,
            _ = ctx.cancel.cancelled() => return,
        };
        let elapsed = ctx.started.elapsed();
        match result {
            Ok(report) => {
                backoff = Backoff::new(ctx.backoff);
                tracing::debug!(?report, "BAOB round done");
                state.rounds.send_modify(|n| *n += 1);
                if report.again {
                    state.wake.notify_one();
                }
                schedule.done(elapsed, rng.next_f64());
                ctx.round_done();
            }
            Err(e) => {
                tracing::warn!(error = %e, "BAOB round failed: will retry");
                schedule.failed(elapsed, backoff.next_delay());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_end_a_round() {
        let refused = HttpError::Refused {
            status: 404,
            reason: "gone".into(),
        };
        let down = HttpError::ServerFault {
            status: 503,
            reason: "busy".into(),
        };
        assert!(skips_key(&refused));
        assert!(skips_key(&HttpError::Decode("no version".into())));
        assert!(!skips_key(&down));
    }
}
