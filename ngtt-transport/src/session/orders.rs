//! The orders side of [`Session`]: taking ORDERs (within `max_open_orders`), answering them,
//! and refusing those above the frame limit.

use std::time::Instant;

use ngtt_proto::payload::Section;
use ngtt_proto::{Frame, FrameHeader, FrameType};
use tracing::warn;

use super::{Event, IncomingOrder, Session};
use crate::error::TransportError;

impl Session {
    /// Answers the ORDER `tid` received on the connection of `epoch` with ORDER_CONFIRM
    /// (`confirm`) or ORDER_REJECT. Returns false, sending nothing, when that connection is
    /// gone or the order is not open on it.
    pub fn answer_order(&mut self, epoch: u64, tid: u16, confirm: bool) -> bool {
        let Some(link) = self.link.as_mut().filter(|l| l.epoch == epoch) else {
            return false;
        };
        if !link.open_orders.remove(&tid) {
            return false;
        }
        link.out.push_back(if confirm {
            Frame::order_confirm(tid)
        } else {
            Frame::order_reject(tid)
        });
        true
    }

    /// Forgets the ORDER `tid` of the connection of `epoch` without answering it (the
    /// application could not be handed it): the server delivers it again on the next
    /// connection. Returns false when that connection is gone or the order is not open.
    pub fn forget_order(&mut self, epoch: u64, tid: u16) -> bool {
        self.link
            .as_mut()
            .filter(|l| l.epoch == epoch)
            .is_some_and(|l| l.open_orders.remove(&tid))
    }

    /// Handles the header of a frame above the frame limit, read at `now`, whose payload the
    /// caller discards without buffering it.
    ///
    /// Such a frame is not a reason to close the connection: the server would send it again
    /// on the next one, forever. An ORDER is refused by its tid with ORDER_REJECT and a reason
    /// (so the server records it and its queue moves on; the server does not deliver a
    /// rejected order again); any other type is ignored and logged once per type.
    pub fn handle_oversized(&mut self, header: FrameHeader, now: Instant) {
        let Some(link) = &mut self.link else {
            return;
        };
        link.last_read = now;
        if header.kind != FrameType::Order {
            if self.oversized_types.insert(header.kind.as_u16()) {
                warn!(
                    kind = %header.kind,
                    tid = header.tid,
                    len = header.len,
                    max = self.config.max_frame_len,
                    "ignoring a frame larger than the frame limit (logged once per type)"
                );
            }
            return;
        }
        if link.open_orders.contains(&header.tid) {
            warn!(
                tid = header.tid,
                "ignoring an oversized ORDER whose tid is still open on this connection"
            );
            return;
        }
        let reason = format!(
            "ORDER of {} bytes is larger than this device accepts ({} bytes)",
            header.len, self.config.max_frame_len
        );
        warn!(
            tid = header.tid,
            len = header.len,
            "rejecting an ORDER larger than the frame limit"
        );
        link.out.push_back(
            Frame::order_reject_because(header.tid, &reason)
                .unwrap_or_else(|_| Frame::order_reject(header.tid)),
        );
        self.events.push_back(Event::OversizedOrderRejected {
            tid: header.tid,
            len: header.len,
        });
    }

    pub(super) fn handle_order(&mut self, frame: Frame) -> Result<(), TransportError> {
        let Some(link) = &mut self.link else {
            return Ok(());
        };
        if link.open_orders.contains(&frame.tid) {
            warn!(
                tid = frame.tid,
                "ignoring an ORDER whose tid is still open on this connection"
            );
            return Ok(());
        }
        if link.open_orders.len() >= self.config.max_open_orders {
            if !std::mem::replace(&mut link.busy_logged, true) {
                warn!(
                    tid = frame.tid,
                    held = link.open_orders.len(),
                    "not taking an ORDER: as many as max_open_orders are held unanswered \
                     (the server delivers it again on the next connection; logged once per connection)"
                );
            }
            self.events.push_back(Event::OrderNotTaken { tid: frame.tid });
            return Ok(());
        }
        match frame.payload_as::<Vec<Section>>() {
            Ok(sections) => {
                link.open_orders.insert(frame.tid);
                self.events.push_back(Event::Order(IncomingOrder {
                    tid: frame.tid,
                    sections,
                    payload: frame.payload,
                }));
            }
            Err(e)
                if !frame.payload.is_empty()
                    && minijson::from_slice::<minijson::Value>(&frame.payload).is_err() =>
            {
                return Err(e.into());
            }
            Err(e) => {
                // Valid MiniJSON that is not a list of sections can never be executed:
                // refuse it rather than have it delivered again forever.
                warn!(tid = frame.tid, error = %e, "rejecting an ORDER that is not a list of sections");
                link.out.push_back(Frame::order_reject(frame.tid));
            }
        }
        Ok(())
    }
}
