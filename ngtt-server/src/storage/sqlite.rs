//! [`SqliteStorage`]: the [`Storage`] trait over one SQLite database file.
//!
//! Durability: the database runs in WAL mode with `synchronous = FULL`, so every commit is
//! fsynced to the WAL before the call returns. `NORMAL` would survive a process crash
//! (`kill -9`) but could lose the last commits on power loss — commits the server has already
//! acknowledged to a device (DATA_STREAM_CONFIRM) or to an operator (`201`), so it is not used
//! — except for group commits' own `COMMIT`, whose sync the writer makes right after, before
//! it answers anything but a claim of orders ([`wal_sync`]).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ngtt_proto::payload::{PathpointSeries, PathpointValue, ReadError, Sample};
use ngtt_proto::DeviceIdentity;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::device_info::{DeviceInfo, Instrumentation, InstrumentationPatch};
use super::events::{EventQuery, EventRecord, EventReport};
use super::predicates::Predicate;
use super::schema::migrate;
use super::sensors::{Sensor, SensorWrite};
use super::types::{
    AnsweredVia, DeviceRecord, LogEntry, MessageReport, OrderAnswer, OrderId, OrderRecord, OrderState,
    PendingOrder, RegisteredPathpoint, SeriesQuery,
};
use super::{Storage, StorageError, WriteOp, WriteOutcome};
use checkpoint::WriteGuard;

/// A [`Storage`] in one SQLite database file.
///
/// One write connection behind a mutex (`Connection` is not `Sync`), reads on a pool.
pub struct SqliteStorage {
    /// Shared with the checkpoint thread, which holds it while it catches up.
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections (database files only; an in-memory database reads on `conn`).
    readers: Option<read_pool::ReadPool>,
    /// Checkpoints the WAL off the commit path (database files only).
    checkpointer: Option<checkpoint::Checkpointer>,
    /// Syncs the WAL after a group commit that left it out (database files only).
    wal: Option<wal_sync::WalSync>,
}

/// Read-only connections of a database file.
const READ_CONNECTIONS: usize = 4;

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").finish_non_exhaustive()
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> StorageError {
        StorageError::Engine {
            engine: "sqlite",
            message: e.to_string(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const ORDER_COLUMNS: &str =
    "id, device_id, state, deliveries, queued_at, sent_at, answered_at, answered_via, sections";

fn order_from_row(row: &Row<'_>) -> rusqlite::Result<OrderRecord> {
    let state: i64 = row.get(2)?;
    let via: Option<String> = row.get(7)?;
    let sections: Vec<u8> = row.get(8)?;
    Ok(OrderRecord {
        id: row.get(0)?,
        device_id: row.get(1)?,
        state: OrderState::from_code(state).unwrap_or(OrderState::Queued),
        deliveries: row.get(3)?,
        queued_at_ms: row.get(4)?,
        sent_at_ms: row.get(5)?,
        answered_at_ms: row.get(6)?,
        answered_via: via.as_deref().map(AnsweredVia::parse),
        sections: Bytes::from(sections),
    })
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStorage, StorageError> {
        let mut storage = SqliteStorage::setup(Connection::open(path.as_ref())?)?;
        storage.readers = Some(read_pool::ReadPool::open(path.as_ref(), READ_CONNECTIONS)?);
        // Checkpoints run on their own thread; the writer's own only past a large WAL.
        storage
            .lock()
            .pragma_update(None, "wal_autocheckpoint", checkpoint::FALLBACK_PAGES)?;
        storage.checkpointer = Some(checkpoint::Checkpointer::start(
            path.as_ref(),
            Arc::clone(&storage.conn),
        )?);
        // Group commits may now be answered before their sync: first every tid a lost one can
        // have used is passed over.
        storage.skip_unsynced_tids()?;
        storage.wal = Some(wal_sync::WalSync::new(path.as_ref()));
        Ok(storage)
    }

    /// A private in-memory database (for tests and experiments: nothing is durable).
    pub fn open_in_memory() -> Result<SqliteStorage, StorageError> {
        SqliteStorage::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<SqliteStorage, StorageError> {
        conn.busy_timeout(Duration::from_secs(5))?;
        // In-memory databases answer "memory"; files must switch to WAL.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        tracing::debug!(journal_mode = %mode, "database opened");
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        let stale = baobs::remove_stale_uploads(&conn)?;
        if stale > 0 {
            tracing::info!(stale, "removed abandoned BAOB uploads");
        }
        Ok(SqliteStorage {
            conn: Arc::new(Mutex::new(conn)),
            readers: None,
            checkpointer: None,
            wal: None,
        })
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits it.
    fn write_tx<R>(&self, f: impl FnOnce(&Connection) -> Result<R, StorageError>) -> Result<R, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = f(&tx)?;
        tx.commit()?;
        Ok(result)
    }

    /// A connection for reads: a read-only one of a database file, else the write connection.
    fn read(&self) -> MutexGuard<'_, Connection> {
        match &self.readers {
            Some(pool) => pool.get(),
            None => self.lock_conn(),
        }
    }

    /// The write connection.
    fn lock(&self) -> WriteGuard<'_> {
        WriteGuard::new(self.lock_conn(), self.checkpointer.as_ref())
    }

    fn lock_conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls back
        // on drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn pending(
        conn: &Connection,
        device_id: &str,
        after: OrderId,
        limit: i64,
    ) -> Result<Vec<PendingOrder>, StorageError> {
        let mut stmt = conn.prepare_cached(
            "SELECT id, sections FROM orders
             WHERE device_id = ?1 AND state IN (0, 1) AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![device_id, after, limit], |r| {
            Ok(PendingOrder {
                id: r.get(0)?,
                payload: Bytes::from(r.get::<_, Vec<u8>>(1)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

pub(super) fn ensure_device(conn: &Connection, device_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO devices (device_id) VALUES (?1)")?
        .execute([device_id])?;
    Ok(())
}

fn sample_from(ts: i64, value: ValueRef<'_>, error: Option<String>) -> Sample {
    let ts = u64::try_from(ts).unwrap_or(0);
    if let Some(code) = error {
        return Sample::error(ts, ReadError::from(code.as_str()));
    }
    let value = match value {
        ValueRef::Integer(i) => PathpointValue::Int(i),
        ValueRef::Real(f) => PathpointValue::Float(f),
        ValueRef::Text(t) => PathpointValue::Text(String::from_utf8_lossy(t).into_owned()),
        // NaN is stored by SQLite as NULL; blobs are never written.
        ValueRef::Null | ValueRef::Blob(_) => PathpointValue::Float(f64::NAN),
    };
    Sample::Value { ts, value }
}

impl Storage for SqliteStorage {
    fn device_connected(&self, device: &DeviceIdentity) -> Result<(), StorageError> {
        self.write_tx(|conn| hot_writes::device_connected(conn, device))
    }

    fn list_devices(&self) -> Result<Vec<DeviceRecord>, StorageError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT device_id, environment, first_connected_at, last_connected_at
             FROM devices ORDER BY device_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DeviceRecord {
                device_id: r.get(0)?,
                environment: r.get(1)?,
                first_connected_ms: r.get(2)?,
                last_connected_ms: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn device_info(&self, device_id: &str) -> Result<DeviceInfo, StorageError> {
        self.device_info_tx(device_id)
    }

    fn set_device_info(&self, device_id: &str, info: &DeviceInfo) -> Result<(), StorageError> {
        self.set_device_info_tx(device_id, info)
    }

    fn queue_order(&self, device_id: &str, sections: &[u8]) -> Result<OrderId, StorageError> {
        self.write_tx(|conn| hot_writes::queue_order(conn, device_id, sections))
    }

    fn claim_orders(
        &self,
        device_id: &str,
        after: OrderId,
        limit: usize,
    ) -> Result<Vec<PendingOrder>, StorageError> {
        self.write_tx(|conn| hot_writes::claim_orders(conn, device_id, after, limit))
    }

    fn reserve_order_tids(&self, device_id: &str, count: u16) -> Result<u16, StorageError> {
        self.reserve_order_tids_tx(device_id, count)
    }

    fn answer_order(&self, id: OrderId, answer: OrderAnswer) -> Result<bool, StorageError> {
        self.write_tx(|conn| hot_writes::answer_order(conn, id, answer))
    }

    fn apply_batch(&self, ops: &[WriteOp]) -> Vec<Result<WriteOutcome, StorageError>> {
        self.apply_batch_tx(ops)
    }

    fn apply_batch_unsynced(&self, ops: &[WriteOp]) -> Vec<Result<WriteOutcome, StorageError>> {
        self.apply_batch_unsynced_tx(ops)
    }

    fn sync_committed(&self) -> Result<(), StorageError> {
        self.wal.as_ref().map_or(Ok(()), wal_sync::WalSync::sync)
    }

    fn hand_out_orders(&self, device_id: &str) -> Result<Vec<PendingOrder>, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let orders = SqliteStorage::pending(&tx, device_id, 0, i64::MAX)?;
        if !orders.is_empty() {
            let now = now_ms();
            let mut mark = tx.prepare_cached(
                "UPDATE orders SET state = 2, deliveries = deliveries + 1, sent_at = ?2,
                     answered_at = ?2, answered_via = 'http'
                 WHERE id = ?1",
            )?;
            for order in &orders {
                mark.execute(params![order.id, now])?;
            }
            drop(mark);
            tx.commit()?;
        }
        Ok(orders)
    }

    fn order(&self, id: OrderId) -> Result<Option<OrderRecord>, StorageError> {
        let conn = self.read();
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
        Ok(conn.query_row(&sql, [id], order_from_row).optional()?)
    }

    fn list_orders(
        &self,
        device_id: &str,
        state: Option<OrderState>,
        limit: usize,
    ) -> Result<Vec<OrderRecord>, StorageError> {
        let conn = self.read();
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders
             WHERE device_id = ?1 AND (?2 IS NULL OR state = ?2) ORDER BY id LIMIT ?3"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![device_id, state.map(OrderState::code), limit],
            order_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn store_series(&self, device_id: &str, series: &[PathpointSeries]) -> Result<usize, StorageError> {
        self.write_tx(|conn| hot_writes::store_series(conn, device_id, series))
    }

    fn read_series(
        &self,
        device_id: &str,
        query: &SeriesQuery,
    ) -> Result<Vec<PathpointSeries>, StorageError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT path, ts, value, error FROM samples
             WHERE device_id = ?1 AND (?2 IS NULL OR path = ?2)
               AND (?3 IS NULL OR ts >= ?3) AND (?4 IS NULL OR ts <= ?4)
             ORDER BY path, ts LIMIT ?5",
        )?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![
            device_id,
            query.path,
            query.from_ms.map(to_i64),
            query.to_ms.map(to_i64),
            limit
        ])?;
        let mut out: Vec<PathpointSeries> = Vec::new();
        while let Some(row) = rows.next()? {
            let path: String = row.get(0)?;
            let sample = sample_from(row.get(1)?, row.get_ref(2)?, row.get(3)?);
            match out.last_mut() {
                Some(series) if series.path == path => series.values.push(sample),
                _ => out.push(PathpointSeries::new(path, [sample])),
            }
        }
        Ok(out)
    }

    fn store_logs(&self, device_id: &str, logs: &[LogEntry]) -> Result<usize, StorageError> {
        self.write_tx(|conn| hot_writes::store_logs(conn, device_id, logs))
    }

    fn read_logs(&self, device_id: &str, limit: usize) -> Result<Vec<LogEntry>, StorageError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT id, service, when_us, level, message, exception, traceback, received_at
             FROM logs WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![device_id, limit], |r| {
            Ok(LogEntry {
                id: r.get(0)?,
                service: r.get(1)?,
                when_us: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                level: r.get(3)?,
                message: r.get(4)?,
                exception_text: r.get(5)?,
                exception_traceback: r.get(6)?,
                received_at_ms: r.get(7)?,
            })
        })?;
        let mut logs: Vec<LogEntry> = rows.collect::<Result<_, _>>()?;
        logs.reverse();
        Ok(logs)
    }

    fn record_message(&self, device_id: &str, uuid: &str) -> Result<bool, StorageError> {
        self.record_message_tx(device_id, uuid)
    }

    fn list_messages(&self, device_id: &str, limit: usize) -> Result<Vec<MessageReport>, StorageError> {
        self.list_messages_tx(device_id, limit)
    }

    fn register_pathpoints(
        &self,
        device_id: &str,
        pathpoints: &[RegisteredPathpoint],
    ) -> Result<Vec<RegisteredPathpoint>, StorageError> {
        self.register_pathpoints_tx(device_id, pathpoints)
    }

    fn instrumentation(
        &self,
        device_id: &str,
        slave_id: &str,
    ) -> Result<Option<Instrumentation>, StorageError> {
        self.instrumentation_tx(device_id, slave_id)
    }

    fn patch_instrumentation(
        &self,
        device_id: &str,
        slave_id: &str,
        patch: &InstrumentationPatch,
    ) -> Result<Option<Instrumentation>, StorageError> {
        self.patch_instrumentation_tx(device_id, slave_id, patch)
    }

    fn list_sensors(&self, device_id: &str) -> Result<Vec<Sensor>, StorageError> {
        self.list_sensors_tx(device_id)
    }

    fn put_sensors(
        &self,
        device_id: &str,
        sensors: &[Sensor],
        replace_all: bool,
    ) -> Result<usize, StorageError> {
        self.put_sensors_tx(device_id, sensors, replace_all)
    }

    fn delete_sensor(&self, device_id: &str, fqts: &str) -> Result<bool, StorageError> {
        self.delete_sensor_tx(device_id, fqts)
    }

    fn store_sensor_writes(&self, device_id: &str, writes: &[SensorWrite]) -> Result<usize, StorageError> {
        self.store_sensor_writes_tx(device_id, writes)
    }

    fn list_sensor_writes(
        &self,
        device_id: &str,
        fqts: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SensorWrite>, StorageError> {
        self.list_sensor_writes_tx(device_id, fqts, limit)
    }

    fn list_predicates(&self, device_id: &str) -> Result<Vec<Predicate>, StorageError> {
        self.list_predicates_tx(device_id)
    }

    fn predicate(&self, device_id: &str, predicate_id: &str) -> Result<Option<Predicate>, StorageError> {
        self.predicate_tx(device_id, predicate_id)
    }

    fn put_predicate(&self, device_id: &str, predicate: &Predicate) -> Result<bool, StorageError> {
        self.put_predicate_tx(device_id, predicate)
    }

    fn delete_predicate(&self, device_id: &str, predicate_id: &str) -> Result<bool, StorageError> {
        self.delete_predicate_tx(device_id, predicate_id)
    }

    fn report_events(&self, device_id: &str, events: &[EventReport]) -> Result<Vec<String>, StorageError> {
        self.report_events_tx(device_id, events)
    }

    fn list_events(&self, device_id: &str, query: EventQuery) -> Result<Vec<EventRecord>, StorageError> {
        self.list_events_tx(device_id, query)
    }

    fn event(&self, device_id: &str, uuid: &str) -> Result<Option<EventRecord>, StorageError> {
        self.event_tx(device_id, uuid)
    }

    fn close_event(
        &self,
        device_id: &str,
        uuid: &str,
        ended_on: f64,
        handled_by: Option<&str>,
    ) -> Result<Option<EventRecord>, StorageError> {
        self.close_event_tx(device_id, uuid, ended_on, handled_by)
    }

    fn release_memory(&self) {
        // The page caches' unused pages, the write connection's and the readers'.
        if let Err(e) = self.lock_conn().execute_batch("PRAGMA shrink_memory") {
            tracing::debug!("shrinking the write connection's cache failed: {e}");
        }
        if let Some(pool) = &self.readers {
            pool.release_memory();
        }
    }
}

mod archives;
#[cfg(test)]
mod baob_tests;
mod baobs;
mod checkpoint;
mod device_api;
mod device_info;
mod events;
mod group_commit;
#[cfg(test)]
mod group_commit_tests;
pub(super) mod hot_writes;
mod macros;
mod metadata;
mod order_tids;
mod predicates;
mod read_pool;
#[cfg(test)]
mod resource_tests;
mod sensor_writes;
mod sensors;
#[cfg(test)]
mod tests;
mod wal_sync;
