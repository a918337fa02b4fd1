//! [`DeliveredOrder`]: an order together with the way its execution is answered — the
//! pluggable acknowledgement step of the executor.
//!
//! * NGTT ([`ReceivedOrder`]): the order is answered by hand once its last section is done,
//!   ORDER_CONFIRM or ORDER_REJECT; until then the server keeps it.
//! * HTTP ([`HandedOut`]): `POST /v1/device/orders` already counted the orders as acknowledged
//!   when it handed them out, so there is nothing to answer.

use std::future::Future;

use ngtt_transport::ReceivedOrder;

use super::report::Verdict;
use crate::error::ClientError;
use crate::orders::Section;

/// What answering an order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// The verdict was sent to the server (NGTT: ORDER_CONFIRM or ORDER_REJECT written).
    Sent(Verdict),
    /// Nothing needed sending: the server counted the order as acknowledged when it handed it
    /// out (HTTP).
    NotNeeded,
}

/// An order as delivered to the device: its sections, and how to answer it once executed.
pub trait DeliveredOrder: Send + Sync {
    /// The sections to execute.
    fn sections(&self) -> &[Section];

    /// Answers the order with `verdict`; called once, after its last section has finished.
    fn answer(self, verdict: Verdict) -> impl Future<Output = Result<Answered, ClientError>> + Send;
}

impl DeliveredOrder for ReceivedOrder {
    fn sections(&self) -> &[Section] {
        ReceivedOrder::sections(self)
    }

    /// ORDER_CONFIRM or ORDER_REJECT on the connection the order came on. Fails with a
    /// transport error (`ConnectionLost`, `is_no_link()`) when that connection is gone: the
    /// server then delivers the order again.
    async fn answer(self, verdict: Verdict) -> Result<Answered, ClientError> {
        match verdict {
            Verdict::Confirm => self.ack().await?,
            Verdict::Reject => self.nack().await?,
        }
        Ok(Answered::Sent(verdict))
    }
}

/// Sections handed out by the HTTP API (`POST /v1/device/orders`), which counts them as
/// acknowledged on hand-out: [`DeliveredOrder::answer`] sends nothing and returns
/// [`Answered::NotNeeded`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HandedOut(pub Vec<Section>);

impl HandedOut {
    /// `sections` as handed out.
    pub fn new(sections: impl IntoIterator<Item = Section>) -> Self {
        HandedOut(sections.into_iter().collect())
    }
}

impl DeliveredOrder for HandedOut {
    fn sections(&self) -> &[Section] {
        &self.0
    }

    fn answer(self, _verdict: Verdict) -> impl Future<Output = Result<Answered, ClientError>> + Send {
        std::future::ready(Ok(Answered::NotNeeded))
    }
}
