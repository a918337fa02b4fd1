//! Group commit for SQLite: a batch of [`WriteOp`]s in one `BEGIN IMMEDIATE` transaction,
//! committed (and synced, `synchronous = FULL`; or synced afterwards, [`super::wal_sync`]) once. The operations run straight in the
//! transaction; when one fails, the transaction is rolled back and the batch carried out again
//! with a savepoint per operation, so that the failing one fails alone and its batch-mates are
//! committed.

use rusqlite::{Connection, TransactionBehavior};

use super::{hot_writes, SqliteStorage};
use crate::storage::{StorageError, WriteOp, WriteOutcome};

/// Carries out `op` on `conn` (inside a transaction or savepoint the caller commits).
fn apply(conn: &Connection, op: &WriteOp) -> Result<WriteOutcome, StorageError> {
    Ok(match op {
        WriteOp::DeviceConnected(identity) => {
            hot_writes::device_connected(conn, identity)?;
            WriteOutcome::Done
        }
        WriteOp::QueueOrder { device_id, sections } => {
            WriteOutcome::Queued(hot_writes::queue_order(conn, device_id, sections)?)
        }
        WriteOp::ClaimOrders {
            device_id,
            after,
            limit,
            reserve_tids,
        } => {
            let orders = hot_writes::claim_orders(conn, device_id, *after, *limit)?;
            let first = match reserve_tids {
                Some(count) if !orders.is_empty() => {
                    Some(hot_writes::reserve_order_tids(conn, device_id, *count)?)
                }
                _ => None,
            };
            WriteOutcome::Claimed(orders, first)
        }
        WriteOp::ReserveOrderTids { device_id, count } => {
            WriteOutcome::Tids(hot_writes::reserve_order_tids(conn, device_id, *count)?)
        }
        WriteOp::AnswerOrder { id, answer } => {
            WriteOutcome::Answered(hot_writes::answer_order(conn, *id, *answer)?)
        }
        WriteOp::StoreSeries { device_id, series } => {
            WriteOutcome::Stored(hot_writes::store_series(conn, device_id, series)?)
        }
        WriteOp::StoreLogs { device_id, logs } => {
            WriteOutcome::Stored(hot_writes::store_logs(conn, device_id, logs)?)
        }
        // A kind added later without SQL here fails alone instead of failing its batch.
        #[allow(unreachable_patterns)]
        _ => return Err(StorageError::Invalid("operation not supported by SQLite".into())),
    })
}

/// Runs `sql`, a savepoint statement, prepared once per connection (`prepare_cached`) instead of
/// parsed for every use as `rusqlite::Savepoint` does.
fn exec(conn: &Connection, sql: &str) -> Result<(), StorageError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Carries out `op` under a savepoint of the open transaction, so that its failure undoes it
/// alone.
fn in_savepoint(conn: &Connection, op: &WriteOp) -> Result<WriteOutcome, Failure> {
    exec(conn, "SAVEPOINT op").map_err(Failure::Undone)?;
    match apply(conn, op) {
        Ok(outcome) => exec(conn, "RELEASE op")
            .map(|()| outcome)
            .map_err(Failure::Broken),
        Err(e) => match exec(conn, "ROLLBACK TO op").and_then(|()| exec(conn, "RELEASE op")) {
            Ok(()) => Err(Failure::Undone(e)),
            Err(undo) => Err(Failure::Broken(undo)),
        },
    }
}

/// How an operation under its savepoint failed.
enum Failure {
    /// It failed and was undone: the transaction goes on.
    Undone(StorageError),
    /// Its savepoint could not be released or rolled back: the transaction is in an unknown
    /// state and must be given up.
    Broken(StorageError),
}

/// The fast path: every operation of `ops` straight in the transaction, without savepoints.
/// `None` when one failed: the caller rolls the transaction back and carries them out again,
/// each under its own savepoint, so that the failing one fails alone. Savepoints cost more than
/// their two statements: while one is open SQLite copies every page it is about to change into
/// a statement journal (spilled to a temporary file past 64 KiB).
fn all_at_once(conn: &Connection, ops: &[WriteOp]) -> Option<Vec<WriteOutcome>> {
    ops.iter().map(|op| apply(conn, op).ok()).collect()
}

impl SqliteStorage {
    pub(super) fn apply_batch_tx(&self, ops: &[WriteOp]) -> Vec<Result<WriteOutcome, StorageError>> {
        apply_batch_on(&mut self.lock(), ops)
    }

    /// [`crate::storage::Storage::apply_batch_unsynced`]: the batch's `COMMIT` with
    /// `synchronous = NORMAL` (no fsync), the connection back at `FULL` for every other write.
    /// Without a WAL file to sync (an in-memory database), as [`SqliteStorage::apply_batch_tx`].
    pub(super) fn apply_batch_unsynced_tx(&self, ops: &[WriteOp]) -> Vec<Result<WriteOutcome, StorageError>> {
        if self.wal.is_none() {
            return self.apply_batch_tx(ops);
        }
        let mut conn = self.lock();
        if let Err(e) = conn.pragma_update(None, "synchronous", "NORMAL") {
            // Then synced in the commit, as any other.
            tracing::warn!("cannot defer the sync of a group commit: {e}");
            return apply_batch_on(&mut conn, ops);
        }
        let results = apply_batch_on(&mut conn, ops);
        if let Err(e) = conn.pragma_update(None, "synchronous", "FULL") {
            // Setting a flag of the connection does not fail in practice; should it, the
            // writes until the next attempt are synced by the next group commit's sync.
            tracing::error!("cannot set synchronous = FULL again after a group commit: {e}");
        }
        results
    }
}

/// One batch in one transaction on `conn` (see the module's documentation).
fn apply_batch_on(conn: &mut Connection, ops: &[WriteOp]) -> Vec<Result<WriteOutcome, StorageError>> {
    let whole = |e: &StorageError| -> Vec<Result<WriteOutcome, StorageError>> {
        ops.iter().map(|_| Err(e.for_batch_mate())).collect()
    };
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return whole(&e.into()),
    };
    if let Some(outcomes) = all_at_once(&tx, ops) {
        return match tx.commit() {
            Ok(()) => outcomes.into_iter().map(Ok).collect(),
            // Nothing of the batch is durable: every caller learns so (no false success).
            Err(e) => whole(&e.into()),
        };
    }
    // One failed: undo the whole batch (dropping the transaction rolls it back, also when
    // SQLite already did), then again with a savepoint per operation.
    drop(tx);
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return whole(&e.into()),
    };
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        match in_savepoint(&tx, op) {
            Ok(outcome) => results.push(Ok(outcome)),
            // Undone alone: its batch-mates go on.
            Err(Failure::Undone(e)) => results.push(Err(e)),
            // Dropping the transaction rolls everything back.
            Err(Failure::Broken(e)) => return whole(&e),
        }
    }
    match tx.commit() {
        Ok(()) => results,
        // Nothing of the batch is durable: every caller learns so (no false success).
        Err(e) => whole(&e.into()),
    }
}
