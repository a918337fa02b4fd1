//! Runs the sections of one ORDER through an application's [`OrderHandler`] (NGTT.md §5).
//!
//! # Semantics
//!
//! * **Groups.** The sections are split into groups ([`crate::orders::join_groups`]): each
//!   maximal run of consecutive JOINABLE (disposition 0) sections is one group; each
//!   CANNOT_JOIN (disposition 1) section is a group of its own. Groups run one after another:
//!   a group starts only when the previous one has completely finished. So a CANNOT_JOIN
//!   section is a barrier — everything before it has finished before it starts, and it has
//!   finished before anything after it starts.
//! * **Inside a group** the sections run concurrently with each other (on the caller's task,
//!   no spawning: `join_all`); **inside a section** the orders run strictly in sequence, each
//!   awaited before the next starts. A `wait` order therefore delays the rest of its own
//!   section only.
//! * **Stale writes.** A write whose `stale_after` has passed *when its turn comes* (read from
//!   the executor's [`Clock`] just before the handler would be called) is dropped, not
//!   executed, with a warning naming both times.
//! * **Unrecognised or invalid orders** (unknown or missing type, missing or mistyped fields,
//!   and writes whose value cannot be coerced to the path's type) are skipped with a warning;
//!   the rest of the section runs.
//! * **Handler errors** are logged as warnings and recorded; the rest of the section runs.
//! * Warnings go to the tracing target [`ORDERS_LOG_TARGET`] (`smok::orders`), which the log
//!   layer uploads (it only excludes the client's own plumbing).
//!
//! # Answering
//!
//! [`Executor::execute`] runs an order and then — once its last section has finished, never
//! before — answers it through [`DeliveredOrder::answer`] with [`ExecutionReport::verdict`]:
//! Confirm when anything could be attempted (handler failures included: the order *was*
//! executed, and the failures reach the server through the logs); Reject only when the order
//! had orders and none could be attempted (all unrecognised or invalid), because delivering it
//! again cannot help. For NGTT ([`ngtt_transport::ReceivedOrder`]) that is ORDER_CONFIRM /
//! ORDER_REJECT; for HTTP ([`HandedOut`]) nothing is sent, since hand-out already counted as
//! acknowledgement. If a handler panics, the panic propagates and the order is never answered
//! (NGTT delivers it again on the next connection).

mod delivery;
mod handler;
mod report;

use std::time::SystemTime;

use futures::future::join_all;
use ngtt_transport::ReceivedOrder;
use tracing::{debug, warn};

pub use delivery::{Answered, DeliveredOrder, HandedOut};
pub use handler::{default_wait, HandlerError, HandlerResult, OrderHandler};
pub use report::{ExecutionReport, Failure, OrderRef, Skipped, Verdict};

use crate::clock::{epoch_secs, Clock, SystemClock};
use crate::error::ClientError;
use crate::orders::{join_groups, Order, OrderExt, Section, WriteOrder, WriteOrderExt};
use report::Outcome;

/// The tracing target of the executor's warnings (skipped and failed orders).
pub const ORDERS_LOG_TARGET: &str = "smok::orders";

/// The result of [`Executor::execute`]: what became of each order, and of the answer.
#[derive(Debug)]
pub struct Execution {
    /// What became of each order.
    pub report: ExecutionReport,
    /// What answering did; an error (e.g. NGTT `ConnectionLost`: the server will deliver the
    /// order again) does not undo the execution.
    pub answered: Result<Answered, ClientError>,
}

/// Runs orders through a handler `H`, reading the time for stale writes from a clock `C`.
#[derive(Debug, Clone)]
pub struct Executor<H, C = SystemClock> {
    handler: H,
    clock: C,
}

impl<H: OrderHandler> Executor<H> {
    /// An executor calling `handler`, on the system clock.
    pub fn new(handler: H) -> Self {
        Executor {
            handler,
            clock: SystemClock,
        }
    }
}

impl<H: OrderHandler, C: Clock> Executor<H, C> {
    /// The same executor reading the time from `clock`.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Executor<H, C2> {
        Executor {
            handler: self.handler,
            clock,
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Runs `sections` (see the [module docs](self) for the order of things) and reports.
    /// Answers nothing.
    pub async fn run(&self, sections: &[Section]) -> ExecutionReport {
        let mut report = ExecutionReport::default();
        for (start, group) in join_groups(sections) {
            let sections = group
                .iter()
                .enumerate()
                .map(|(i, section)| self.run_section(start + i, section));
            for outcomes in join_all(sections).await {
                for (at, kind, outcome) in outcomes {
                    report.record(at, kind, outcome);
                }
            }
        }
        report
    }

    /// Runs `order`, then answers it with the report's [`Verdict`] once its last section has
    /// finished.
    pub async fn execute<O: DeliveredOrder>(&self, order: O) -> Execution {
        let report = self.run(order.sections()).await;
        let verdict = report.verdict();
        debug!(target: ORDERS_LOG_TARGET, ?verdict, "order done: {report}");
        let answered = order.answer(verdict).await;
        if let Err(e) = &answered {
            warn!(target: ORDERS_LOG_TARGET, ?verdict, "could not answer the order: {e}");
        }
        Execution { report, answered }
    }

    /// Runs an NGTT order and then confirms (ORDER_CONFIRM) or rejects (ORDER_REJECT) it: the
    /// same as [`Executor::execute`].
    pub async fn execute_received(&self, order: ReceivedOrder) -> Execution {
        self.execute(order).await
    }

    async fn run_section<'s>(&self, section: usize, s: &'s Section) -> Vec<(OrderRef, &'s str, Outcome)> {
        let mut outcomes = Vec::with_capacity(s.orders.len());
        for (index, order) in s.orders.iter().enumerate() {
            let at = OrderRef { section, index };
            outcomes.push((at, order.kind(), self.run_order(at, order).await));
        }
        outcomes
    }

    async fn run_order(&self, at: OrderRef, order: &Order) -> Outcome {
        let kind = order.kind();
        let result = match order {
            Order::Read(o) => self.handler.read(o).await,
            Order::Write(o) => match self.check_write(o, self.clock.now()) {
                Ok(value) => self.handler.write(o, value).await,
                Err(outcome) => return outcome,
            },
            Order::Wait(o) => self.handler.wait(o).await,
            Order::Sysctl(o) => self.handler.sysctl(o).await,
            Order::Message(o) => self.handler.message(o).await,
            Order::Unrecognized { reason, .. } => {
                warn!(target: ORDERS_LOG_TARGET, %at, kind, "skipping an unrecognized order: {reason}");
                return Outcome::Unrecognized(reason.clone());
            }
        };
        match result {
            Ok(()) => Outcome::Executed,
            Err(error) => {
                warn!(target: ORDERS_LOG_TARGET, %at, kind, "order failed: {error}");
                Outcome::Failed(error)
            }
        }
    }

    /// The value to write, or why the write is not executed.
    fn check_write(&self, o: &WriteOrder, now: SystemTime) -> Result<crate::orders::PathpointValue, Outcome> {
        if o.is_stale(now) {
            let reason = format!(
                "write to {} dropped: stale after {} (epoch s), now {:.6}",
                o.path,
                o.stale_after.unwrap_or(f64::NAN),
                epoch_secs(now)
            );
            warn!(target: ORDERS_LOG_TARGET, path = %o.path, "{reason}");
            return Err(Outcome::Stale(reason));
        }
        o.coerced_value().map_err(|e| {
            let reason = format!("invalid write to {}: {e}", o.path);
            warn!(target: ORDERS_LOG_TARGET, path = %o.path, "skipping an {reason}");
            Outcome::Unrecognized(reason)
        })
    }
}
