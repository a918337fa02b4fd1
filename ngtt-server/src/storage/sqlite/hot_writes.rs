//! The SQL of the hot-path writes, on a connection inside a transaction or savepoint that the
//! caller commits: the single-operation [`Storage`](crate::storage::Storage) methods and group
//! commit share it.

use ngtt_proto::payload::{PathpointSeries, PathpointValue, Sample};
use ngtt_proto::DeviceIdentity;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};

use super::{ensure_device, now_ms, to_i64, SqliteStorage};
use crate::storage::{LogEntry, OrderAnswer, OrderId, PendingOrder, StorageError};

/// The highest server-chosen tid (NGTT.md §3): tids run 1..=0x7FFF.
pub(in crate::storage) const MAX_TID: i64 = 0x7FFF;

/// The tid `count` places after `first`, wrapping after [`MAX_TID`] to 1.
pub(in crate::storage) fn advance(first: i64, count: u16) -> i64 {
    (first - 1 + i64::from(count)).rem_euclid(MAX_TID) + 1
}

pub(super) fn device_connected(conn: &Connection, device: &DeviceIdentity) -> Result<(), StorageError> {
    conn.prepare_cached(
        "INSERT INTO devices (device_id, environment, first_connected_at, last_connected_at)
         VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT(device_id) DO UPDATE SET environment = excluded.environment,
             first_connected_at = COALESCE(first_connected_at, excluded.first_connected_at),
             last_connected_at = excluded.last_connected_at",
    )?
    .execute(params![device.device_id, device.environment.as_i64(), now_ms()])?;
    Ok(())
}

pub(super) fn queue_order(
    conn: &Connection,
    device_id: &str,
    sections: &[u8],
) -> Result<OrderId, StorageError> {
    ensure_device(conn, device_id)?;
    conn.prepare_cached("INSERT INTO orders (device_id, sections, queued_at) VALUES (?1, ?2, ?3)")?
        .execute(params![device_id, sections, now_ms()])?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn claim_orders(
    conn: &Connection,
    device_id: &str,
    after: OrderId,
    limit: usize,
) -> Result<Vec<PendingOrder>, StorageError> {
    let orders = SqliteStorage::pending(conn, device_id, after, i64::try_from(limit).unwrap_or(i64::MAX))?;
    if !orders.is_empty() {
        let now = now_ms();
        let mut mark = conn.prepare_cached(
            "UPDATE orders SET state = 1, deliveries = deliveries + 1, sent_at = ?2 WHERE id = ?1",
        )?;
        for order in &orders {
            mark.execute(params![order.id, now])?;
        }
    }
    Ok(orders)
}

pub(super) fn reserve_order_tids(
    conn: &Connection,
    device_id: &str,
    count: u16,
) -> Result<u16, StorageError> {
    ensure_device(conn, device_id)?;
    let stored: Option<i64> = conn
        .prepare_cached("SELECT next_order_tid FROM devices WHERE device_id = ?1")?
        .query_row([device_id], |r| r.get(0))
        .optional()?;
    // Anything out of range (a hand-edited database) restarts the sequence at 1.
    let first = stored.filter(|t| (1..=MAX_TID).contains(t)).unwrap_or(1);
    conn.prepare_cached("UPDATE devices SET next_order_tid = ?2 WHERE device_id = ?1")?
        .execute(params![device_id, advance(first, count)])?;
    Ok(u16::try_from(first).unwrap_or(1))
}

pub(super) fn answer_order(
    conn: &Connection,
    id: OrderId,
    answer: OrderAnswer,
) -> Result<bool, StorageError> {
    let state = answer.state();
    let changed = conn
        .prepare_cached(
            "UPDATE orders SET state = ?2, answered_at = ?3, answered_via = 'ngtt'
             WHERE id = ?1 AND state IN (0, 1)",
        )?
        .execute(params![id, state.code(), now_ms()])?;
    Ok(changed == 1)
}

pub(super) fn store_series(
    conn: &Connection,
    device_id: &str,
    series: &[PathpointSeries],
) -> Result<usize, StorageError> {
    let mut stored = 0;
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO samples (device_id, path, ts, value, error, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    // The device, the time and each series' path are bound once, not for every sample; the
    // values are bound borrowed (SQLite copies them), not cloned. A statement keeps its
    // bindings between executions; the statement cache clears them when it is returned.
    insert.raw_bind_parameter(1, device_id)?;
    insert.raw_bind_parameter(6, now_ms())?;
    for s in series {
        insert.raw_bind_parameter(2, s.path.as_str())?;
        for sample in &s.values {
            let (ts, value, error) = sample_row(sample);
            insert.raw_bind_parameter(3, ts)?;
            insert.raw_bind_parameter(4, ToSqlOutput::Borrowed(value))?;
            insert.raw_bind_parameter(5, error)?;
            stored += insert.raw_execute()?;
        }
    }
    Ok(stored)
}

pub(super) fn store_logs(
    conn: &Connection,
    device_id: &str,
    logs: &[LogEntry],
) -> Result<usize, StorageError> {
    let now = now_ms();
    let mut insert = conn.prepare_cached(
        "INSERT INTO logs (device_id, service, when_us, level, message, exception, traceback,
                           received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for log in logs {
        insert.execute(params![
            device_id,
            log.service,
            to_i64(log.when_us),
            log.level,
            log.message,
            log.exception_text,
            log.exception_traceback,
            now
        ])?;
    }
    Ok(logs.len())
}

/// The row values of `sample`: its time, its value (NULL for a failed read) and its error code,
/// borrowed from it.
fn sample_row(sample: &Sample) -> (i64, ValueRef<'_>, Option<&str>) {
    match sample {
        Sample::Value { ts, value } => {
            let v = match value {
                PathpointValue::Int(i) => ValueRef::Integer(*i),
                PathpointValue::Float(f) => ValueRef::Real(*f),
                PathpointValue::Text(t) => ValueRef::Text(t.as_bytes()),
            };
            (to_i64(*ts), v, None)
        }
        Sample::Error { ts, error } => (to_i64(*ts), ValueRef::Null, Some(error.as_str())),
    }
}
