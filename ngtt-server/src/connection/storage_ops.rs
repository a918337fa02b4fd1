//! Carries out the [`Op`]s of a session: every storage call of a device connection is here, in
//! one place, so that the storage interface can change under it without touching the session.

use std::sync::Arc;

use ngtt_proto::DeviceIdentity;

use super::ops::{Op, Outcome};
use super::Shared;
use crate::order_handoff::HandedOrder;
use crate::storage::StorageError;

/// What an operation needs beyond itself: the storage, the registry, who the device is.
#[derive(Clone)]
pub(super) struct Executor {
    pub(super) shared: Arc<Shared>,
    pub(super) identity: Arc<DeviceIdentity>,
    pub(super) conn: u64,
}

impl Executor {
    /// Carries `op` out. Once started, it runs to its end even if the connection is stopped:
    /// the driver waits for it (a write that has started always finishes).
    pub(super) async fn run(self, op: Op) -> Result<Outcome, StorageError> {
        let Executor {
            shared,
            identity,
            conn,
        } = self;
        let db = &shared.db;
        let device = identity.device_id.clone();
        match op {
            Op::DeviceConnected => db
                .device_connected(DeviceIdentity::clone(&identity))
                .await
                .map(|()| Outcome::Done),
            Op::TakeOrders => {
                // Under the device's order gate: an HTTP hand-out in progress commits first,
                // and none starts after this (docs/delivery-guarantees.md).
                let registry = &shared.registry;
                let gate = registry.order_gate(&device);
                let _held = gate.lock().await;
                registry.set_orders_on_ngtt(&device, conn);
                Ok(Outcome::Done)
            }
            // The hot path goes through the writer's group commit.
            Op::ClaimOrders {
                queue,
                after,
                limit,
                reserve_tids,
            } => {
                if let Some(cluster) = &shared.cluster {
                    // Not while another node may still deliver them: woken when it may. (No
                    // order is handed to a connection with several nodes.)
                    if !cluster.may_claim(&device, conn).await {
                        return Ok(Outcome::Claimed(Vec::new(), None));
                    }
                }
                if queue.is_empty() {
                    let (orders, first) = db.claim_orders(&device, after, limit, reserve_tids).await?;
                    return Ok(Outcome::Claimed(orders, first));
                }
                // The admin's inserts and this claim in one commit; each admin answered after it.
                let (sections, answers): (Vec<_>, Vec<_>) = queue.into_iter().map(HandedOrder::take).unzip();
                match db
                    .queue_and_claim(&device, sections, after, limit, reserve_tids)
                    .await
                {
                    Ok((queued, claim)) => {
                        // The claim is answered at the commit: its ORDERs go out while the
                        // commit syncs, and each admin request is answered once it synced.
                        tokio::spawn(async move {
                            for (answer, result) in answers.into_iter().zip(queued.ids().await) {
                                answer.send(result);
                            }
                        });
                        claim.map(|(orders, first)| Outcome::Claimed(orders, first))
                    }
                    Err(e) => {
                        // The writer took none of them: nothing was stored.
                        for answer in answers {
                            answer.send(Err(e.for_batch_mate()));
                        }
                        Err(e)
                    }
                }
            }
            Op::ReserveTids { count } => db.reserve_order_tids(&device, count).await.map(Outcome::Tids),
            Op::AnswerOrder { order, answer } => db.answer_order(order, answer).await.map(Outcome::Answered),
            Op::StoreSeries { series } => db.store_series(&device, series).await.map(Outcome::Stored),
            Op::StoreLogs { items } => {
                // Inflated on the storage workers within the device's budgets (shared with the
                // device HTTP API), stored in bounded batches.
                let limits = shared.registry.inflate_limits();
                let budgets = shared.limits.budgets;
                crate::log_batches::store_logs(db, limits, budgets, &device, items)
                    .await
                    .map(|(stored, notes)| Outcome::Logs(stored, notes))
            }
            Op::BaobSync { request } => db
                .call(move |s| super::baob_sync::response(s, &device, &request))
                .await
                .map(Outcome::Baob),
        }
    }
}
