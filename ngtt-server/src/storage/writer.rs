//! The writer thread: group commit of [`WriteOp`]s.
//!
//! Callers queue operations on a bounded channel and wait for their answer. The thread takes
//! whatever has gathered — up to [`StoreLimits::batch_ops`] operations or
//! [`StoreLimits::batch_bytes`] — and hands it to [`Storage::apply_batch`], one transaction and
//! one commit for all of them; each caller is answered only after that commit returned and was
//! synced ([`Storage::apply_batch_unsynced`], then [`Storage::sync_committed`]) — except the
//! claims of orders, answered between the two, so that their ORDER frames go out while the disk
//! syncs ([`answers_before_sync`]). While a commit (its fsync) runs, the next batch gathers, so
//! the more devices write at once, the more operations share each fsync; a lone operation waits
//! for nobody.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::write_op::answers_before_sync;
use super::{Storage, StorageError, StoreLimits, WriteOp, WriteOutcome};

type Reply = oneshot::Sender<Result<WriteOutcome, StorageError>>;

/// What callers queue: one operation, or several that must share one transaction (and commit),
/// carried out in their order.
enum Job {
    One(WriteOp, Reply),
    Together(Vec<(WriteOp, Reply)>),
}

impl Job {
    /// Adds the job's operations to `batch`; their weight.
    fn into_batch(self, batch: &mut Vec<(WriteOp, Reply)>) -> usize {
        match self {
            Job::One(op, reply) => {
                let weight = op.weight();
                batch.push((op, reply));
                weight
            }
            Job::Together(ops) => {
                let weight = ops.iter().map(|(op, _)| op.weight()).sum();
                batch.extend(ops);
                weight
            }
        }
    }
}

/// What the writer has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Batches carried out (each one transaction, one commit).
    pub batches: u64,
    /// Operations carried out in them.
    pub ops: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    ops: AtomicU64,
}

/// The sending side; the thread ends when every clone is dropped.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the writer thread over `storage`.
    pub(super) fn spawn(storage: Arc<dyn Storage>, limits: &StoreLimits) -> Writer {
        let (jobs, rx) = mpsc::channel(limits.queue.max(1));
        let (ops, bytes) = (limits.batch_ops.max(1), limits.batch_bytes);
        let counters = Arc::new(Counters::default());
        let count = Arc::clone(&counters);
        let spawned = std::thread::Builder::new()
            .name("ngtt-storage-writer".into())
            .spawn(move || run(&*storage, rx, ops, bytes, &count));
        if let Err(e) = spawned {
            // Without the thread every write fails with a clear error (the receiver is gone).
            tracing::error!("cannot start the storage writer thread: {e}");
        }
        Writer { jobs, counters }
    }

    /// Batches and operations so far.
    pub(super) fn stats(&self) -> StoreStats {
        StoreStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            ops: self.counters.ops.load(Ordering::Relaxed),
        }
    }

    /// Queues `op` and waits until its batch committed. Once queued, the operation is carried
    /// out even if this future is dropped.
    pub(super) async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StorageError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::One(op, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| dropped())?
    }

    /// Queues `ops` as one job: they go into the same batch, so they commit together (one
    /// fsync), in their order; each has its own outcome (an operation that fails, fails alone).
    /// Once queued, they are carried out even if this future is dropped.
    pub(super) async fn write_together(
        &self,
        ops: Vec<WriteOp>,
    ) -> Result<Vec<Result<WriteOutcome, StorageError>>, StorageError> {
        let mut outcomes = Vec::with_capacity(ops.len());
        for answer in self.queue_together(ops).await? {
            outcomes.push(answer.get().await?);
        }
        Ok(outcomes)
    }

    /// As [`Writer::write_together`], but returns once they are queued: each one's answer, to
    /// wait for one by one (a claim's comes before the sync that the others wait for).
    pub(super) async fn queue_together(&self, ops: Vec<WriteOp>) -> Result<Vec<Answer>, StorageError> {
        let (jobs, answers): (Vec<_>, Vec<_>) = ops
            .into_iter()
            .map(|op| {
                let (reply, answer) = oneshot::channel();
                ((op, reply), Answer(answer))
            })
            .unzip();
        self.jobs.send(Job::Together(jobs)).await.map_err(|_| stopped())?;
        Ok(answers)
    }
}

/// The answer to one queued operation ([`Writer::queue_together`]).
pub(super) struct Answer(oneshot::Receiver<Result<WriteOutcome, StorageError>>);

impl Answer {
    /// Waits for it: `Err` when the writer dropped the operation.
    pub(super) async fn get(self) -> Result<Result<WriteOutcome, StorageError>, StorageError> {
        self.0.await.map_err(|_| dropped())
    }
}

fn stopped() -> StorageError {
    StorageError::Task("the storage writer has stopped".into())
}

fn dropped() -> StorageError {
    StorageError::Task("the storage writer dropped an operation".into())
}

fn run(
    storage: &dyn Storage,
    mut rx: mpsc::Receiver<Job>,
    max_ops: usize,
    max_bytes: usize,
    counters: &Counters,
) {
    while let Some(first) = rx.blocking_recv() {
        // A job's operations are never split over two batches (a group may pass the limits).
        let mut batch = Vec::new();
        let mut weight = first.into_batch(&mut batch);
        while batch.len() < max_ops && weight < max_bytes {
            match rx.try_recv() {
                Ok(job) => weight += job.into_batch(&mut batch),
                Err(_) => break,
            }
        }
        let (ops, replies): (Vec<WriteOp>, Vec<Reply>) = batch.into_iter().unzip();
        let results = catch_unwind(AssertUnwindSafe(|| storage.apply_batch_unsynced(&ops)))
            .unwrap_or_else(|_| failed_batch(ops.len(), "the storage engine panicked"));
        let results = if results.len() == ops.len() {
            results
        } else {
            failed_batch(ops.len(), "the storage engine answered a batch incompletely")
        };
        tracing::trace!(ops = ops.len(), weight, "storage batch committed");
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters.ops.fetch_add(ops.len() as u64, Ordering::Relaxed);
        // Claims of orders first: their ORDER frames go out while the commit syncs.
        let mut after_sync = Vec::with_capacity(replies.len());
        for ((op, reply), result) in ops.iter().zip(replies).zip(results) {
            if answers_before_sync(op, &result) {
                // A caller that went away no longer needs the answer; the write stands.
                let _ = reply.send(result);
            } else {
                after_sync.push((reply, result));
            }
        }
        let synced = catch_unwind(AssertUnwindSafe(|| storage.sync_committed()))
            .unwrap_or_else(|_| Err(StorageError::Task("the storage engine panicked".into())));
        if let Err(e) = &synced {
            tracing::error!(
                "a group commit could not be synced; its operations are answered with the error: {e}"
            );
        }
        for (reply, result) in after_sync {
            let result = match (&synced, result) {
                (Err(e), Ok(_)) => Err(e.for_batch_mate()),
                (_, result) => result,
            };
            let _ = reply.send(result);
        }
    }
}

fn failed_batch(n: usize, why: &str) -> Vec<Result<WriteOutcome, StorageError>> {
    (0..n).map(|_| Err(StorageError::Task(why.to_owned()))).collect()
}
