//! What the outcome of each operation of a [`Session`] does: the storage results coming back
//! into the state machine (the frames they release, the orders they send, what they log).

use ngtt_proto::Frame;
use tracing::{debug, error, info, warn};

use super::{Session, Waiting, TID_BLOCK};
use crate::connection::ops::{End, Outcome};
use crate::log_records::LogNotes;
use crate::storage::OrderAnswer;

impl Session {
    /// Acts on the outcome of the operation that was outstanding for `waiting`.
    pub(super) fn on_outcome(&mut self, waiting: Waiting, outcome: Outcome) {
        match (waiting, outcome) {
            (Waiting::Connected, Outcome::Done) => {}
            (Waiting::TakeOrders(why), Outcome::Done) => {
                self.fetch = true;
                self.refill = true;
                info!("{why}");
            }
            (Waiting::Claim { want }, Outcome::Claimed(batch, first)) => {
                if let Some(first) = first {
                    debug!(first, count = TID_BLOCK, "reserved ORDER tids with the claim");
                    self.window.add_tids(first, TID_BLOCK);
                }
                self.on_claimed(want, batch);
            }
            (Waiting::Tids(rest), Outcome::Tids(first)) => {
                debug!(first, count = TID_BLOCK, "reserved ORDER tids");
                self.window.add_tids(first, TID_BLOCK);
                self.send_orders(rest);
            }
            (Waiting::Answer { tid, order, answer }, Outcome::Answered(pending)) => {
                if pending {
                    let done = match answer {
                        OrderAnswer::Confirmed => "confirmed",
                        OrderAnswer::Rejected => "rejected",
                    };
                    info!(order, tid, "order {done}");
                } else if self.warnings.first("order answered twice") {
                    warn!(
                        order,
                        tid,
                        "{} for an order that was already answered; ignored (repeats are counted)",
                        super::orders::answer_name(answer)
                    );
                }
            }
            (Waiting::Logs, Outcome::Logs(stored, notes)) => {
                debug!(stored, "LOGS stored");
                // Each kind once per connection (the span names the device): a device chooses
                // how many frames it sends.
                let notes = LogNotes {
                    first_invalid: notes
                        .first_invalid
                        .filter(|_| self.warnings.first("invalid log records")),
                    first_undecodable: notes
                        .first_undecodable
                        .filter(|_| self.warnings.first("undecodable log parts")),
                    budget_spent: notes.budget_spent && self.warnings.first("log inflation budget spent"),
                    ..notes
                };
                notes.warn(None);
            }
            (Waiting::Baob { tid }, Outcome::Baob(answer)) => match Frame::sync_baob_response(tid, &answer) {
                Ok(frame) => self.push(frame),
                Err(e) => self.finish(End::from(e)),
            },
            (waiting, outcome) => {
                error!(
                    ?waiting,
                    ?outcome,
                    "an outcome that does not fit its operation; ignored"
                );
            }
        }
    }
}
