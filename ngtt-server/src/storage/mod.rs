//! Durable storage: the [`Storage`] trait and its two engines, [`SqliteStorage`] (one node, the
//! embedded default) and [`PostgresStorage`] (several nodes sharing one database; see
//! [`postgres`]). Neither engine's types appear in the trait: records are plain Rust types,
//! JSON documents are built and read above it (e.g. [`device_info::DeviceInfo::apply`]).
//!
//! Two layers:
//!
//! * [`Store`] is the server's async, engine-neutral interface. The hot-path writes
//!   ([`WriteOp`]: uploads, logs, order queueing, claiming and answers, tid reservations) go to
//!   one writer thread that applies many devices' operations in one transaction — one fsync —
//!   and answers each caller only after that commit ([group commit](Store)); everything else
//!   runs on a bounded pool of storage workers.
//! * [`Storage`] is what an engine implements: synchronous and object safe
//!   (`Arc<dyn Storage>`), never called on an async worker thread, so it may block. Every
//!   method that changes something has committed durably when it returns `Ok`; so has every
//!   `Ok` of [`Storage::apply_batch`]. The server acts (sends DATA_STREAM_CONFIRM, answers
//!   `201`) only after that.
//!
//! Orders go through four states ([`OrderState`]): *queued* → *sent* (handed to a device at
//! least once, no answer yet) → *confirmed* or *rejected*. Queued and sent orders are both
//! *pending*: a new connection receives every pending order of its device again, in queue order.

pub mod archives;
pub mod baob;
pub(crate) mod baob_stream;
mod blocking;
#[cfg(test)]
pub(crate) mod conformance;
pub mod device_info;
pub mod events;
pub mod macros;
pub mod metadata;
pub mod postgres;
pub mod predicates;
mod schema;
pub mod sensors;
mod sqlite;
mod store_calls;
mod types;
mod write_op;
mod writer;

pub(crate) use blocking::Store as Db;
pub use blocking::{Queued, Store, StoreLimits};
pub use postgres::{PostgresStorage, PostgresUrl};
pub use schema::SCHEMA_VERSION;
pub use sqlite::SqliteStorage;
pub use types::{
    AnsweredVia, DeviceRecord, LogEntry, MessageReport, OrderAnswer, OrderId, OrderRecord, OrderState,
    PendingOrder, RegisteredPathpoint, SeriesQuery, StorageLevel,
};
pub use write_op::{WriteOp, WriteOutcome};
pub use writer::StoreStats;

use device_info::{DeviceInfo, Instrumentation, InstrumentationPatch};
use events::{EventQuery, EventRecord, EventReport};
use ngtt_proto::payload::PathpointSeries;
use ngtt_proto::DeviceIdentity;
use predicates::Predicate;
use sensors::{Sensor, SensorWrite};

pub use archives::ArchiveStore;
pub use baob::BaobStore;
pub use macros::MacroStore;
pub use metadata::MetadataStore;

/// What a storage engine can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The engine (SQLite, …) reported an error.
    #[error("{engine}: {message}")]
    Engine {
        /// Which engine (`"sqlite"` or `"postgres"`).
        engine: &'static str,
        /// Its message.
        message: String,
    },

    /// The database was written by a newer version of this software.
    #[error("database schema version {found} is newer than this server understands ({supported})")]
    TooNew {
        /// The schema version of the database (SQLite's `user_version`, PostgreSQL's
        /// `ngtt_schema` table).
        found: i64,
        /// The newest schema this build knows.
        supported: i64,
    },

    /// Stored data that cannot be read back (e.g. an order whose sections are not MiniJSON).
    #[error("corrupt data: {0}")]
    Corrupt(String),

    /// A record given to the storage that it refuses (e.g. device settings of the wrong shape).
    #[error("invalid: {0}")]
    Invalid(String),

    /// The blocking task running a storage call failed (panicked or was cancelled).
    #[error("storage task failed: {0}")]
    Task(String),
}

impl StorageError {
    /// A copy for each member of a batch that failed as a whole (the commit failed): engine
    /// errors keep their message, the others become [`StorageError::Task`].
    pub fn for_batch_mate(&self) -> StorageError {
        match self {
            StorageError::Engine { engine, message } => StorageError::Engine {
                engine,
                message: message.clone(),
            },
            other => StorageError::Task(other.to_string()),
        }
    }
}

/// A durable store for devices, orders, pathpoint samples and logs, and (through its
/// supertraits, one per resource) BAOBs, macros, archive settings and plain metadata.
///
/// Implementations must be safe to call from many threads at once; each method is one atomic
/// transaction, durable when it returns `Ok`.
pub trait Storage: BaobStore + MacroStore + ArchiveStore + MetadataStore + Send + Sync + 'static {
    /// Records that `device` connected now (creates the device, updates its environment and
    /// last connection time).
    fn device_connected(&self, device: &DeviceIdentity) -> Result<(), StorageError>;

    /// Every known device (connected at least once, or with an order queued), by id.
    fn list_devices(&self) -> Result<Vec<DeviceRecord>, StorageError>;

    /// A device's information served by `GET /v1/device` (the defaults when never set).
    fn device_info(&self, device_id: &str) -> Result<DeviceInfo, StorageError>;

    /// Replaces a device's information (creating the device if needed). Slave devices that
    /// stay keep their instrumentation; the others are removed with theirs.
    fn set_device_info(&self, device_id: &str, info: &DeviceInfo) -> Result<(), StorageError>;

    /// Queues an order: `sections` is the ORDER payload, one MiniJSON document (a list of
    /// sections). Returns its id; ids grow in queue order.
    fn queue_order(&self, device_id: &str, sections: &[u8]) -> Result<OrderId, StorageError>;

    /// Takes up to `limit` pending orders of `device_id` with an id above `after`, in queue
    /// order, and marks them sent (one more delivery) in the same transaction.
    fn claim_orders(
        &self,
        device_id: &str,
        after: OrderId,
        limit: usize,
    ) -> Result<Vec<PendingOrder>, StorageError>;

    /// Reserves `count` ORDER tids of `device_id`'s sequence (1..=0x7FFF, wrapping to 1) and
    /// returns the first: the next call starts where this block ends, on any connection and
    /// after a restart, so that a tid is not reused until the sequence comes round.
    fn reserve_order_tids(&self, device_id: &str, count: u16) -> Result<u16, StorageError>;

    /// Records a device's answer to a pending order. `Ok(false)` when the order is not pending
    /// any more (already answered): nothing changes.
    fn answer_order(&self, id: OrderId, answer: OrderAnswer) -> Result<bool, StorageError>;

    /// The device HTTP API's hand-out (`POST /v1/device/orders`): every pending order of
    /// `device_id`, in queue order, marked confirmed (answered via HTTP) in the same
    /// transaction — handing an order out over HTTP counts as its acknowledgement.
    fn hand_out_orders(&self, device_id: &str) -> Result<Vec<PendingOrder>, StorageError>;

    /// One order.
    fn order(&self, id: OrderId) -> Result<Option<OrderRecord>, StorageError>;

    /// The orders of `device_id`, oldest first, optionally only those in `state`, at most
    /// `limit`.
    fn list_orders(
        &self,
        device_id: &str,
        state: Option<OrderState>,
        limit: usize,
    ) -> Result<Vec<OrderRecord>, StorageError>;

    /// Stores an upload. A sample whose (device, path, timestamp) is already stored is skipped,
    /// so a re-sent upload is stored once. Returns the number of new samples.
    fn store_series(&self, device_id: &str, series: &[PathpointSeries]) -> Result<usize, StorageError>;

    /// Carries out `ops` and returns each one's result, by position. Each `Ok` is durable when
    /// this returns; an operation that fails must not change anything nor fail the others.
    ///
    /// The default runs each operation as its own transaction. An engine that can do better
    /// runs them all in one transaction with one commit (one fsync) — both engines without
    /// savepoints, replaying the batch with a savepoint per operation only after one failed:
    /// this is what group commit ([`Store`]) gains from.
    fn apply_batch(&self, ops: &[WriteOp]) -> Vec<Result<WriteOutcome, StorageError>> {
        ops.iter().map(|op| op.apply_alone(self)).collect()
    }

    /// As [`Storage::apply_batch`], but the commit may be visible (to every later read and
    /// write) and survive the process without being on disk yet: it is durable once
    /// [`Storage::sync_committed`] returned `Ok`. Group commit answers a claim of orders at the
    /// commit, so its ORDER frames go out while the disk syncs, and every other caller after
    /// the sync (docs/delivery-guarantees.md, "Orders go out while the commit syncs").
    ///
    /// The default is [`Storage::apply_batch`]: durable at once.
    fn apply_batch_unsynced(&self, ops: &[WriteOp]) -> Vec<Result<WriteOutcome, StorageError>> {
        self.apply_batch(ops)
    }

    /// Makes every commit of [`Storage::apply_batch_unsynced`] durable (the fsync its commit
    /// left out). The default has nothing to do.
    fn sync_committed(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// Stored samples of `device_id`, grouped by path (paths sorted), oldest first.
    fn read_series(&self, device_id: &str, query: &SeriesQuery)
        -> Result<Vec<PathpointSeries>, StorageError>;

    /// Stores log records (messages already decompressed, tracebacks as sent). Returns how many
    /// were stored.
    fn store_logs(&self, device_id: &str, logs: &[LogEntry]) -> Result<usize, StorageError>;

    /// The `limit` most recent log records of `device_id`, oldest first.
    fn read_logs(&self, device_id: &str, limit: usize) -> Result<Vec<LogEntry>, StorageError>;

    /// Records that `device_id` reported the `message` order `uuid` as executed (device HTTP
    /// API). Returns `false` when it was reported before: the first report's time is kept.
    fn record_message(&self, device_id: &str, uuid: &str) -> Result<bool, StorageError>;

    /// The `limit` most recent message reports of `device_id`, oldest first.
    fn list_messages(&self, device_id: &str, limit: usize) -> Result<Vec<MessageReport>, StorageError>;

    /// Registers `pathpoints` for `device_id` (a path registered again gets the new storage
    /// level) and returns every pathpoint of the device, sorted by path, read in the same
    /// transaction.
    fn register_pathpoints(
        &self,
        device_id: &str,
        pathpoints: &[RegisteredPathpoint],
    ) -> Result<Vec<RegisteredPathpoint>, StorageError>;

    /// A slave device's instrumentation; `None` when `device_id` has no such slave.
    fn instrumentation(
        &self,
        device_id: &str,
        slave_id: &str,
    ) -> Result<Option<Instrumentation>, StorageError>;

    /// Changes the fields `patch` gives; `None` (nothing changed) when `device_id` has no such
    /// slave. Returns the instrumentation as stored.
    fn patch_instrumentation(
        &self,
        device_id: &str,
        slave_id: &str,
        patch: &InstrumentationPatch,
    ) -> Result<Option<Instrumentation>, StorageError>;

    /// A device's sensors, by fqts.
    fn list_sensors(&self, device_id: &str) -> Result<Vec<Sensor>, StorageError>;

    /// Creates or replaces `sensors` (by fqts); with `replace_all` every other sensor of the
    /// device is removed in the same transaction. Returns how many were new.
    fn put_sensors(
        &self,
        device_id: &str,
        sensors: &[Sensor],
        replace_all: bool,
    ) -> Result<usize, StorageError>;

    /// Removes a sensor; `false` when there was none.
    fn delete_sensor(&self, device_id: &str, fqts: &str) -> Result<bool, StorageError>;

    /// Stores sensor write records; a (timestamp, fqts) already stored is skipped. Returns how
    /// many were new.
    fn store_sensor_writes(&self, device_id: &str, writes: &[SensorWrite]) -> Result<usize, StorageError>;

    /// The `limit` most recent write records (optionally of one fqts), oldest first.
    fn list_sensor_writes(
        &self,
        device_id: &str,
        fqts: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SensorWrite>, StorageError>;

    /// A device's predicates, by id.
    fn list_predicates(&self, device_id: &str) -> Result<Vec<Predicate>, StorageError>;

    /// One predicate.
    fn predicate(&self, device_id: &str, predicate_id: &str) -> Result<Option<Predicate>, StorageError>;

    /// Creates or replaces a predicate; `true` when it is new.
    fn put_predicate(&self, device_id: &str, predicate: &Predicate) -> Result<bool, StorageError>;

    /// Removes a predicate; `false` when there was none.
    fn delete_predicate(&self, device_id: &str, predicate_id: &str) -> Result<bool, StorageError>;

    /// Applies an alarms batch in one transaction (see [`events`]) and returns each element's
    /// uuid, by position.
    fn report_events(&self, device_id: &str, events: &[EventReport]) -> Result<Vec<String>, StorageError>;

    /// A device's events, newest first.
    fn list_events(&self, device_id: &str, query: EventQuery) -> Result<Vec<EventRecord>, StorageError>;

    /// One event of a device.
    fn event(&self, device_id: &str, uuid: &str) -> Result<Option<EventRecord>, StorageError>;

    /// Closes an event from the server side at `ended_on` (seconds; an event already closed
    /// keeps its time); `None` when the device has no such event.
    fn close_event(
        &self,
        device_id: &str,
        uuid: &str,
        ended_on: f64,
        handled_by: Option<&str>,
    ) -> Result<Option<EventRecord>, StorageError>;

    /// Gives back what the engine caches but does not need now (the server calls it once many
    /// devices came and went, before returning free memory to the system). By default nothing.
    fn release_memory(&self) {}
}
