//! The device's durable store: what must survive a restart of the device program.
//!
//! * **Pathpoint samples** not yet confirmed by the server, and each pathpoint's last value.
//! * **Log records** not yet delivered (both modes: over NGTT until a PING echo proves that the
//!   server read them).
//! * **Sensor write records** not yet uploaded.
//! * **Cached server state** (the sensor list, the registered pathpoints, predicates, macros,
//!   the time zone) under string keys, so that a device restarted without network starts with
//!   what it last knew.
//! * **Events** not yet confirmed and open events, each predicate's state ([`EventStore`]), and
//!   the macro occurrences that ran and whether they were reported ([`MacroStore`]).
//!
//! The interface is split by resource ([`SampleStore`], [`LogStore`], [`SensorWriteStore`],
//! [`StateStore`], [`BaobStore`]); [`Store`] is all of them. Each method is one atomic transaction. Queues are
//! read oldest first ([`Pending`] entries carry increasing ids) and acknowledged *through* an
//! id, so an upload removes exactly what it sent, even while new entries arrive.
//! Resources added later come as further traits of the same shape ([`BaobStore`] for BAOBs),
//! and the SQLite store's schema grows by appending migrations ([`sqlite::MIGRATIONS`]).
//!
//! Two implementations: [`SqliteStore`] (a file, survives restarts and `kill -9`) and
//! [`MemoryStore`] (tests, and devices without storage).
//!
//! **When full** ([`StoreLimits`]): each queue is bounded by a number of entries; adding to a
//! full queue drops its *oldest* entries, which are counted ([`StoreStats`]) and logged by the
//! device. Pathpoint samples: 1 000 000 by default; log records 20 000; sensor writes 100 000.
//! Cached state is small and not bounded by count.

pub mod alarms;
mod baob;
mod memory;
mod memory_alarms;
pub mod sqlite;

use ngtt_proto::payload::{LogRecord, Sample};
use smok_http::SensorWriteRecord;

pub use alarms::{EventStore, MacroRun, MacroStore};
pub use baob::{BaobStore, StoredBaob};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed (disk full, I/O error, a corrupt file...).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored data could not be decoded (written by an incompatible version, or damaged).
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// An entry of a queue, with its id (increasing in the order entries were added).
#[derive(Clone, Debug, PartialEq)]
pub struct Pending<T> {
    /// The entry's id: pass the last one sent to the matching `ack_*_through`.
    pub id: u64,
    /// The entry.
    pub item: T,
}

/// A pathpoint sample waiting for upload.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSample {
    /// The pathpoint.
    pub path: String,
    /// The sample.
    pub sample: Sample,
}

/// How much each queue may hold; the oldest entries are dropped beyond that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Pathpoint samples waiting for upload (default 1 000 000).
    pub samples: u64,
    /// Log records waiting for upload (default 20 000).
    pub logs: u64,
    /// Sensor write records waiting for upload (default 100 000).
    pub sensor_writes: u64,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            samples: 1_000_000,
            logs: 20_000,
            sensor_writes: 100_000,
        }
    }
}

/// Counts of what a store holds and what it dropped (over its whole life, restarts included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Samples waiting for upload.
    pub samples_pending: u64,
    /// Samples dropped because the queue was full.
    pub samples_dropped: u64,
    /// Log records waiting for upload.
    pub logs_pending: u64,
    /// Log records dropped because the queue was full.
    pub logs_dropped: u64,
    /// Sensor write records waiting for upload.
    pub sensor_writes_pending: u64,
    /// Sensor write records dropped because the queue was full.
    pub sensor_writes_dropped: u64,
}

/// Pathpoint samples waiting for upload, and the last value of each pathpoint.
pub trait SampleStore: Send + Sync {
    /// Queues `samples` of `path` and makes the newest of them the path's last value, in one
    /// transaction. Returns how many old samples were dropped to make room.
    fn push_samples(&self, path: &str, samples: &[Sample]) -> StoreResult<u64>;
    /// Up to `max` queued samples, oldest first.
    fn pending_samples(&self, max: usize) -> StoreResult<Vec<Pending<StoredSample>>>;
    /// Removes every queued sample with an id up to `id` (they were uploaded).
    fn ack_samples_through(&self, id: u64) -> StoreResult<()>;
    /// The last value of every pathpoint that has one.
    fn last_values(&self) -> StoreResult<Vec<StoredSample>>;
}

/// Log records waiting for upload.
pub trait LogStore: Send + Sync {
    /// Queues `records`; returns how many old records were dropped to make room.
    fn push_logs(&self, records: &[LogRecord]) -> StoreResult<u64>;
    /// Up to `max` queued records, oldest first.
    fn pending_logs(&self, max: usize) -> StoreResult<Vec<Pending<LogRecord>>>;
    /// Removes every queued record with an id up to `id`.
    fn ack_logs_through(&self, id: u64) -> StoreResult<()>;
}

/// Sensor write records waiting for upload.
pub trait SensorWriteStore: Send + Sync {
    /// Queues `record` unless one with the same (`timestamp`, `fqts`) is queued already;
    /// returns whether it was added.
    fn push_sensor_write(&self, record: &SensorWriteRecord) -> StoreResult<bool>;
    /// Up to `max` queued records, oldest first.
    fn pending_sensor_writes(&self, max: usize) -> StoreResult<Vec<Pending<SensorWriteRecord>>>;
    /// Removes every queued record with an id up to `id`.
    fn ack_sensor_writes_through(&self, id: u64) -> StoreResult<()>;
}

/// Small pieces of cached server state, by key.
pub trait StateStore: Send + Sync {
    /// Stores `value` under `key`, replacing what was there.
    fn put_state(&self, key: &str, value: &[u8]) -> StoreResult<()>;
    /// What is stored under `key`.
    fn get_state(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
}

/// Everything a device keeps.
pub trait Store:
    SampleStore
    + LogStore
    + SensorWriteStore
    + StateStore
    + EventStore
    + MacroStore
    + BaobStore
    + std::fmt::Debug
    + 'static
{
    /// What the store holds and has dropped.
    fn stats(&self) -> StoreResult<StoreStats>;
}

#[cfg(test)]
mod alarm_tests;
#[cfg(test)]
mod tests;
