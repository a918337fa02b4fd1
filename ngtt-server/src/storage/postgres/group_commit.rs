//! Group commit for PostgreSQL: a batch of [`WriteOp`]s in one transaction, committed once (one
//! WAL flush with `synchronous_commit = on`). The operations run straight in the transaction;
//! when one fails, the transaction is rolled back and the batch carried out again with a
//! savepoint per operation, so that the failing one fails alone and its batch-mates are
//! committed — as the SQLite engine does. A savepoint costs two round trips to the server
//! (`SAVEPOINT`, `RELEASE`) per operation, more than the operation itself for an upload (one
//! statement). And since the writer runs one batch at a time on one connection, the round trips
//! of a batch's operations add up: consecutive operations of one statement each are pipelined
//! ([`pipeline`]), sent together and answered in order (docs/benchmarks.md).

use deadpool_postgres::Object;

use super::bridge::PostgresStorage;
use super::{hot_writes, pipeline, Tx};
use crate::storage::{StorageError, WriteOp, WriteOutcome};

/// Carries out `op` inside the transaction or savepoint `tx`.
async fn apply(tx: &Tx<'_>, op: &WriteOp) -> Result<WriteOutcome, StorageError> {
    Ok(match op {
        WriteOp::DeviceConnected(identity) => {
            hot_writes::device_connected(tx, identity).await?;
            WriteOutcome::Done
        }
        WriteOp::QueueOrder { device_id, sections } => {
            WriteOutcome::Queued(hot_writes::queue_order(tx, device_id, sections).await?)
        }
        WriteOp::ClaimOrders {
            device_id,
            after,
            limit,
            reserve_tids,
        } => {
            let orders = hot_writes::claim_orders(tx, device_id, *after, *limit).await?;
            let first = match reserve_tids {
                Some(count) if !orders.is_empty() => {
                    Some(hot_writes::reserve_order_tids(tx, device_id, *count).await?)
                }
                _ => None,
            };
            WriteOutcome::Claimed(orders, first)
        }
        WriteOp::ReserveOrderTids { device_id, count } => {
            WriteOutcome::Tids(hot_writes::reserve_order_tids(tx, device_id, *count).await?)
        }
        WriteOp::AnswerOrder { id, answer } => {
            WriteOutcome::Answered(hot_writes::answer_order(tx, *id, *answer).await?)
        }
        WriteOp::StoreSeries { device_id, series } => {
            WriteOutcome::Stored(hot_writes::store_series(tx, device_id, series).await?)
        }
        WriteOp::StoreLogs { device_id, logs } => {
            WriteOutcome::Stored(hot_writes::store_logs(tx, device_id, logs).await?)
        }
        // A kind added later without SQL here fails alone instead of failing its batch.
        #[allow(unreachable_patterns)]
        _ => {
            return Err(StorageError::Invalid(
                "operation not supported by PostgreSQL".into(),
            ))
        }
    })
}

/// One operation under its own savepoint: released on success, rolled back (undoing this
/// operation alone, and clearing PostgreSQL's aborted-transaction state) on failure. The outer
/// error means the transaction itself is unusable (PostgreSQL would turn its `COMMIT` into a
/// rollback), the inner one that this operation failed alone.
async fn apply_in_savepoint(
    tx: &mut Tx<'_>,
    op: &WriteOp,
) -> Result<Result<WriteOutcome, StorageError>, StorageError> {
    let savepoint = tx.savepoint("ngtt_op").await?;
    match apply(&savepoint, op).await {
        Ok(outcome) => {
            savepoint.commit().await?;
            Ok(Ok(outcome))
        }
        Err(e) => {
            savepoint.rollback().await?;
            Ok(Err(e))
        }
    }
}

/// The fast path: every operation of `ops` straight in one transaction, without savepoints,
/// committed; consecutive single-statement operations (uploads, claims, answers) pipelined
/// ([`pipeline`]). `Ok(None)` when one failed: the transaction was rolled back (PostgreSQL refuses
/// every later statement of a transaction with a failed one, so the rest could not go on) and
/// nothing of the batch is in the database. `Err` when the transaction itself failed (`BEGIN`,
/// `COMMIT` or the rollback): nothing of the batch is durable either.
async fn all_at_once(
    client: &mut Object,
    ops: &[WriteOp],
) -> Result<Option<Vec<WriteOutcome>>, StorageError> {
    let tx = client.transaction().await?;
    let mut outcomes = Vec::with_capacity(ops.len());
    let mut rest = ops;
    while !rest.is_empty() {
        let (run, later) = rest.split_at(pipeline::run_len(rest));
        rest = later;
        let results = match run {
            [op] => vec![apply(&tx, op).await],
            _ => match pipeline::prepare(&tx, run).await {
                Ok(()) => pipeline::in_order(run.iter().map(|op| Box::pin(apply(&tx, op))).collect()).await,
                Err(e) => vec![Err(e)],
            },
        };
        for result in results {
            match result {
                Ok(outcome) => outcomes.push(outcome),
                Err(_) => {
                    tx.rollback().await?;
                    return Ok(None);
                }
            }
        }
    }
    tx.commit().await?;
    Ok(Some(outcomes))
}

/// [`crate::storage::Storage::apply_batch`] for PostgreSQL.
pub(super) async fn apply_batch(
    storage: &PostgresStorage,
    ops: &[WriteOp],
) -> Vec<Result<WriteOutcome, StorageError>> {
    let whole = |e: &StorageError| -> Vec<Result<WriteOutcome, StorageError>> {
        ops.iter().map(|_| Err(e.for_batch_mate())).collect()
    };
    let mut client = match storage.client().await {
        Ok(client) => client,
        Err(e) => return whole(&e),
    };
    match all_at_once(&mut client, ops).await {
        Ok(Some(outcomes)) => return outcomes.into_iter().map(Ok).collect(),
        // One failed and was undone with the rest: again, a savepoint per operation.
        Ok(None) => {}
        // Nothing of the batch is durable: every caller learns so (no false success).
        Err(e) => return whole(&e),
    }
    let mut tx = match client.transaction().await {
        Ok(tx) => tx,
        Err(e) => return whole(&e.into()),
    };
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        match apply_in_savepoint(&mut tx, op).await {
            Ok(result) => results.push(result),
            // Nothing of the batch will be committed.
            Err(e) => return whole(&e),
        }
    }
    match tx.commit().await {
        Ok(()) => results,
        // Nothing of the batch is durable: every caller learns so (no false success).
        Err(e) => whole(&e.into()),
    }
}
