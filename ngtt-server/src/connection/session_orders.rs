//! The orders of a [`Session`]: taking them for this connection, sending them under reserved
//! tids, and matching answers to them (docs/delivery-guarantees.md, "Orders").

use std::collections::VecDeque;

use ngtt_proto::{Frame, FrameType};
use tracing::{debug, warn};

use super::{Session, Waiting, TID_BLOCK};
use crate::connection::ops::Op;
use crate::storage::{OrderAnswer, PendingOrder};

impl Session {
    /// Asks for this connection to take the device's orders (once per connection: on
    /// FETCH_ORDERS, or when the grace period ends first). Orders already sent on this
    /// connection are never sent on it again: [`OrderWindow::cursor`] only grows.
    pub(super) fn want_orders(&mut self, why: &'static str) {
        if !self.fetch && self.start_wanted.is_none() {
            self.start_wanted = Some(why);
        }
        self.refill = true;
    }

    /// Queues ORDER frames for `orders` (claimed, in queue order), each under the next tid of
    /// the reserved block; reserves another block first when it is used up. A stopped
    /// connection sends none: they stay pending and go out on the next connection.
    pub(super) fn send_orders(&mut self, mut orders: VecDeque<PendingOrder>) {
        while let Some(order) = orders.front() {
            if self.stopping.is_some() || self.end.is_some() {
                return;
            }
            let Some(tid) = self.window.push(order.id) else {
                return self.start(Waiting::Tids(orders), Op::ReserveTids { count: TID_BLOCK });
            };
            debug!(order = order.id, tid, "sending ORDER");
            let payload = order.payload.clone();
            orders.pop_front();
            self.push(Frame::new(FrameType::Order, tid, payload));
        }
    }

    /// A claim for `want` orders came back with `batch`.
    pub(super) fn on_claimed(&mut self, want: usize, batch: Vec<PendingOrder>) {
        if batch.len() < want && !self.queued_since_claim {
            // Nothing more is pending: the next claim waits for new orders (an answer alone
            // does not make one, sparing a transaction per order).
            self.refill = false;
        }
        self.send_orders(batch.into());
    }

    pub(super) fn on_answer(&mut self, tid: u16, answer: OrderAnswer) {
        let Some(order) = self.window.answer(tid) else {
            if self.warnings.first("stale order answer") {
                warn!(
                    tid,
                    "{} matches no unanswered ORDER on this connection (stale or repeated); \
                     ignored (repeats are counted)",
                    answer_name(answer)
                );
            }
            return;
        };
        self.start(
            Waiting::Answer { tid, order, answer },
            Op::AnswerOrder { order, answer },
        );
    }
}

pub(super) fn answer_name(answer: OrderAnswer) -> &'static str {
    match answer {
        OrderAnswer::Confirmed => "ORDER_CONFIRM",
        OrderAnswer::Rejected => "ORDER_REJECT",
    }
}
