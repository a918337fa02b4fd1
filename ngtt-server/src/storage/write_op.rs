//! [`WriteOp`]: the hot-path writes that go through group commit, as plain data.
//!
//! These are the operations every connected device makes all the time (uploads, logs, order
//! state changes, tid reservations). They are values, not closures, so that the writer task can
//! gather many devices' operations into one transaction of any engine
//! ([`Storage::apply_batch`]); nothing in them is specific to SQLite.

use bytes::Bytes;
use ngtt_proto::payload::PathpointSeries;
use ngtt_proto::DeviceIdentity;

use super::types::{LogEntry, OrderAnswer, OrderId, PendingOrder};
use super::{Storage, StorageError};

/// ORDER tids a claim may reserve ([`WriteOp::ClaimOrders`]' `reserve_tids`) and still be
/// answered before its commit is synced ([`Storage::apply_batch_unsynced`]): an engine whose
/// unsynced commits a power loss can take back (SQLite) moves every device's tid sequence this
/// far on when it opens, past any tid such a claim sent (docs/delivery-guarantees.md, "Orders
/// go out while the commit syncs"). Eight of the connections' blocks of 256.
pub(crate) const UNSYNCED_TID_RESERVE: u16 = 1024;

/// Whether the writer may hand `result` of `op` out before the batch's commit is synced: a
/// claim of orders, whose ORDER frames then go out while the disk syncs. Nothing it answers is
/// an acknowledgment (an order it claims that the same commit inserted, one handed to the
/// connection, is answered `201` only after the sync), and the tids it reserved, if any, are
/// passed over at the next open should the commit be lost.
/// Everything else is an answer someone relies on (a `201`, a DATA_STREAM_CONFIRM, a tid block
/// reserved alone) and waits for the sync.
pub(crate) fn answers_before_sync(op: &WriteOp, result: &Result<WriteOutcome, StorageError>) -> bool {
    match (op, result) {
        (WriteOp::ClaimOrders { reserve_tids, .. }, Ok(WriteOutcome::Claimed(..))) => {
            reserve_tids.map_or(true, |count| count <= UNSYNCED_TID_RESERVE)
        }
        _ => false,
    }
}

/// One write of the hot path.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum WriteOp {
    /// [`Storage::device_connected`].
    DeviceConnected(DeviceIdentity),
    /// [`Storage::queue_order`].
    QueueOrder {
        /// The device.
        device_id: String,
        /// The ORDER payload.
        sections: Bytes,
    },
    /// [`Storage::claim_orders`]; with `reserve_tids`, then, when it claimed any order,
    /// [`Storage::reserve_order_tids`] for the same device in the same transaction: a
    /// connection's first orders go out after one commit instead of two.
    ClaimOrders {
        /// The device.
        device_id: String,
        /// Only orders with a greater id.
        after: OrderId,
        /// At most this many.
        limit: usize,
        /// How many tids to reserve when an order was claimed (`None`: no reservation).
        reserve_tids: Option<u16>,
    },
    /// [`Storage::reserve_order_tids`].
    ReserveOrderTids {
        /// The device.
        device_id: String,
        /// How many tids.
        count: u16,
    },
    /// [`Storage::answer_order`].
    AnswerOrder {
        /// The order.
        id: OrderId,
        /// The device's answer.
        answer: OrderAnswer,
    },
    /// [`Storage::store_series`].
    StoreSeries {
        /// The device.
        device_id: String,
        /// The upload.
        series: Vec<PathpointSeries>,
    },
    /// [`Storage::store_logs`].
    StoreLogs {
        /// The device.
        device_id: String,
        /// The records.
        logs: Vec<LogEntry>,
    },
}

/// What a [`WriteOp`] returns, by kind.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WriteOutcome {
    /// Nothing to report (`DeviceConnected`).
    Done,
    /// The new order's id (`QueueOrder`).
    Queued(OrderId),
    /// The orders claimed and, when tids were asked for and an order was claimed, the first
    /// tid reserved (`ClaimOrders`).
    Claimed(Vec<PendingOrder>, Option<u16>),
    /// The first reserved tid (`ReserveOrderTids`).
    Tids(u16),
    /// Whether the answer changed the order (`AnswerOrder`).
    Answered(bool),
    /// How many records were new (`StoreSeries`, `StoreLogs`).
    Stored(usize),
}

impl WriteOp {
    /// Carries the operation out as its own transaction, through the trait's single-operation
    /// method (the default of [`Storage::apply_batch`]).
    pub fn apply_alone(&self, storage: &(impl Storage + ?Sized)) -> Result<WriteOutcome, StorageError> {
        Ok(match self {
            WriteOp::DeviceConnected(identity) => {
                storage.device_connected(identity)?;
                WriteOutcome::Done
            }
            WriteOp::QueueOrder { device_id, sections } => {
                WriteOutcome::Queued(storage.queue_order(device_id, sections)?)
            }
            WriteOp::ClaimOrders {
                device_id,
                after,
                limit,
                reserve_tids,
            } => {
                // Two transactions here with a reservation (engines with group commit make it
                // one): the claim commits first, so a failed reservation leaves the orders
                // pending, unsent.
                let orders = storage.claim_orders(device_id, *after, *limit)?;
                let first = match reserve_tids {
                    Some(count) if !orders.is_empty() => Some(storage.reserve_order_tids(device_id, *count)?),
                    _ => None,
                };
                WriteOutcome::Claimed(orders, first)
            }
            WriteOp::ReserveOrderTids { device_id, count } => {
                WriteOutcome::Tids(storage.reserve_order_tids(device_id, *count)?)
            }
            WriteOp::AnswerOrder { id, answer } => {
                WriteOutcome::Answered(storage.answer_order(*id, *answer)?)
            }
            WriteOp::StoreSeries { device_id, series } => {
                WriteOutcome::Stored(storage.store_series(device_id, series)?)
            }
            WriteOp::StoreLogs { device_id, logs } => {
                WriteOutcome::Stored(storage.store_logs(device_id, logs)?)
            }
        })
    }

    /// A rough size in bytes, to bound how much one batch carries.
    pub fn weight(&self) -> usize {
        const BASE: usize = 64;
        BASE + match self {
            WriteOp::QueueOrder { sections, .. } => sections.len(),
            WriteOp::StoreSeries { series, .. } => {
                series.iter().map(|s| s.path.len() + 24 * s.values.len()).sum()
            }
            WriteOp::StoreLogs { logs, .. } => logs
                .iter()
                .map(|l| {
                    l.message.len()
                        + l.service.len()
                        + l.exception_text.as_ref().map_or(0, String::len)
                        + l.exception_traceback.as_ref().map_or(0, String::len)
                })
                .sum(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(reserve_tids: Option<u16>) -> WriteOp {
        WriteOp::ClaimOrders {
            device_id: "d".into(),
            after: 0,
            limit: 8,
            reserve_tids,
        }
    }

    #[test]
    fn only_claims_within_the_passed_over_tids_are_answered_before_the_sync() {
        let claimed = Ok(WriteOutcome::Claimed(Vec::new(), Some(1)));
        assert!(answers_before_sync(&claim(None), &claimed));
        assert!(answers_before_sync(&claim(Some(256)), &claimed));
        assert!(answers_before_sync(&claim(Some(UNSYNCED_TID_RESERVE)), &claimed));
        assert!(!answers_before_sync(
            &claim(Some(UNSYNCED_TID_RESERVE + 1)),
            &claimed
        ));
        // A failed claim waits like the rest: it has nothing to send.
        let failed = Err(StorageError::Task("x".into()));
        assert!(!answers_before_sync(&claim(None), &failed));
        let others = [
            (
                WriteOp::QueueOrder {
                    device_id: "d".into(),
                    sections: Bytes::from_static(b"[]"),
                },
                WriteOutcome::Queued(1),
            ),
            (
                WriteOp::ReserveOrderTids {
                    device_id: "d".into(),
                    count: 1,
                },
                WriteOutcome::Tids(1),
            ),
            (
                WriteOp::StoreSeries {
                    device_id: "d".into(),
                    series: Vec::new(),
                },
                WriteOutcome::Stored(0),
            ),
            (
                WriteOp::AnswerOrder {
                    id: 1,
                    answer: OrderAnswer::Confirmed,
                },
                WriteOutcome::Answered(true),
            ),
        ];
        for (op, outcome) in others {
            assert!(!answers_before_sync(&op, &Ok(outcome)), "{op:?}");
        }
    }
}
