//! [`UploadBudget`]: the room for uploads waiting on the device, in count and in bytes
//! ([`UploadLimits`]).
//!
//! An upload takes a permit for one place and for its payload bytes before it is queued, and
//! gives it back when the server answers it (or the transport closes): so the uploads the
//! session holds never exceed the limits, however long the link is down. Waiting for room is
//! first come, first served (tokio's semaphores are fair): a large upload waiting is not
//! overtaken by small ones.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::config::UploadLimits;
use crate::error::TransportError;

/// The room left for uploads; shared by the handles (which take permits) and the driver
/// (which holds them until the answer).
#[derive(Debug, Clone)]
pub(crate) struct UploadBudget {
    limits: UploadLimits,
    count: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
}

/// One upload's place and bytes; dropping it gives them back.
#[derive(Debug)]
pub(crate) struct UploadPermit {
    _count: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

impl UploadBudget {
    /// The room `limits` allow; both must be at least 1.
    pub fn new(limits: UploadLimits) -> Result<UploadBudget, TransportError> {
        let permits = |n: usize, what: &str| {
            if n == 0 || n > Semaphore::MAX_PERMITS {
                return Err(TransportError::Config(format!(
                    "upload_limits.{what} must be between 1 and {}",
                    Semaphore::MAX_PERMITS
                )));
            }
            Ok(Arc::new(Semaphore::new(n)))
        };
        Ok(UploadBudget {
            limits,
            count: permits(limits.max_count, "max_count")?,
            bytes: permits(limits.max_bytes, "max_bytes")?,
        })
    }

    /// The bytes permits for an upload of `len` bytes; an upload that could never fit is
    /// refused.
    fn bytes_for(&self, len: usize) -> Result<u32, TransportError> {
        let too_large = TransportError::UploadTooLarge {
            len,
            max: self.limits.max_bytes,
        };
        match u32::try_from(len.max(1)) {
            Ok(n) if len <= self.limits.max_bytes => Ok(n),
            _ => Err(too_large),
        }
    }

    /// Room for an upload of `len` bytes now, or [`TransportError::UploadQueueFull`].
    pub fn try_reserve(&self, len: usize) -> Result<UploadPermit, TransportError> {
        let n = self.bytes_for(len)?;
        let permit = Arc::clone(&self.count).try_acquire_owned().and_then(|count| {
            let bytes = Arc::clone(&self.bytes).try_acquire_many_owned(n)?;
            Ok(UploadPermit {
                _count: count,
                _bytes: bytes,
            })
        });
        // On failure, any place taken above has been given back by now.
        permit.map_err(|e| match e {
            TryAcquireError::Closed => TransportError::Closed,
            TryAcquireError::NoPermits => {
                let (pending, pending_bytes) = self.pending();
                TransportError::UploadQueueFull {
                    pending,
                    pending_bytes,
                    len,
                }
            }
        })
    }

    /// Room for an upload of `len` bytes, waiting for it (first come, first served); fails
    /// with [`TransportError::Closed`] when the transport closes meanwhile.
    pub async fn reserve(&self, len: usize) -> Result<UploadPermit, TransportError> {
        let n = self.bytes_for(len)?;
        let closed = |_| TransportError::Closed;
        let count = Arc::clone(&self.count).acquire_owned().await.map_err(closed)?;
        let bytes = Arc::clone(&self.bytes)
            .acquire_many_owned(n)
            .await
            .map_err(closed)?;
        Ok(UploadPermit {
            _count: count,
            _bytes: bytes,
        })
    }

    /// Uploads holding a place, and the bytes they hold (an empty upload counts as 1 byte).
    pub fn pending(&self) -> (usize, usize) {
        let used = |limit: usize, sem: &Semaphore| limit.saturating_sub(sem.available_permits());
        (
            used(self.limits.max_count, &self.count),
            used(self.limits.max_bytes, &self.bytes),
        )
    }

    /// No more room, ever: uploads waiting for room fail with [`TransportError::Closed`].
    pub fn close(&self) {
        self.count.close();
        self.bytes.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(max_count: usize, max_bytes: usize) -> UploadBudget {
        UploadBudget::new(UploadLimits { max_count, max_bytes }).expect("limits")
    }

    #[test]
    fn count_and_bytes_both_bound() {
        let b = budget(2, 100);
        let first = b.try_reserve(60).expect("room");
        assert_eq!(b.pending(), (1, 60));
        let err = b.try_reserve(41).expect_err("bytes full");
        assert!(
            matches!(
                err,
                TransportError::UploadQueueFull {
                    pending: 1,
                    pending_bytes: 60,
                    len: 41
                }
            ),
            "{err:?}"
        );
        let _second = b.try_reserve(40).expect("room");
        assert!(
            matches!(b.try_reserve(0), Err(TransportError::UploadQueueFull { .. })),
            "count full"
        );
        drop(first);
        assert_eq!(b.pending(), (1, 40));
        b.try_reserve(60).expect("room again");
    }

    #[test]
    fn never_fitting_uploads_and_bad_limits_are_refused() {
        let b = budget(2, 100);
        assert!(matches!(
            b.try_reserve(101),
            Err(TransportError::UploadTooLarge { len: 101, max: 100 })
        ));
        assert!(UploadBudget::new(UploadLimits {
            max_count: 0,
            max_bytes: 1
        })
        .is_err());
        assert!(UploadBudget::new(UploadLimits {
            max_count: 1,
            max_bytes: 0
        })
        .is_err());
    }

    #[tokio::test]
    async fn waiting_is_served_in_order_and_ends_on_close() {
        let b = budget(1, 100);
        let held = b.try_reserve(10).expect("room");
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.reserve(10).await.map(drop) }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "no room yet");
        drop(held);
        waiter.await.expect("join").expect("room after the answer");

        let _held = b.try_reserve(10).expect("room");
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.reserve(10).await.map(drop) }
        });
        tokio::task::yield_now().await;
        b.close();
        assert!(matches!(waiter.await.expect("join"), Err(TransportError::Closed)));
        assert!(matches!(b.try_reserve(1), Err(TransportError::Closed)));
    }
}
