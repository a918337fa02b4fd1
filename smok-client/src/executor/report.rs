//! [`ExecutionReport`]: what became of each order of one ORDER, and the [`Verdict`] it implies.

use std::fmt;

use super::handler::HandlerError;

/// Where an order sits in its ORDER payload: section and position in it, both from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderRef {
    /// The section's index.
    pub section: usize,
    /// The order's index inside its section.
    pub index: usize,
}

impl fmt::Display for OrderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "section {} order {}", self.section, self.index)
    }
}

/// An order that was not handed to the handler, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where it was.
    pub at: OrderRef,
    /// Its type (see [`crate::orders::OrderExt::kind`]).
    pub kind: String,
    /// Why it was skipped.
    pub reason: String,
}

/// An order whose handler failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Where it was.
    pub at: OrderRef,
    /// Its type.
    pub kind: String,
    /// What the handler said.
    pub error: HandlerError,
}

/// How an order is to be answered, decided from its [`ExecutionReport`]
/// ([`ExecutionReport::verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The order was executed (NGTT: ORDER_CONFIRM).
    Confirm,
    /// The order could not be executed at all (NGTT: ORDER_REJECT).
    Reject,
}

/// What became of every order of one ORDER payload. Each list is in payload order.
#[derive(Debug, Clone, Default)]
pub struct ExecutionReport {
    /// Orders whose handler returned `Ok`.
    pub executed: usize,
    /// Writes dropped because their `stale_after` had passed when their turn came.
    pub skipped_stale: Vec<Skipped>,
    /// Orders skipped because they are unrecognised (unknown or missing type, missing or
    /// mistyped fields) or invalid (a written value that cannot be coerced to its path's type).
    pub skipped_unrecognized: Vec<Skipped>,
    /// Orders whose handler returned an error.
    pub failed: Vec<Failure>,
}

/// The fate of one order, as the executor records it.
#[derive(Debug)]
pub(crate) enum Outcome {
    Executed,
    Stale(String),
    Unrecognized(String),
    Failed(HandlerError),
}

impl ExecutionReport {
    /// Every order of the payload.
    pub fn total(&self) -> usize {
        self.attempted() + self.skipped_unrecognized.len()
    }

    /// Orders that were dealt with as the protocol asks: executed, failed in the handler, or
    /// dropped as stale (a stale write is never to be executed, so dropping it is its
    /// execution).
    pub fn attempted(&self) -> usize {
        self.executed + self.failed.len() + self.skipped_stale.len()
    }

    /// True when every order was executed successfully.
    pub fn all_executed(&self) -> bool {
        self.executed == self.total()
    }

    /// [`Verdict::Reject`] when the payload had orders and none of them could even be attempted
    /// (all unrecognised or invalid): sending it again cannot help. Otherwise
    /// [`Verdict::Confirm`] — including when handlers failed, which the report and the logs
    /// tell, and for a payload without orders.
    pub fn verdict(&self) -> Verdict {
        if self.attempted() == 0 && !self.skipped_unrecognized.is_empty() {
            Verdict::Reject
        } else {
            Verdict::Confirm
        }
    }

    pub(crate) fn record(&mut self, at: OrderRef, kind: &str, outcome: Outcome) {
        let skipped = |reason| Skipped {
            at,
            kind: kind.to_owned(),
            reason,
        };
        match outcome {
            Outcome::Executed => self.executed += 1,
            Outcome::Stale(reason) => self.skipped_stale.push(skipped(reason)),
            Outcome::Unrecognized(reason) => self.skipped_unrecognized.push(skipped(reason)),
            Outcome::Failed(error) => self.failed.push(Failure {
                at,
                kind: kind.to_owned(),
                error,
            }),
        }
    }
}

impl fmt::Display for ExecutionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} executed, {} failed, {} stale, {} unrecognized",
            self.executed,
            self.failed.len(),
            self.skipped_stale.len(),
            self.skipped_unrecognized.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(section: usize, index: usize) -> OrderRef {
        OrderRef { section, index }
    }

    #[test]
    fn verdicts() {
        let mut r = ExecutionReport::default();
        assert_eq!(r.verdict(), Verdict::Confirm, "nothing to do is done");
        r.record(at(0, 0), "frobnicate", Outcome::Unrecognized("unknown".into()));
        assert_eq!(r.verdict(), Verdict::Reject);
        r.record(at(0, 1), "write", Outcome::Stale("stale".into()));
        assert_eq!(r.verdict(), Verdict::Confirm, "a stale write was dealt with");
        r.record(at(1, 0), "read", Outcome::Failed(HandlerError::new("bus")));
        r.record(at(1, 1), "read", Outcome::Executed);
        assert_eq!((r.total(), r.attempted(), r.all_executed()), (4, 3, false));
        assert_eq!(r.to_string(), "1 executed, 1 failed, 1 stale, 1 unrecognized");
        assert_eq!(r.failed[0].at.to_string(), "section 1 order 0");
    }
}
