//! [`OrderWindow`]: the ORDER frames a connection has sent and not yet seen answered, and the
//! allocation of their transaction ids from blocks reserved in the device's persisted sequence
//! (so that tids do not restart on each connection, NGTT.md §3).

use std::collections::HashMap;

use crate::storage::OrderId;

/// Highest server-chosen tid; tids run 1..=MAX_TID and wrap (0 means "none").
const MAX_TID: u16 = 0x7FFF;

/// The unanswered orders of one connection (NGTT.md §4.3).
#[derive(Debug)]
pub(crate) struct OrderWindow {
    max: usize,
    inflight: HashMap<u16, OrderId>,
    /// The next tid of the reserved block.
    next_tid: u16,
    /// How many tids of the reserved block are left, from `next_tid` on (wrapping).
    tids_left: u16,
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
            tids_left: 0,
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

    /// Gives the window the block of `count` tids reserved from `first` on (wrapping after
    /// [`MAX_TID`] to 1), replacing what is left of the previous block.
    pub(crate) fn add_tids(&mut self, first: u16, count: u16) {
        self.next_tid = first.clamp(1, MAX_TID);
        self.tids_left = count;
    }

    /// Whether tids of the reserved block are left.
    pub(crate) fn has_tids(&self) -> bool {
        self.tids_left > 0
    }

    /// Records that `order` is being sent; returns the tid for its ORDER frame, the next one of
    /// the reserved block that no unanswered ORDER of this connection has. `None` (and nothing
    /// recorded) when the block is used up: reserve another with [`OrderWindow::add_tids`].
    pub(crate) fn push(&mut self, order: OrderId) -> Option<u16> {
        let tid = loop {
            if self.tids_left == 0 {
                return None;
            }
            let candidate = self.next_tid;
            self.next_tid = if candidate >= MAX_TID { 1 } else { candidate + 1 };
            self.tids_left -= 1;
            if !self.inflight.contains_key(&candidate) {
                break candidate;
            }
        };
        self.inflight.insert(tid, order);
        self.cursor = self.cursor.max(order);
        Some(tid)
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
        assert_eq!(w.push(9), None, "no tids before a block is reserved");
        w.add_tids(1, 100);
        assert_eq!(w.free(), 3);
        assert_eq!(w.push(10), Some(1));
        assert_eq!(w.push(11), Some(2));
        assert_eq!((w.free(), w.len(), w.cursor()), (1, 2, 11));
        assert_eq!(w.answer(1), Some(10));
        assert_eq!(w.answer(1), None);
        assert_eq!(w.answer(0), None);
        assert_eq!(w.push(12), Some(3));
        // Wrap around: tid 2 is still unanswered and must be skipped.
        w.add_tids(MAX_TID, 100);
        assert_eq!(w.answer(3), Some(12));
        assert_eq!(w.push(13), Some(MAX_TID));
        assert_eq!(w.push(14), Some(1));
        assert_eq!(w.answer(1), Some(14));
        assert_eq!(w.push(15), Some(3));
        assert_eq!(w.answer(2), Some(11));
    }

    #[test]
    fn a_used_up_block_asks_for_another() {
        let mut w = OrderWindow::new(8);
        w.add_tids(500, 2);
        assert_eq!(w.push(1), Some(500));
        assert_eq!(w.push(2), Some(501));
        assert_eq!(w.push(3), None);
        assert_eq!(w.len(), 2, "nothing recorded without a tid");
        w.add_tids(756, 2);
        assert_eq!(w.push(3), Some(756));
        // A block whose tids are all unanswered on this connection is used up too.
        let mut w = OrderWindow::new(8);
        w.add_tids(1, 1);
        assert_eq!(w.push(1), Some(1));
        w.add_tids(1, 1);
        assert_eq!(w.push(2), None);
    }
}
