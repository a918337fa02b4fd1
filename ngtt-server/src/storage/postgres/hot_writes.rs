//! The SQL of the hot-path writes, inside a transaction or savepoint the caller commits: the
//! single-operation trait methods and group commit share it.

use ngtt_proto::payload::PathpointSeries;
use ngtt_proto::DeviceIdentity;

use super::rows::sample_columns;
use super::{ensure_device, limit_of, now_ms, to_i64, Tx};
use crate::storage::{LogEntry, OrderAnswer, OrderId, OrderState, PendingOrder, StorageError};

use crate::storage::sqlite::hot_writes::{advance, MAX_TID};

/// The statement of [`device_connected`] (its only one: group commit pipelines it).
pub(super) const DEVICE_CONNECTED: &str =
    "INSERT INTO devices (device_id, environment, first_connected_at, last_connected_at)
     VALUES ($1, $2, $3, $3)
     ON CONFLICT (device_id) DO UPDATE SET environment = excluded.environment,
         first_connected_at = COALESCE(devices.first_connected_at, excluded.first_connected_at),
         last_connected_at = excluded.last_connected_at";

/// The statement of [`claim_orders`] and [`hand_out_orders`] (their only one).
pub(super) const TAKE_PENDING: &str =
    "UPDATE orders SET state = $4::BIGINT, deliveries = deliveries + 1, sent_at = $5::BIGINT,
         answered_at = CASE WHEN $4::BIGINT = 2 THEN $5::BIGINT ELSE answered_at END,
         answered_via = CASE WHEN $4::BIGINT = 2 THEN 'http' ELSE answered_via END
     WHERE id IN (SELECT id FROM orders
                  WHERE device_id = $1 AND state IN (0, 1) AND id > $2
                  ORDER BY id LIMIT $3 FOR NO KEY UPDATE)
     RETURNING id, sections";

/// The statement of [`answer_order`] (its only one).
pub(super) const ANSWER_ORDER: &str = "UPDATE orders SET state = $2, answered_at = $3, answered_via = 'ngtt'
     WHERE id = $1 AND state IN (0, 1)";

/// The statement of [`store_series`] (its only one): the whole upload, its samples as arrays.
pub(super) const STORE_SERIES: &str =
    "INSERT INTO samples (device_id, path, ts, value_int, value_real, value_text, error, received_at)
     SELECT $1, u.path, u.ts, u.value_int, u.value_real, u.value_text, u.error, $8
     FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::float8[], $6::text[], $7::text[])
          WITH ORDINALITY AS u(path, ts, value_int, value_real, value_text, error, n)
     ORDER BY u.n
     ON CONFLICT DO NOTHING";

// The operations of group commit's pipeline ([`super::pipeline`]) send their one statement on
// their first poll once it is prepared: nothing may be awaited before it but `prepare_cached`.

pub(super) async fn device_connected(tx: &Tx<'_>, device: &DeviceIdentity) -> Result<(), StorageError> {
    let stmt = tx.prepare_cached(DEVICE_CONNECTED).await?;
    tx.execute(
        &stmt,
        &[&device.device_id, &device.environment.as_i64(), &now_ms()],
    )
    .await?;
    Ok(())
}

pub(super) async fn queue_order(
    tx: &Tx<'_>,
    device_id: &str,
    sections: &[u8],
) -> Result<OrderId, StorageError> {
    ensure_device(tx, device_id).await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO orders (device_id, sections, queued_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .await?;
    Ok(tx
        .query_one(&stmt, &[&device_id, &sections, &now_ms()])
        .await?
        .try_get(0)?)
}

/// Marks up to `limit` pending orders of `device_id` above `after` as `state` (one more
/// delivery) and returns them in queue order. The rows are locked (`FOR NO KEY UPDATE`, which
/// leaves foreign-key checks alone), so a concurrent answer is either seen (the order is not
/// pending any more) or waits for this transaction.
async fn take_pending(
    tx: &Tx<'_>,
    device_id: &str,
    after: OrderId,
    limit: usize,
    state: OrderState,
) -> Result<Vec<PendingOrder>, StorageError> {
    let stmt = tx.prepare_cached(TAKE_PENDING).await?;
    let rows = tx
        .query(
            &stmt,
            &[&device_id, &after, &limit_of(limit), &state.code(), &now_ms()],
        )
        .await?;
    let mut orders = rows
        .iter()
        .map(|r| {
            Ok(PendingOrder {
                id: r.try_get(0)?,
                payload: r.try_get::<_, Vec<u8>>(1)?.into(),
            })
        })
        .collect::<Result<Vec<_>, StorageError>>()?;
    orders.sort_by_key(|o| o.id);
    Ok(orders)
}

pub(super) async fn claim_orders(
    tx: &Tx<'_>,
    device_id: &str,
    after: OrderId,
    limit: usize,
) -> Result<Vec<PendingOrder>, StorageError> {
    take_pending(tx, device_id, after, limit, OrderState::Sent).await
}

pub(super) async fn hand_out_orders(tx: &Tx<'_>, device_id: &str) -> Result<Vec<PendingOrder>, StorageError> {
    take_pending(tx, device_id, 0, usize::MAX, OrderState::Confirmed).await
}

pub(super) async fn reserve_order_tids(
    tx: &Tx<'_>,
    device_id: &str,
    count: u16,
) -> Result<u16, StorageError> {
    ensure_device(tx, device_id).await?;
    let select = tx
        .prepare_cached("SELECT next_order_tid FROM devices WHERE device_id = $1 FOR NO KEY UPDATE")
        .await?;
    let stored: i64 = tx.query_one(&select, &[&device_id]).await?.try_get(0)?;
    // Anything out of range (a hand-edited database) restarts the sequence at 1.
    let first = Some(stored).filter(|t| (1..=MAX_TID).contains(t)).unwrap_or(1);
    let update = tx
        .prepare_cached("UPDATE devices SET next_order_tid = $2 WHERE device_id = $1")
        .await?;
    tx.execute(&update, &[&device_id, &advance(first, count)]).await?;
    Ok(u16::try_from(first).unwrap_or(1))
}

pub(super) async fn answer_order(
    tx: &Tx<'_>,
    id: OrderId,
    answer: OrderAnswer,
) -> Result<bool, StorageError> {
    let state = answer.state();
    let stmt = tx.prepare_cached(ANSWER_ORDER).await?;
    Ok(tx.execute(&stmt, &[&id, &state.code(), &now_ms()]).await? == 1)
}

pub(super) async fn store_series(
    tx: &Tx<'_>,
    device_id: &str,
    series: &[PathpointSeries],
) -> Result<usize, StorageError> {
    // One statement for the whole upload (its samples as arrays): one round trip to the
    // database instead of one per sample, which bounded uploads/s on PostgreSQL. A sample whose
    // (device, path, ts) is stored already, or repeated within the upload, is skipped as before:
    // ON CONFLICT DO NOTHING also skips a row that conflicts with one this statement inserted.
    let count: usize = series.iter().map(|s| s.values.len()).sum();
    if count == 0 {
        return Ok(0);
    }
    let mut paths = Vec::with_capacity(count);
    let mut stamps = Vec::with_capacity(count);
    let mut ints = Vec::with_capacity(count);
    let mut reals = Vec::with_capacity(count);
    let mut texts = Vec::with_capacity(count);
    let mut errors = Vec::with_capacity(count);
    for s in series {
        for sample in &s.values {
            let (ts, int, real, text, error) = sample_columns(sample);
            paths.push(s.path.as_str());
            stamps.push(ts);
            ints.push(int);
            reals.push(real);
            texts.push(text);
            errors.push(error);
        }
    }
    let insert = tx.prepare_cached(STORE_SERIES).await?;
    let stored = tx
        .execute(
            &insert,
            &[
                &device_id,
                &paths,
                &stamps,
                &ints,
                &reals,
                &texts,
                &errors,
                &now_ms(),
            ],
        )
        .await?;
    Ok(usize::try_from(stored).unwrap_or(usize::MAX))
}

pub(super) async fn store_logs(
    tx: &Tx<'_>,
    device_id: &str,
    logs: &[LogEntry],
) -> Result<usize, StorageError> {
    let now = now_ms();
    let insert = tx
        .prepare_cached(
            "INSERT INTO logs (device_id, service, when_us, level, message, exception, traceback, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    for log in logs {
        tx.execute(
            &insert,
            &[
                &device_id,
                &log.service,
                &to_i64(log.when_us),
                &i64::from(log.level),
                &log.message,
                &log.exception_text,
                &log.exception_traceback,
                &now,
            ],
        )
        .await?;
    }
    Ok(logs.len())
}
