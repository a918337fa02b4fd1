//! [`PostgresStorage`]: the [`Storage`] trait over a PostgreSQL database, for several server
//! nodes sharing one durable store.
//!
//! * **Driver and pool**: `tokio-postgres` with a `deadpool-postgres` pool. Each trait call
//!   takes one pooled connection, runs one transaction and gives the connection back.
//! * **Bridge**: the trait is synchronous and runs on blocking threads (tokio's blocking pool,
//!   the group-commit writer thread, tests). The connections are driven by a small runtime of
//!   the storage's own ([`bridge`]); a call polls its future on the calling thread with that
//!   runtime's context entered (`futures::executor::block_on`), so it never starts a runtime
//!   inside a runtime and never waits on a thread that waits on it.
//! * **Durability**: a call returns `Ok` only after `COMMIT` returned, which with the default
//!   `synchronous_commit = on` means the commit is flushed to the WAL (docs/operations.md).
//! * **Concurrency**: several nodes (and this node's workers) write at once. The hot-path writes
//!   are single statements or row locks (`FOR UPDATE`) that PostgreSQL keeps consistent under
//!   `READ COMMITTED`; the read-check-write resource operations (BAOB versions, macro limits,
//!   event identities, …) first take the device's transaction-scoped advisory lock
//!   ([`lock_device`]), so that each device's resources change one transaction at a time, as
//!   they do in SQLite.
//! * **Schema**: created and migrated by [`PostgresStorage::connect`] in the schema the URL
//!   names ([`PostgresUrl`]), `public` by default.

use ngtt_proto::payload::PathpointSeries;
use ngtt_proto::DeviceIdentity;

use super::device_info::{DeviceInfo, Instrumentation, InstrumentationPatch};
use super::events::{EventQuery, EventRecord, EventReport};
use super::predicates::Predicate;
use super::sensors::{Sensor, SensorWrite};
use super::sqlite::{now_ms, to_i64};
use super::types::{
    DeviceRecord, LogEntry, MessageReport, OrderAnswer, OrderId, OrderRecord, OrderState, PendingOrder,
    RegisteredPathpoint, SeriesQuery,
};
use super::{Storage, StorageError, WriteOp, WriteOutcome};
use rows::{order_from_row, sample_from_row, ORDER_COLUMNS};

pub use bridge::PostgresStorage;

/// Runs `$body` (a future using the transaction `$tx`) in one transaction on a pooled
/// connection, commits it, and returns its result: one durable call of the trait.
macro_rules! in_tx {
    ($storage:expr, $tx:ident => $body:expr) => {
        $storage.block(async {
            let mut client = $storage.client().await?;
            let transaction = client.transaction().await?;
            let out = {
                let $tx = &transaction;
                $body.await?
            };
            transaction.commit().await?;
            Ok(out)
        })
    };
}
pub use url::PostgresUrl;

/// The transaction type every helper works in.
pub(super) type Tx<'a> = deadpool_postgres::Transaction<'a>;

impl From<tokio_postgres::Error> for StorageError {
    fn from(e: tokio_postgres::Error) -> StorageError {
        // `Display` of a database error is its message alone; the detail helps operators.
        let message = match e.as_db_error() {
            Some(db) => match db.detail() {
                Some(detail) => format!("{}: {} ({detail})", db.code().code(), db.message()),
                None => format!("{}: {}", db.code().code(), db.message()),
            },
            // "error connecting to server" says little without its cause.
            None => match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            },
        };
        StorageError::Engine {
            engine: "postgres",
            message,
        }
    }
}

impl From<deadpool_postgres::PoolError> for StorageError {
    fn from(e: deadpool_postgres::PoolError) -> StorageError {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StorageError::Engine {
                engine: "postgres",
                message: format!("connection pool: {other}"),
            },
        }
    }
}

/// The advisory-lock class (first key of the two-key form) of the storage's locks: the
/// two-key space never meets the one-key (`bigint`) space, so other users of advisory locks
/// (e.g. per-device leases) cannot collide with these by accident.
pub(super) const LOCK_CLASS_DEVICE: i32 = 0x4E47_0001;
/// The advisory-lock class of schema changes: `pg_advisory_xact_lock(LOCK_CLASS_SCHEMA,
/// hashtext(schema))` before any DDL in a schema (the storage's migrations take it; other
/// tables a node creates in the same schema should too, so that nodes starting together never
/// race to create the schema).
pub(crate) const LOCK_CLASS_SCHEMA: i32 = 0x4E47_0002;

/// Takes `device_id`'s advisory lock until the end of the transaction: the resource operations
/// of one device run one at a time, across every node.
pub(super) async fn lock_device(tx: &Tx<'_>, device_id: &str) -> Result<(), StorageError> {
    let stmt = tx
        .prepare_cached("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .await?;
    tx.execute(&stmt, &[&LOCK_CLASS_DEVICE, &device_id]).await?;
    Ok(())
}

/// Records `device_id` in `devices` if it is not there yet.
pub(super) async fn ensure_device(tx: &Tx<'_>, device_id: &str) -> Result<(), StorageError> {
    let stmt = tx
        .prepare_cached("INSERT INTO devices (device_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .await?;
    tx.execute(&stmt, &[&device_id]).await?;
    Ok(())
}

/// A `usize` limit as a `BIGINT`.
pub(super) fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Storage for PostgresStorage {
    fn device_connected(&self, device: &DeviceIdentity) -> Result<(), StorageError> {
        in_tx!(self, tx => hot_writes::device_connected(tx, device))
    }

    fn list_devices(&self) -> Result<Vec<DeviceRecord>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT device_id, environment, first_connected_at, last_connected_at
                     FROM devices ORDER BY device_id",
                )
                .await?;
            let rows = client.query(&stmt, &[]).await?;
            rows.iter()
                .map(|r| {
                    Ok(DeviceRecord {
                        device_id: r.try_get(0)?,
                        environment: r.try_get(1)?,
                        first_connected_ms: r.try_get(2)?,
                        last_connected_ms: r.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    fn device_info(&self, device_id: &str) -> Result<DeviceInfo, StorageError> {
        self.block(device_info::read(self, device_id))
    }

    fn set_device_info(&self, device_id: &str, info: &DeviceInfo) -> Result<(), StorageError> {
        in_tx!(self, tx => device_info::write(tx, device_id, info))
    }

    fn queue_order(&self, device_id: &str, sections: &[u8]) -> Result<OrderId, StorageError> {
        in_tx!(self, tx => hot_writes::queue_order(tx, device_id, sections))
    }

    fn claim_orders(
        &self,
        device_id: &str,
        after: OrderId,
        limit: usize,
    ) -> Result<Vec<PendingOrder>, StorageError> {
        in_tx!(self, tx => hot_writes::claim_orders(tx, device_id, after, limit))
    }

    fn reserve_order_tids(&self, device_id: &str, count: u16) -> Result<u16, StorageError> {
        in_tx!(self, tx => hot_writes::reserve_order_tids(tx, device_id, count))
    }

    fn answer_order(&self, id: OrderId, answer: OrderAnswer) -> Result<bool, StorageError> {
        in_tx!(self, tx => hot_writes::answer_order(tx, id, answer))
    }

    fn apply_batch(&self, ops: &[WriteOp]) -> Vec<Result<WriteOutcome, StorageError>> {
        self.block(group_commit::apply_batch(self, ops))
    }

    fn hand_out_orders(&self, device_id: &str) -> Result<Vec<PendingOrder>, StorageError> {
        in_tx!(self, tx => hot_writes::hand_out_orders(tx, device_id))
    }

    fn order(&self, id: OrderId) -> Result<Option<OrderRecord>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
            let stmt = client.prepare_cached(&sql).await?;
            client
                .query_opt(&stmt, &[&id])
                .await?
                .as_ref()
                .map(order_from_row)
                .transpose()
        })
    }

    fn list_orders(
        &self,
        device_id: &str,
        state: Option<OrderState>,
        limit: usize,
    ) -> Result<Vec<OrderRecord>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let sql = format!(
                "SELECT {ORDER_COLUMNS} FROM orders
                 WHERE device_id = $1 AND ($2::BIGINT IS NULL OR state = $2) ORDER BY id LIMIT $3"
            );
            let stmt = client.prepare_cached(&sql).await?;
            let state = state.map(OrderState::code);
            let rows = client
                .query(&stmt, &[&device_id, &state, &limit_of(limit)])
                .await?;
            rows.iter().map(order_from_row).collect()
        })
    }

    fn store_series(&self, device_id: &str, series: &[PathpointSeries]) -> Result<usize, StorageError> {
        in_tx!(self, tx => hot_writes::store_series(tx, device_id, series))
    }

    fn read_series(
        &self,
        device_id: &str,
        query: &SeriesQuery,
    ) -> Result<Vec<PathpointSeries>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT path, ts, value_int, value_real, value_text, error FROM samples
                     WHERE device_id = $1 AND ($2::TEXT IS NULL OR path = $2)
                       AND ($3::BIGINT IS NULL OR ts >= $3) AND ($4::BIGINT IS NULL OR ts <= $4)
                     ORDER BY path, ts LIMIT $5",
                )
                .await?;
            let rows = client
                .query(
                    &stmt,
                    &[
                        &device_id,
                        &query.path,
                        &query.from_ms.map(to_i64),
                        &query.to_ms.map(to_i64),
                        &limit_of(query.limit),
                    ],
                )
                .await?;
            let mut out: Vec<PathpointSeries> = Vec::new();
            for row in &rows {
                let path: String = row.try_get(0)?;
                let sample = sample_from_row(row)?;
                match out.last_mut() {
                    Some(series) if series.path == path => series.values.push(sample),
                    _ => out.push(PathpointSeries::new(path, [sample])),
                }
            }
            Ok(out)
        })
    }

    fn store_logs(&self, device_id: &str, logs: &[LogEntry]) -> Result<usize, StorageError> {
        in_tx!(self, tx => hot_writes::store_logs(tx, device_id, logs))
    }

    fn read_logs(&self, device_id: &str, limit: usize) -> Result<Vec<LogEntry>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT id, service, when_us, level, message, exception, traceback, received_at
                     FROM logs WHERE device_id = $1 ORDER BY id DESC LIMIT $2",
                )
                .await?;
            let rows = client.query(&stmt, &[&device_id, &limit_of(limit)]).await?;
            let mut logs = rows
                .iter()
                .map(|r| {
                    Ok(LogEntry {
                        id: r.try_get(0)?,
                        service: r.try_get(1)?,
                        when_us: u64::try_from(r.try_get::<_, i64>(2)?).unwrap_or(0),
                        level: u16::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
                        message: r.try_get(4)?,
                        exception_text: r.try_get(5)?,
                        exception_traceback: r.try_get(6)?,
                        received_at_ms: r.try_get(7)?,
                    })
                })
                .collect::<Result<Vec<_>, StorageError>>()?;
            logs.reverse();
            Ok(logs)
        })
    }

    fn record_message(&self, device_id: &str, uuid: &str) -> Result<bool, StorageError> {
        in_tx!(self, tx => device_api::record_message(tx, device_id, uuid))
    }

    fn list_messages(&self, device_id: &str, limit: usize) -> Result<Vec<MessageReport>, StorageError> {
        self.block(device_api::list_messages(self, device_id, limit))
    }

    fn register_pathpoints(
        &self,
        device_id: &str,
        pathpoints: &[RegisteredPathpoint],
    ) -> Result<Vec<RegisteredPathpoint>, StorageError> {
        in_tx!(self, tx => device_api::register_pathpoints(tx, device_id, pathpoints))
    }

    fn instrumentation(
        &self,
        device_id: &str,
        slave_id: &str,
    ) -> Result<Option<Instrumentation>, StorageError> {
        self.block(device_info::instrumentation(self, device_id, slave_id))
    }

    fn patch_instrumentation(
        &self,
        device_id: &str,
        slave_id: &str,
        patch: &InstrumentationPatch,
    ) -> Result<Option<Instrumentation>, StorageError> {
        in_tx!(self, tx => device_info::patch_instrumentation(tx, device_id, slave_id, patch))
    }

    fn list_sensors(&self, device_id: &str) -> Result<Vec<Sensor>, StorageError> {
        self.block(sensors::list_sensors(self, device_id))
    }

    fn put_sensors(
        &self,
        device_id: &str,
        sensors: &[Sensor],
        replace_all: bool,
    ) -> Result<usize, StorageError> {
        in_tx!(self, tx => sensors::put_sensors(tx, device_id, sensors, replace_all))
    }

    fn delete_sensor(&self, device_id: &str, fqts: &str) -> Result<bool, StorageError> {
        in_tx!(self, tx => sensors::delete_sensor(tx, device_id, fqts))
    }

    fn store_sensor_writes(&self, device_id: &str, writes: &[SensorWrite]) -> Result<usize, StorageError> {
        in_tx!(self, tx => sensors::store_sensor_writes(tx, device_id, writes))
    }

    fn list_sensor_writes(
        &self,
        device_id: &str,
        fqts: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SensorWrite>, StorageError> {
        self.block(sensors::list_sensor_writes(self, device_id, fqts, limit))
    }

    fn list_predicates(&self, device_id: &str) -> Result<Vec<Predicate>, StorageError> {
        self.block(predicates::list(self, device_id, None))
    }

    fn predicate(&self, device_id: &str, predicate_id: &str) -> Result<Option<Predicate>, StorageError> {
        Ok(self
            .block(predicates::list(self, device_id, Some(predicate_id)))?
            .pop())
    }

    fn put_predicate(&self, device_id: &str, predicate: &Predicate) -> Result<bool, StorageError> {
        in_tx!(self, tx => predicates::put(tx, device_id, predicate))
    }

    fn delete_predicate(&self, device_id: &str, predicate_id: &str) -> Result<bool, StorageError> {
        in_tx!(self, tx => predicates::delete(tx, device_id, predicate_id))
    }

    fn report_events(&self, device_id: &str, events: &[EventReport]) -> Result<Vec<String>, StorageError> {
        in_tx!(self, tx => events::report(tx, device_id, events))
    }

    fn list_events(&self, device_id: &str, query: EventQuery) -> Result<Vec<EventRecord>, StorageError> {
        self.block(events::list(self, device_id, query))
    }

    fn event(&self, device_id: &str, uuid: &str) -> Result<Option<EventRecord>, StorageError> {
        self.block(events::one(self, device_id, uuid))
    }

    fn close_event(
        &self,
        device_id: &str,
        uuid: &str,
        ended_on: f64,
        handled_by: Option<&str>,
    ) -> Result<Option<EventRecord>, StorageError> {
        in_tx!(self, tx => events::close(tx, device_id, uuid, ended_on, handled_by))
    }
}

mod baobs;
mod bridge;
mod device_api;
mod device_info;
mod events;
mod group_commit;
mod hot_writes;
mod macros;
mod pipeline;
mod predicates;
mod rows;
mod schema;
mod sensors;
mod url;
