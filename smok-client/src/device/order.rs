//! [`DeviceOrder`] and [`DeviceOrders`]: orders as the application receives them, the same
//! whichever transport brought them.

use ngtt_proto::payload::Section;
use ngtt_transport::{Orders, ReceivedOrder};
use tokio::sync::mpsc;

use crate::error::Result;
use crate::executor::{Answered, DeliveredOrder, Verdict};

/// Which transport delivered an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// NGTT: the server keeps the order until it is acknowledged.
    Ngtt,
    /// The HTTP API: the order counted as acknowledged when it was handed out.
    Http,
}

/// An order to execute: a list of sections.
///
/// Call [`ack`](DeviceOrder::ack) once it has been executed (or [`nack`](DeviceOrder::nack) to
/// refuse it), or hand it to [`Executor::execute`](crate::executor::Executor::execute), which
/// does that after the last section. Over NGTT this is what makes the server forget the order;
/// over HTTP the order was acknowledged when the server handed it out, so both do nothing —
/// that is the window in which HTTP can lose an order and NGTT cannot.
#[derive(Debug)]
pub struct DeviceOrder {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Ngtt(ReceivedOrder),
    Http(Vec<Section>),
}

impl DeviceOrder {
    /// The sections, in the order they are to run.
    pub fn sections(&self) -> &[Section] {
        match &self.inner {
            Inner::Ngtt(order) => order.sections(),
            Inner::Http(sections) => sections,
        }
    }

    /// The transport that delivered it.
    pub fn via(&self) -> Via {
        match self.inner {
            Inner::Ngtt(_) => Via::Ngtt,
            Inner::Http(_) => Via::Http,
        }
    }

    /// Reports the order executed (ORDER_CONFIRM over NGTT; nothing over HTTP).
    ///
    /// Over NGTT this fails when the connection the order came on is gone (`is_no_link()`):
    /// the server then delivers the order again.
    pub async fn ack(self) -> Result<()> {
        self.answer(Verdict::Confirm).await.map(drop)
    }

    /// Refuses the order (ORDER_REJECT over NGTT; nothing over HTTP).
    pub async fn nack(self) -> Result<()> {
        self.answer(Verdict::Reject).await.map(drop)
    }
}

impl DeliveredOrder for DeviceOrder {
    fn sections(&self) -> &[Section] {
        DeviceOrder::sections(self)
    }

    async fn answer(self, verdict: Verdict) -> Result<Answered> {
        match self.inner {
            Inner::Ngtt(order) => order.answer(verdict).await,
            Inner::Http(_) => Ok(Answered::NotNeeded),
        }
    }
}

/// The stream of orders of a [`SmokDevice`](super::SmokDevice).
#[derive(Debug)]
pub struct DeviceOrders {
    inner: Source,
}

#[derive(Debug)]
enum Source {
    Ngtt(Orders),
    Http(mpsc::Receiver<Vec<Section>>),
    None,
}

impl DeviceOrders {
    pub(super) fn ngtt(orders: Orders) -> Self {
        DeviceOrders {
            inner: Source::Ngtt(orders),
        }
    }

    pub(super) fn http(rx: mpsc::Receiver<Vec<Section>>) -> Self {
        DeviceOrders {
            inner: Source::Http(rx),
        }
    }

    pub(super) fn none() -> Self {
        DeviceOrders { inner: Source::None }
    }

    /// The next order; `None` once the device is closed (or never, for a device built with
    /// `fetch_orders(false)`, which gets `None` at once).
    pub async fn recv(&mut self) -> Option<DeviceOrder> {
        let inner = match &mut self.inner {
            Source::Ngtt(orders) => Inner::Ngtt(orders.recv().await?),
            Source::Http(rx) => Inner::Http(rx.recv().await?),
            Source::None => return None,
        };
        Some(DeviceOrder { inner })
    }
}
