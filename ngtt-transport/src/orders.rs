//! [`Orders`] (the stream of received orders) and [`ReceivedOrder`] (one order, to be
//! answered by hand with [`ReceivedOrder::ack`] or [`ReceivedOrder::nack`]).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use ngtt_proto::payload::Section;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::driver::Command;
use crate::error::TransportError;
use crate::session::IncomingOrder;

/// An ORDER received from the server, to be answered with [`ReceivedOrder::ack`] (executed:
/// ORDER_CONFIRM) or [`ReceivedOrder::nack`] (refused: ORDER_REJECT).
///
/// Dropping it unanswered sends nothing (a warning is logged): the server keeps the order and
/// delivers it again on the next connection, and until then it occupies one place of the
/// server's in-flight window on this connection.
#[derive(Debug)]
pub struct ReceivedOrder {
    order: IncomingOrder,
    epoch: u64,
    commands: mpsc::Sender<Command>,
    answered: bool,
}

impl ReceivedOrder {
    pub(crate) fn new(order: IncomingOrder, epoch: u64, commands: mpsc::Sender<Command>) -> Self {
        ReceivedOrder {
            order,
            epoch,
            commands,
            answered: false,
        }
    }

    /// The ORDER frame's tid (the server's delivery id on this connection).
    pub fn tid(&self) -> u16 {
        self.order.tid
    }

    /// The connection the order came on (see [`crate::ConnectionState::Connected`]).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The decoded sections.
    pub fn sections(&self) -> &[Section] {
        &self.order.sections
    }

    /// The raw MiniJSON payload of the ORDER frame.
    pub fn payload(&self) -> &Bytes {
        &self.order.payload
    }

    /// Confirms the order: ORDER_CONFIRM with its tid, on the connection it came on.
    ///
    /// `Ok(())` once the frame was written to that connection. Fails with
    /// [`TransportError::ConnectionLost`] (nothing sent; the server delivers the order again
    /// on a later connection) when that connection is gone, and with
    /// [`TransportError::Closed`] when the transport is closed.
    pub async fn ack(self) -> Result<(), TransportError> {
        self.answer(true).await
    }

    /// Refuses the order: ORDER_REJECT with its tid. Results as for [`ReceivedOrder::ack`].
    pub async fn nack(self) -> Result<(), TransportError> {
        self.answer(false).await
    }

    async fn answer(mut self, confirm: bool) -> Result<(), TransportError> {
        self.answered = true;
        let (reply, answer) = oneshot::channel();
        let command = Command::Answer {
            epoch: self.epoch,
            tid: self.order.tid,
            confirm,
            reply,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| TransportError::Closed)?;
        answer.await.map_err(|_| TransportError::Closed)?
    }

    /// Marks the order as not needing an answer (its connection is gone, or it was never
    /// handed out), silencing the drop warning.
    pub(crate) fn forget(mut self) {
        self.answered = true;
    }
}

impl Drop for ReceivedOrder {
    fn drop(&mut self) {
        if !self.answered {
            warn!(
                tid = self.order.tid,
                "order dropped without ack or nack: nothing sent, the server delivers it again on the next connection"
            );
        }
    }
}

/// The orders the server sends, in arrival order: a [`Stream`] of [`ReceivedOrder`], also
/// readable with [`Orders::recv`]. It ends when the transport is closed.
///
/// Orders that were waiting here when their connection dropped are skipped (the server
/// delivers them again on the next connection), so an order is not handed out twice because
/// of a reconnect while it sat unread.
#[derive(Debug)]
pub struct Orders {
    receiver: mpsc::Receiver<ReceivedOrder>,
    /// Epoch of the current connection, 0 while disconnected.
    live_epoch: Arc<AtomicU64>,
}

impl Orders {
    pub(crate) fn new(receiver: mpsc::Receiver<ReceivedOrder>, live_epoch: Arc<AtomicU64>) -> Self {
        Orders { receiver, live_epoch }
    }

    /// The next order; `None` once the transport is closed.
    pub async fn recv(&mut self) -> Option<ReceivedOrder> {
        std::future::poll_fn(|cx| self.poll_order(cx)).await
    }

    fn poll_order(&mut self, cx: &mut Context<'_>) -> Poll<Option<ReceivedOrder>> {
        loop {
            match self.receiver.poll_recv(cx) {
                Poll::Ready(Some(order)) if order.epoch != self.live_epoch.load(Ordering::Acquire) => {
                    debug!(
                        tid = order.tid(),
                        "skipping an order of a lost connection: it will be redelivered"
                    );
                    order.forget();
                }
                other => return other,
            }
        }
    }
}

impl Stream for Orders {
    type Item = ReceivedOrder;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ReceivedOrder>> {
        self.get_mut().poll_order(cx)
    }
}
