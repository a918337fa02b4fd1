//! [`Store`]: the server's async, engine-neutral storage interface.

use std::sync::Arc;

use bytes::Bytes;
use ngtt_proto::payload::PathpointSeries;
use ngtt_proto::DeviceIdentity;
use tokio::sync::Semaphore;

use super::writer::{Answer, StoreStats, Writer};
use super::{LogEntry, OrderAnswer, OrderId, PendingOrder, Storage, StorageError, WriteOp, WriteOutcome};

/// How many storage workers and how large the writer's batches are.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StoreLimits {
    /// Storage calls running at once outside the writer (reads and resource operations), each
    /// on a thread of tokio's blocking pool: the pool never grows past this for storage.
    pub workers: usize,
    /// At most this many operations in one group commit.
    pub batch_ops: usize,
    /// A batch stops gathering once its operations weigh this many bytes (an upload of 16 MiB
    /// commits nearly alone instead of delaying others further).
    pub batch_bytes: usize,
    /// Operations waiting for the writer beyond which callers wait to queue (back-pressure).
    pub queue: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            workers: 8,
            batch_ops: 1024,
            batch_bytes: 8 << 20,
            queue: 8192,
        }
    }
}

/// The storage as the server uses it: async, whatever the engine.
///
/// * The hot-path writes ([`WriteOp`]; the typed methods below) go through **group commit**:
///   one writer thread gathers the operations of many callers and carries them out in one
///   transaction with one commit ([`Storage::apply_batch`]); a failing one does not fail its
///   batch-mates (the batch is replayed with a savepoint per operation); every caller is
///   answered only after that commit is durable.
/// * Everything else (reads and the device resources: sensors, predicates, events, BAOBs, …)
///   runs as one transaction per call on a bounded pool of workers ([`StoreLimits::workers`]).
///
/// A call that has started always runs to completion, even if the future awaiting it is
/// dropped: a write is never cut in half by a connection being closed or the server stopping.
#[derive(Clone)]
pub struct Store {
    storage: Arc<dyn Storage>,
    workers: Arc<Semaphore>,
    writer: Writer,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn unexpected(op: &str) -> StorageError {
    StorageError::Task(format!("the storage answered {op} with another kind of result"))
}

impl Store {
    /// Wraps `storage` with the default limits and starts its writer thread.
    pub fn new(storage: Arc<dyn Storage>) -> Store {
        Store::with_limits(storage, &StoreLimits::default())
    }

    /// Wraps `storage` and starts its writer thread.
    pub fn with_limits(storage: Arc<dyn Storage>, limits: &StoreLimits) -> Store {
        Store {
            writer: Writer::spawn(Arc::clone(&storage), limits),
            workers: Arc::new(Semaphore::new(limits.workers.max(1))),
            storage,
        }
    }

    /// Runs `f` on the storage on one of the bounded workers (not through group commit).
    pub(crate) async fn call<R, F>(&self, f: F) -> Result<R, StorageError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<R, StorageError> + Send + 'static,
    {
        let permit = Arc::clone(&self.workers)
            .acquire_owned()
            .await
            .map_err(|e| StorageError::Task(e.to_string()))?;
        let storage = Arc::clone(&self.storage);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(&*storage)
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }

    /// Gives back the engine's unneeded caches ([`Storage::release_memory`]) on a worker.
    pub(crate) async fn release_memory(&self) -> Result<(), StorageError> {
        self.call(|storage| {
            storage.release_memory();
            Ok(())
        })
        .await
    }

    /// How many group commits the writer made, with how many operations.
    pub fn stats(&self) -> StoreStats {
        self.writer.stats()
    }

    /// Carries out one hot-path write through group commit; `Ok` once it is durable.
    pub async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StorageError> {
        self.writer.write(op).await
    }

    /// Records that `device` connected now ([`Storage::device_connected`]).
    pub async fn device_connected(&self, device: DeviceIdentity) -> Result<(), StorageError> {
        match self.write(WriteOp::DeviceConnected(device)).await? {
            WriteOutcome::Done => Ok(()),
            _ => Err(unexpected("device_connected")),
        }
    }

    /// Queues an order ([`Storage::queue_order`]).
    pub async fn queue_order(&self, device_id: &str, sections: Bytes) -> Result<OrderId, StorageError> {
        let op = WriteOp::QueueOrder {
            device_id: device_id.to_owned(),
            sections,
        };
        match self.write(op).await? {
            WriteOutcome::Queued(id) => Ok(id),
            _ => Err(unexpected("queue_order")),
        }
    }

    /// Queues each `(device, sections)` of `orders` in one commit, in their order (a device
    /// named twice gets both, in that order). Each order has its own outcome (one that fails,
    /// fails alone); `Err` when the writer could not take them.
    pub async fn queue_orders(
        &self,
        orders: Vec<(String, Bytes)>,
    ) -> Result<Vec<Result<OrderId, StorageError>>, StorageError> {
        let ops = orders
            .into_iter()
            .map(|(device_id, sections)| WriteOp::QueueOrder { device_id, sections })
            .collect();
        let outcomes = self.writer.write_together(ops).await?;
        Ok(queued_ids(outcomes))
    }

    /// Claims pending orders and marks them sent ([`Storage::claim_orders`]); with
    /// `reserve_tids`, when any was claimed, also reserves that many ORDER tids in the same
    /// commit ([`WriteOp::ClaimOrders`]): the orders and the first tid of the block.
    pub async fn claim_orders(
        &self,
        device_id: &str,
        after: OrderId,
        limit: usize,
        reserve_tids: Option<u16>,
    ) -> Result<(Vec<PendingOrder>, Option<u16>), StorageError> {
        let op = WriteOp::ClaimOrders {
            device_id: device_id.to_owned(),
            after,
            limit,
            reserve_tids,
        };
        match self.write(op).await? {
            WriteOutcome::Claimed(orders, first) => Ok((orders, first)),
            _ => Err(unexpected("claim_orders")),
        }
    }

    /// Queues `orders` for `device_id`, then claims as [`Store::claim_orders`] does, all in
    /// one commit (the orders see each other in that order: the claim takes the new orders
    /// too, within `limit`): an order queued for a connected device that is ready for it goes
    /// out after one commit instead of two. Each insert and the claim have their own outcome
    /// (one that fails, fails alone); `Err` when the writer could not take them. The claim is
    /// answered at the commit, so that its orders go out while the commit syncs; the inserts'
    /// ids ([`Queued::ids`]) only once it synced.
    #[allow(clippy::type_complexity)]
    pub async fn queue_and_claim(
        &self,
        device_id: &str,
        orders: Vec<Bytes>,
        after: OrderId,
        limit: usize,
        reserve_tids: Option<u16>,
    ) -> Result<(Queued, Result<(Vec<PendingOrder>, Option<u16>), StorageError>), StorageError> {
        let mut ops: Vec<WriteOp> = orders
            .into_iter()
            .map(|sections| WriteOp::QueueOrder {
                device_id: device_id.to_owned(),
                sections,
            })
            .collect();
        ops.push(WriteOp::ClaimOrders {
            device_id: device_id.to_owned(),
            after,
            limit,
            reserve_tids,
        });
        let mut answers = self.writer.queue_together(ops).await?;
        let claim = match answers.pop() {
            Some(answer) => match answer.get().await? {
                Ok(WriteOutcome::Claimed(orders, first)) => Ok((orders, first)),
                Err(e) => Err(e),
                Ok(_) => Err(unexpected("claim_orders")),
            },
            None => Err(unexpected("claim_orders")),
        };
        Ok((Queued(answers), claim))
    }

    /// Reserves a block of ORDER tids ([`Storage::reserve_order_tids`]).
    pub async fn reserve_order_tids(&self, device_id: &str, count: u16) -> Result<u16, StorageError> {
        let op = WriteOp::ReserveOrderTids {
            device_id: device_id.to_owned(),
            count,
        };
        match self.write(op).await? {
            WriteOutcome::Tids(first) => Ok(first),
            _ => Err(unexpected("reserve_order_tids")),
        }
    }

    /// Records a device's answer to an order ([`Storage::answer_order`]).
    pub async fn answer_order(&self, id: OrderId, answer: OrderAnswer) -> Result<bool, StorageError> {
        match self.write(WriteOp::AnswerOrder { id, answer }).await? {
            WriteOutcome::Answered(changed) => Ok(changed),
            _ => Err(unexpected("answer_order")),
        }
    }

    /// Stores an upload ([`Storage::store_series`]); the number of new samples.
    pub async fn store_series(
        &self,
        device_id: &str,
        series: Vec<PathpointSeries>,
    ) -> Result<usize, StorageError> {
        let op = WriteOp::StoreSeries {
            device_id: device_id.to_owned(),
            series,
        };
        match self.write(op).await? {
            WriteOutcome::Stored(n) => Ok(n),
            _ => Err(unexpected("store_series")),
        }
    }

    /// Stores log records ([`Storage::store_logs`]).
    pub async fn store_logs(&self, device_id: &str, logs: Vec<LogEntry>) -> Result<usize, StorageError> {
        let op = WriteOp::StoreLogs {
            device_id: device_id.to_owned(),
            logs,
        };
        match self.write(op).await? {
            WriteOutcome::Stored(n) => Ok(n),
            _ => Err(unexpected("store_logs")),
        }
    }
}

/// The order ids of `QueueOrder` outcomes.
/// The orders [`Store::queue_and_claim`] inserted, to wait for.
pub struct Queued(Vec<Answer>);

impl Queued {
    /// Each insert's outcome, in order, once its commit is durable: the new order's id.
    pub async fn ids(self) -> Vec<Result<OrderId, StorageError>> {
        let mut ids = Vec::with_capacity(self.0.len());
        for answer in self.0 {
            ids.push(match answer.get().await {
                Ok(Ok(WriteOutcome::Queued(id))) => Ok(id),
                Ok(Ok(_)) => Err(unexpected("queue_order")),
                Ok(Err(e)) | Err(e) => Err(e),
            });
        }
        ids
    }
}

fn queued_ids(outcomes: Vec<Result<WriteOutcome, StorageError>>) -> Vec<Result<OrderId, StorageError>> {
    outcomes
        .into_iter()
        .map(|outcome| match outcome? {
            WriteOutcome::Queued(id) => Ok(id),
            _ => Err(unexpected("queue_order")),
        })
        .collect()
}
