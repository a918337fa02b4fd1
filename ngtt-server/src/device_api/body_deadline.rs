//! [`DeadlineBody`]: a request body that must keep a minimum pace, so that a body trickled a
//! byte at a time cannot hold a connection (and a handler) open for hours.
//!
//! A body gets a grace period from the moment its headers were read, plus the time
//! its bytes take at the minimum rate ([`BodyPace::deadline`]). When the deadline passes before
//! the body is complete, reading it fails and the connection is cut.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

/// The pace a request body must keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BodyPace {
    /// Time allowed from the request's headers before any rate applies.
    pub(crate) grace: Duration,
    /// Bytes per second the body must average beyond the grace (at least 1).
    pub(crate) min_rate: u64,
}

impl BodyPace {
    /// When a body started at `started` must be complete, having received `received` bytes:
    /// the grace, plus `received / min_rate` seconds.
    pub(crate) fn deadline(&self, started: Instant, received: u64) -> Instant {
        let cap = Duration::from_secs(7 * 24 * 3600);
        let earned =
            Duration::try_from_secs_f64(received as f64 / self.min_rate.max(1) as f64).unwrap_or(cap);
        started + self.grace + earned.min(cap)
    }
}

/// A request body cut off when it falls behind its [`BodyPace`].
pub(crate) struct DeadlineBody {
    inner: Incoming,
    pace: BodyPace,
    started: Instant,
    received: u64,
    sleep: Pin<Box<Sleep>>,
    /// Cancelled when the deadline passes: the connection is then dropped.
    cut: CancellationToken,
}

/// The error of a body that fell behind its pace.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly ({received} bytes in {elapsed:?})")]
pub(crate) struct TooSlow {
    received: u64,
    elapsed: Duration,
}

impl DeadlineBody {
    /// Wraps `inner`, whose headers arrived now.
    pub(crate) fn new(inner: Incoming, pace: BodyPace, cut: CancellationToken) -> DeadlineBody {
        let started = Instant::now();
        DeadlineBody {
            inner,
            pace,
            started,
            received: 0,
            sleep: Box::pin(tokio::time::sleep_until(pace.deadline(started, 0))),
            cut,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let deadline = this.pace.deadline(this.started, this.received);
                    this.sleep.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.cut.cancel();
                    Poll::Ready(Some(Err(Box::new(TooSlow {
                        received: this.received,
                        elapsed: this.started.elapsed(),
                    }))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_grows_with_what_arrived() {
        let pace = BodyPace {
            grace: Duration::from_secs(30),
            min_rate: 16 * 1024,
        };
        let t0 = Instant::now();
        assert_eq!(pace.deadline(t0, 0), t0 + Duration::from_secs(30));
        // A trickle earns nothing worth having: 6 bytes in 30 s.
        assert!(pace.deadline(t0, 6) < t0 + Duration::from_millis(30_001));
        assert_eq!(pace.deadline(t0, 16 << 20), t0 + Duration::from_secs(30 + 1024));
    }

    #[test]
    fn a_zero_rate_does_not_divide_by_zero_and_huge_bodies_are_capped() {
        let pace = BodyPace {
            grace: Duration::ZERO,
            min_rate: 0,
        };
        let t0 = Instant::now();
        assert_eq!(pace.deadline(t0, 2), t0 + Duration::from_secs(2));
        assert_eq!(
            pace.deadline(t0, u64::MAX),
            t0 + Duration::from_secs(7 * 24 * 3600)
        );
    }
}
