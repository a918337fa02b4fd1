//! [`OrderWindow`]: the ORDER frames a connection has sent and not yet seen answered, and the
//! allocation of their transaction ids.

use std::collections::HashMap;

use crate::storage::OrderId;

/// Highest server-chosen tid; tids run 1..=MAX_TID and wrap (0 means "none").
const MAX_TID: u16 = 0x7FFF;

/// The unanswered orders of one connection (NGTT.md §4.3).
#[derive(Debug)]
pub(crate) struct OrderWindow {
    max: usize,
    inflight: HashMap<u16, OrderId>,
    next_tid: u16,
    /// Highest order id sent on this connection: the next orders to send come after it.
    cursor: OrderId,
}

impl OrderWindow {
    /// An empty window of `max` orders (`max` < [`MAX_TID`], checked by the configuration).
    pub(crate) fn new(max: usize) -> OrderWindow {
        OrderWindow {
            max: max.clamp(1, usize::from(MAX_TID) - 1),
            inflight: HashMap::new(),
            next_tid: 1,
            cursor: 0,
        }
    }

    /// How many more orders may be sent now.
    pub(crate) fn free(&self) -> usize {
        self.max.saturating_sub(self.inflight.len())
    }

    /// Unanswered orders.
    pub(crate) fn len(&self) -> usize {
        self.inflight.len()
    }

    /// The highest order id sent on this connection (0 before the first).
    pub(crate) fn cursor(&self) -> OrderId {
        self.cursor
    }

    /// Records that `order` is being sent; returns the tid for its ORDER frame, one that no
    /// unanswered ORDER of this connection has.
    pub(crate) fn push(&mut self, order: OrderId) -> u16 {
        let tid = loop {
            let candidate = self.next_tid;
            self.next_tid = if candidate >= MAX_TID { 1 } else { candidate + 1 };
            if !self.inflight.contains_key(&candidate) {
                break candidate;
            }
        };
        self.inflight.insert(tid, order);
        self.cursor = self.cursor.max(order);
        tid
    }

    /// The order an answer with `tid` refers to, removed from the window; `None` if no ORDER
    /// with that tid is unanswered.
    pub(crate) fn answer(&mut self, tid: u16) -> Option<OrderId> {
        self.inflight.remove(&tid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_are_fresh_and_skip_unanswered_ones() {
        let mut w = OrderWindow::new(3);
        assert_eq!(w.free(), 3);
        assert_eq!(w.push(10), 1);
        assert_eq!(w.push(11), 2);
        assert_eq!((w.free(), w.len(), w.cursor()), (1, 2, 11));
        assert_eq!(w.answer(1), Some(10));
        assert_eq!(w.answer(1), None);
        assert_eq!(w.answer(0), None);
        assert_eq!(w.push(12), 3);
        // Wrap around: tid 2 is still unanswered and must be skipped.
        w.next_tid = MAX_TID;
        assert_eq!(w.answer(3), Some(12));
        assert_eq!(w.push(13), MAX_TID);
        assert_eq!(w.push(14), 1);
        assert_eq!(w.answer(1), Some(14));
        assert_eq!(w.push(15), 3);
        assert_eq!(w.answer(2), Some(11));
    }
}
