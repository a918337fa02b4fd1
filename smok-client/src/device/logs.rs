//! The device's log records, in both modes: from the log layer into a bounded memory buffer
//! (pushing never blocks), from there into the store at once, and from the store to the server,
//! deleted from the store only once the server has them.
//!
//! * HTTP mode: `PUT /v1/device/device_logs`, deleted on its `2xx` (or a 4xx: refused for good).
//! * NGTT mode: LOGS frames through `Transport::send_logs_confirmed`, deleted once the server
//!   provably read them (the echo of a PING written after them). A batch whose connection
//!   drops before that is sent again: at-least-once, see `docs/delivery-guarantees.md`.
//!
//! So a device killed or restarted without network resumes with every record that reached the
//! store. Records reach it as soon as the uploader task wakes (also while an upload is in
//! flight or backing off); [`DeviceLogs::stash`] (`SmokDevice::persist_logs`) does it at once.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ngtt_proto::payload::LogRecord;
use ngtt_transport::{Backoff, Transport, TransportError};
use smok_http::HttpError;
use tokio::sync::Notify;

use super::framework::Framework;
use super::sync::SyncContext;
use crate::log_layer::{BufferedSink, LogSink};
use crate::store::StoreResult;

/// Most log records in one upload (HTTP request or batch of LOGS frames).
const LOG_BATCH: usize = 1_000;

/// The log records' way from the log layer to the store; cloning shares it.
#[derive(Clone, Debug)]
pub(crate) struct DeviceLogs {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    sink: BufferedSink,
    /// Held while records move from the buffer into the store, so that they keep their order.
    stashing: Mutex<()>,
    /// Records the store dropped (its log queue full) since the device started.
    store_dropped: AtomicU64,
    /// Signalled whenever records were removed from the store after an upload.
    removed: Notify,
    /// Signalled (one permit, for the one uploader) whenever records were put into the store.
    stored: Notify,
}

impl DeviceLogs {
    /// A buffer of `capacity` records in front of the store.
    pub(crate) fn new(capacity: usize) -> DeviceLogs {
        DeviceLogs {
            shared: Arc::new(Shared {
                sink: BufferedSink::new(capacity),
                stashing: Mutex::new(()),
                store_dropped: AtomicU64::new(0),
                removed: Notify::new(),
                stored: Notify::new(),
            }),
        }
    }

    /// Queues records in memory (never blocks on I/O) and wakes the uploader.
    pub(crate) fn push(&self, records: impl IntoIterator<Item = LogRecord>) {
        records.into_iter().for_each(|r| self.shared.sink.push(r));
    }

    /// Records dropped since the device started: by the memory buffer, or by the store's
    /// queue, because it was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.sink.dropped() + self.shared.store_dropped.load(Ordering::Relaxed)
    }

    /// Moves what the buffer holds into the store; returns how many records were moved. A
    /// store that fails loses them (logged).
    pub(crate) fn stash(&self, fw: &Framework) -> StoreResult<usize> {
        let _order = self.shared.stashing.lock().unwrap_or_else(|e| e.into_inner());
        let records = self.shared.sink.drain(usize::MAX);
        if records.is_empty() {
            return Ok(0);
        }
        match fw.store.push_logs(&records) {
            Ok(0) => {}
            Ok(dropped) => {
                self.shared.store_dropped.fetch_add(dropped, Ordering::Relaxed);
                tracing::warn!(
                    dropped,
                    "the store's log queue is full: the oldest records were dropped"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, records = records.len(), "log records cannot be stored: lost");
                return Err(e);
            }
        }
        // Records stashed by someone else (`persist_logs`, `close`) wake the uploader too.
        self.shared.stored.notify_one();
        Ok(records.len())
    }

    /// Waits until there may be records to upload: in the buffer, or put into the store;
    /// false when the device is cancelled first.
    async fn wait_for_records(&self, ctx: &SyncContext) -> bool {
        tokio::select! {
            () = self.shared.sink.wait_for_records() => true,
            () = self.shared.stored.notified() => true,
            () = ctx.cancel.cancelled() => false,
        }
    }

    /// Runs `work` to its end, moving records into the store whenever some arrive meanwhile;
    /// `None` when the device is cancelled first.
    async fn while_stashing<F: Future>(&self, ctx: &SyncContext, work: F) -> Option<F::Output> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return Some(out),
                () = self.shared.sink.wait_for_records() => {
                    let _ = self.stash(&ctx.fw);
                }
                () = ctx.cancel.cancelled() => return None,
            }
        }
    }

    /// Sleeps `d` while stashing; false when cancelled first.
    async fn sleep(&self, ctx: &SyncContext, d: Duration) -> bool {
        self.while_stashing(ctx, tokio::time::sleep(d)).await.is_some()
    }

    /// Removes the records through `last` from the store (they were uploaded).
    fn remove_through(&self, fw: &Framework, last: u64) {
        if let Err(e) = fw.store.ack_logs_through(last) {
            tracing::error!(error = %e, "uploaded log records cannot be removed from the store");
        }
        self.shared.removed.notify_waiters();
    }

    /// Waits until the store holds no log record (or cannot be read).
    pub(crate) async fn until_store_empty(&self, fw: &Framework) {
        loop {
            let removed = self.shared.removed.notified();
            tokio::pin!(removed);
            removed.as_mut().enable();
            if !fw.store.pending_logs(1).is_ok_and(|p| !p.is_empty()) {
                return;
            }
            removed.await;
        }
    }
}

/// HTTP mode: uploads stored log records once; `Ok` when nothing is left (or what was left
/// was refused).
async fn upload_stored_logs(ctx: &SyncContext, logs: &DeviceLogs) -> Result<(), HttpError> {
    loop {
        let batch = match ctx.fw.store.pending_logs(LOG_BATCH) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "the store's log records cannot be read");
                return Ok(());
            }
        };
        let Some(last) = batch.last().map(|p| p.id) else {
            return Ok(());
        };
        let records: Vec<_> = batch.into_iter().map(|p| p.item).collect();
        let Some(result) = logs.while_stashing(ctx, ctx.http.send_logs(&records)).await else {
            return Ok(()); // cancelled: the records stay in the store
        };
        ctx.health.record(&result);
        match result {
            Ok(()) => {}
            Err(e) if e.is_clients_fault() => {
                tracing::warn!(error = %e, records = records.len(), "the server refused log records: dropped")
            }
            Err(e) => return Err(e),
        }
        logs.remove_through(&ctx.fw, last);
    }
}

/// HTTP mode: log records from the buffer, through the store, to the server.
pub(crate) async fn upload_logs_http(ctx: SyncContext, logs: DeviceLogs) {
    let mut backoff = Backoff::new(ctx.backoff);
    loop {
        let _ = logs.stash(&ctx.fw);
        match upload_stored_logs(&ctx, &logs).await {
            Ok(()) => {
                backoff = Backoff::new(ctx.backoff);
                if !logs.wait_for_records(&ctx).await {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "log upload failed: will retry");
                if !logs.sleep(&ctx, backoff.next_delay()).await {
                    return;
                }
            }
        }
    }
}

/// NGTT mode: log records from the buffer, through the store, to the server in LOGS frames,
/// each batch removed from the store once the server provably read it. One batch at a time;
/// records that arrive meanwhile go into the store.
pub(crate) async fn upload_logs_ngtt(ctx: SyncContext, transport: Transport, logs: DeviceLogs) {
    let mut backoff = Backoff::new(ctx.backoff);
    // Halved while a batch is larger than all the room for uploads (huge records).
    let mut max_batch = LOG_BATCH;
    loop {
        let _ = logs.stash(&ctx.fw);
        let batch = match ctx.fw.store.pending_logs(max_batch) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "the store's log records cannot be read: nothing sent");
                if !logs.sleep(&ctx, backoff.next_delay()).await {
                    return;
                }
                continue;
            }
        };
        let Some(last) = batch.last().map(|p| p.id) else {
            if !logs.wait_for_records(&ctx).await {
                return;
            }
            continue;
        };
        let records: Vec<_> = batch.into_iter().map(|p| p.item).collect();
        let count = records.len();
        let Some(result) = logs
            .while_stashing(&ctx, transport.send_logs_confirmed(records))
            .await
        else {
            return; // cancelled: the records stay in the store
        };
        match result {
            Ok(()) => {
                backoff = Backoff::new(ctx.backoff);
                max_batch = LOG_BATCH;
                logs.remove_through(&ctx.fw, last);
            }
            Err(TransportError::UploadTooLarge { len, max }) if count > 1 => {
                tracing::debug!(
                    len,
                    max,
                    records = count,
                    "log batch too large: sending fewer at a time"
                );
                max_batch = count / 2;
            }
            Err(e @ TransportError::UploadTooLarge { .. }) => {
                tracing::warn!(error = %e, "a log record too large to send: dropped");
                logs.remove_through(&ctx.fw, last);
            }
            Err(TransportError::Closed) => return,
            Err(e) => {
                tracing::debug!(error = %e, records = count, "sending log records failed: kept, will retry");
                if !logs.sleep(&ctx, backoff.next_delay()).await {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pathpoint::{Attempts, Registry};
    use crate::store::{MemoryStore, StoreLimits};
    use ngtt_proto::payload::Level;

    fn framework(logs: u64) -> Arc<Framework> {
        let store = MemoryStore::with_limits(StoreLimits {
            logs,
            ..StoreLimits::default()
        });
        Arc::new(Framework::new(
            Registry::new(None),
            Arc::new(store),
            Attempts::default(),
            None,
        ))
    }

    fn record(n: u64) -> LogRecord {
        LogRecord::new("svc", n, Level::INFO, format!("record {n}"))
    }

    fn stored(fw: &Framework) -> Vec<u64> {
        let pending = fw.store.pending_logs(usize::MAX).expect("readable");
        pending.iter().map(|p| p.item.when).collect()
    }

    #[test]
    fn records_go_into_the_store_in_order_and_both_bounds_count_as_dropped() {
        let fw = framework(4);
        let logs = DeviceLogs::new(3);
        logs.push((0..5).map(record));
        assert_eq!(logs.dropped(), 2, "the buffer holds 3");
        assert_eq!(logs.stash(&fw).expect("stored"), 3);
        assert_eq!(stored(&fw), [2, 3, 4]);
        logs.push((5..8).map(record));
        assert_eq!(logs.stash(&fw).expect("stored"), 3);
        assert_eq!(stored(&fw), [4, 5, 6, 7], "the store holds 4: oldest dropped");
        assert_eq!(logs.dropped(), 4);
        assert_eq!(logs.stash(&fw).expect("nothing"), 0);
    }

    #[tokio::test]
    async fn waiting_for_an_empty_store_ends_when_the_upload_is_removed() {
        let fw = framework(100);
        let logs = DeviceLogs::new(100);
        logs.until_store_empty(&fw).await; // empty: at once
        logs.push((0..3).map(record));
        logs.stash(&fw).expect("stored");
        let waiting = tokio::spawn({
            let (fw, logs) = (fw.clone(), logs.clone());
            async move { logs.until_store_empty(&fw).await }
        });
        let first = fw.store.pending_logs(2).expect("readable");
        logs.remove_through(&fw, first[1].id);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "one record is left");
        let last = fw.store.pending_logs(1).expect("readable");
        logs.remove_through(&fw, last[0].id);
        waiting.await.expect("ends");
        assert_eq!(stored(&fw), [0u64; 0]);
    }
}
