//! [`LogSink`]: where the log layer puts records — straight into the NGTT transport
//! ([`TransportSink`]), or into a bounded buffer that an uploader drains ([`BufferedSink`], for
//! the HTTP API).

use std::sync::{Arc, Mutex, MutexGuard};

use ngtt_proto::payload::LogRecord;
use ngtt_transport::{LogBuffer, Transport, DEFAULT_LOG_BUFFER};
use tokio::sync::Notify;

/// Takes log records from the log layer.
///
/// [`LogSink::push`] is called on the application's thread, inside its `tracing` call: it must
/// not block (no I/O, no waiting for the network) — queue the record and return. Events it
/// emits itself on that thread are not captured by the layer.
pub trait LogSink: Send + Sync {
    /// Queues one record.
    fn push(&self, record: LogRecord);
}

impl<T: LogSink + ?Sized> LogSink for Arc<T> {
    fn push(&self, record: LogRecord) {
        (**self).push(record)
    }
}

/// Forwards records to an NGTT [`Transport`] ([`Transport::send_logs`]), whose own bounded
/// buffer (`Config::log_buffer`, 20 000 records by default; oldest dropped first and counted in
/// `stats().logs_dropped`) holds them while disconnected.
#[derive(Debug, Clone)]
pub struct TransportSink {
    transport: Transport,
}

impl TransportSink {
    /// A sink feeding `transport`.
    pub fn new(transport: Transport) -> Self {
        TransportSink { transport }
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Records the transport dropped because its buffer was full.
    pub fn dropped(&self) -> u64 {
        self.transport.stats().logs_dropped
    }
}

impl LogSink for TransportSink {
    fn push(&self, record: LogRecord) {
        self.transport.send_logs([record]);
    }
}

/// A bounded in-memory queue of records for an uploader to drain (the HTTP API's
/// `PUT /v1/device/device_logs`): at most `capacity` records (NGTT.md §4.4, 20 000 by
/// default); beyond that the oldest are dropped and counted. Cloning shares the queue.
///
/// An uploader loops on [`BufferedSink::wait_for_records`] and [`BufferedSink::drain`]; if an
/// upload fails it keeps the batch in hand and retries it before draining more, so records
/// stay in order.
#[derive(Debug, Clone)]
pub struct BufferedSink {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    buffer: Mutex<LogBuffer>,
    capacity: usize,
    arrived: Notify,
}

impl Default for BufferedSink {
    /// A queue of [`DEFAULT_LOG_BUFFER`] (20 000) records.
    fn default() -> Self {
        BufferedSink::new(DEFAULT_LOG_BUFFER)
    }
}

impl BufferedSink {
    /// A queue of at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        BufferedSink {
            shared: Arc::new(Shared {
                buffer: Mutex::new(LogBuffer::new(capacity)),
                capacity,
                arrived: Notify::new(),
            }),
        }
    }

    fn buffer(&self) -> MutexGuard<'_, LogBuffer> {
        // A panic elsewhere while holding the lock leaves a consistent queue: keep using it.
        self.shared.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes and returns up to `max` of the oldest records.
    pub fn drain(&self, max: usize) -> Vec<LogRecord> {
        let mut buffer = self.buffer();
        let mut records = Vec::with_capacity(max.min(buffer.len()));
        while records.len() < max {
            // A batch of at most 0 bytes is exactly one record (none when empty).
            let one = buffer.take_batch(0);
            if one.is_empty() {
                break;
            }
            records.extend(one);
        }
        records
    }

    /// Removes and returns the oldest records whose estimated encoded size stays within
    /// `max_bytes` (at least one when any waits) — for an upload with a body size limit.
    pub fn drain_bytes(&self, max_bytes: usize) -> Vec<LogRecord> {
        self.buffer().take_batch(max_bytes)
    }

    /// Waits until at least one record is queued (at once if one is).
    pub async fn wait_for_records(&self) {
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if !self.is_empty() {
                return;
            }
            arrived.await;
        }
    }

    /// Records queued.
    pub fn len(&self) -> usize {
        self.buffer().len()
    }

    /// True when no record is queued.
    pub fn is_empty(&self) -> bool {
        self.buffer().is_empty()
    }

    /// Records dropped because the queue was full, since it was made.
    pub fn dropped(&self) -> u64 {
        self.buffer().dropped()
    }

    /// The most records the queue holds.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

impl LogSink for BufferedSink {
    fn push(&self, record: LogRecord) {
        self.buffer().push([record]);
        self.shared.arrived.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngtt_proto::payload::Level;
    use std::time::Duration;

    fn record(n: u64) -> LogRecord {
        LogRecord::new("svc", n, Level::INFO, format!("record {n}"))
    }

    #[test]
    fn drains_oldest_first_up_to_max() {
        let sink = BufferedSink::new(10);
        (0..7).for_each(|n| sink.push(record(n)));
        let whens = |v: Vec<LogRecord>| v.iter().map(|r| r.when).collect::<Vec<_>>();
        assert_eq!(whens(sink.drain(3)), [0, 1, 2]);
        assert_eq!(whens(sink.drain(0)), [0u64; 0]);
        assert_eq!(whens(sink.drain(100)), [3, 4, 5, 6]);
        assert!(sink.is_empty() && sink.drain(5).is_empty());
        assert_eq!(BufferedSink::default().capacity(), 20_000);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_for_records_wakes_on_push() {
        let sink = BufferedSink::new(10);
        let waiter = tokio::spawn({
            let sink = sink.clone();
            async move {
                sink.wait_for_records().await;
                sink.drain(10).len()
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        sink.push(record(1));
        assert_eq!(waiter.await.unwrap(), 1);
        sink.push(record(2));
        sink.wait_for_records().await; // already there: returns at once
    }
}
