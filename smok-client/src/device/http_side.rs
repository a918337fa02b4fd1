//! The HTTP side of a device: order polling, the log uploader, and retries with backoff.
//!
//! Retry rules (HTTP-API.md): no answer or a 5xx → try again later with backoff; a 4xx → the
//! request is wrong, it is dropped with a logged reason and never sent again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ngtt_proto::payload::Section;
use smok_http::{HttpClient, HttpError};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken as CancelToken;

use super::state::LinkState;

/// Records the outcome of one request in the link state (HTTP mode only).
#[derive(Clone, Debug)]
pub(crate) struct HttpHealth {
    state: Option<watch::Sender<LinkState>>,
    hooks: super::SyncHooks,
}

impl HttpHealth {
    pub(super) fn tracking(state: watch::Sender<LinkState>) -> Self {
        HttpHealth {
            state: Some(state),
            hooks: super::SyncHooks::default(),
        }
    }

    pub(super) fn ignoring() -> Self {
        HttpHealth {
            state: None,
            hooks: super::SyncHooks::default(),
        }
    }

    /// Also calls `hooks` with the outcome of every request.
    pub(super) fn with_hooks(mut self, hooks: super::SyncHooks) -> Self {
        self.hooks = hooks;
        self
    }

    pub(crate) fn record<T>(&self, result: &Result<T, HttpError>) {
        self.hooks.outcome(!matches!(result, Err(e) if e.is_retryable()));
        let Some(state) = &self.state else { return };
        state.send_modify(|s| match result {
            Err(e) if e.is_retryable() => {
                let attempt = match s {
                    LinkState::Down { attempt, .. } => *attempt + 1,
                    _ => 1,
                };
                *s = LinkState::Down {
                    attempt,
                    last_error: e.to_string(),
                };
            }
            // Any answer, even a 4xx, means the server is reachable.
            _ if !s.is_up() && *s != LinkState::Closed => {
                *s = LinkState::Up {
                    since: Instant::now(),
                }
            }
            _ => {}
        });
    }
}

/// Exponential backoff for HTTP retries, with 25 % jitter so that a fleet does not retry in
/// lock-step.
#[derive(Clone, Copy, Debug)]
pub(super) struct Retry {
    pub(super) initial: Duration,
    pub(super) max: Duration,
}

impl Retry {
    /// The backoff configuration of these retries.
    pub(super) fn backoff(&self) -> ngtt_transport::BackoffConfig {
        ngtt_transport::BackoffConfig {
            initial: self.initial,
            max: self.max,
            reset_after: Duration::from_secs(30),
            jitter: 0.25,
            seed: None,
        }
    }

    /// Runs `attempt` until it succeeds or fails with something a retry cannot fix; waits
    /// between attempts, doubling from `initial` to `max`, each wait up to 25 % shorter at
    /// random. Stops early (with the last error) when `cancel` fires.
    pub(super) async fn run<T, F, Fut>(
        &self,
        what: &str,
        health: &HttpHealth,
        cancel: &CancelToken,
        mut attempt: F,
    ) -> Result<T, HttpError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, HttpError>>,
    {
        let mut backoff = ngtt_transport::Backoff::new(self.backoff());
        loop {
            let result = attempt().await;
            health.record(&result);
            match result {
                Err(e) if e.is_retryable() && !cancel.is_cancelled() => {
                    let delay = backoff.next_delay();
                    tracing::debug!(error = %e, ?delay, "{what} failed, retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = cancel.cancelled() => return Err(e),
                    }
                }
                other => return other,
            }
        }
    }
}

/// Polls `POST /v1/device/orders` every `every`, passing non-empty results on.
pub(super) async fn poll_orders(
    http: Arc<HttpClient>,
    every: Duration,
    out: mpsc::Sender<Vec<Section>>,
    health: HttpHealth,
    cancel: CancelToken,
) {
    let mut timer = super::wake::Timer::default();
    loop {
        let result = http.fetch_orders().await;
        health.record(&result);
        match result {
            Ok(sections) if !sections.is_empty() => {
                if out.send(sections).await.is_err() {
                    return; // nobody takes orders any more
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "polling orders failed"),
        }
        tokio::select! {
            _ = timer.sleep(every) => {}
            _ = cancel.cancelled() => return,
        }
    }
}
