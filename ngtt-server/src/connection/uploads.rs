//! [`Uploads`]: the DATA_STREAM frames of one connection whose answer is not written yet, in the
//! order they arrived.
//!
//! A connection keeps several uploads committing at once (each through the writer's group
//! commit), so that one device's uploads share fsyncs instead of waiting for one each. Answers
//! still leave in frame order: an answer is released only when every upload before it has been
//! answered, and DATA_STREAM_CONFIRM only after its own commit (docs/delivery-guarantees.md).
//! What is held is bounded by a count and by the payload bytes of the uploads in flight.

use std::collections::VecDeque;

use ngtt_proto::Frame;

use super::ops::OpId;

/// Uploads committing at once on one connection, at most.
pub(crate) const MAX_UPLOADS_IN_FLIGHT: usize = 64;

/// Payload bytes of the uploads committing at once on one connection: no further DATA_STREAM is
/// read past this (the one being read may exceed it by one frame).
pub(crate) const MAX_UPLOAD_BYTES_IN_FLIGHT: usize = 1 << 20;

#[derive(Debug)]
enum State {
    /// Its storage operation is outstanding; the DATA_STREAM's tid.
    Committing(OpId, u16),
    /// Answered: the frame to send once every earlier upload is answered (`None`: nothing to
    /// send, the session ended).
    Answered(Option<Frame>),
}

#[derive(Debug)]
struct Entry {
    state: State,
    weight: usize,
}

/// The unanswered uploads of one connection, in arrival order.
#[derive(Debug)]
pub(crate) struct Uploads {
    entries: VecDeque<Entry>,
    bytes: usize,
    max: usize,
    max_bytes: usize,
}

impl Uploads {
    /// At most `max` uploads (at least one) and about `max_bytes` of payload at once.
    pub(crate) fn new(max: usize, max_bytes: usize) -> Uploads {
        Uploads {
            entries: VecDeque::new(),
            bytes: 0,
            max: max.max(1),
            max_bytes,
        }
    }

    /// Whether another DATA_STREAM may be read now.
    pub(crate) fn has_room(&self) -> bool {
        self.entries.len() < self.max && (self.entries.is_empty() || self.bytes < self.max_bytes)
    }

    /// No upload is unanswered.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Storage operations still outstanding.
    pub(crate) fn committing(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.state, State::Committing(..)))
            .count()
    }

    /// Whether `op` is one of the uploads' operations.
    pub(crate) fn contains(&self, op: OpId) -> bool {
        self.position(op).is_some()
    }

    fn position(&self, op: OpId) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| matches!(e.state, State::Committing(id, _) if id == op))
    }

    /// The upload of DATA_STREAM `tid`, `weight` payload bytes, whose commit is operation `op`.
    pub(crate) fn committing_as(&mut self, op: OpId, tid: u16, weight: usize) {
        self.bytes += weight;
        self.entries.push_back(Entry {
            state: State::Committing(op, tid),
            weight,
        });
    }

    /// An upload answered at once (a DATA_STREAM_REJECT), behind the earlier ones.
    pub(crate) fn answered_now(&mut self, answer: Frame) {
        self.entries.push_back(Entry {
            state: State::Answered(Some(answer)),
            weight: 0,
        });
    }

    /// Operation `op` committed: its DATA_STREAM_CONFIRM goes out in its turn. The upload's
    /// tid, or `None` when `op` is not one of the uploads'.
    pub(crate) fn committed(&mut self, op: OpId) -> Option<u16> {
        let at = self.position(op)?;
        let State::Committing(_, tid) = self.entries[at].state else {
            return None;
        };
        self.entries[at].state = State::Answered(Some(Frame::data_stream_confirm(tid)));
        Some(tid)
    }

    /// Operation `op` failed: nothing is sent for it (the session ends). False when `op` is not
    /// one of the uploads'.
    pub(crate) fn failed(&mut self, op: OpId) -> bool {
        let Some(at) = self.position(op) else {
            return false;
        };
        self.entries[at].state = State::Answered(None);
        true
    }

    /// Forgets operation `op`, never handed to the driver.
    pub(crate) fn forget(&mut self, op: OpId) {
        if let Some(at) = self.position(op) {
            if let Some(entry) = self.entries.remove(at) {
                self.bytes -= entry.weight;
            }
        }
    }

    /// The next answer that may be sent: the first upload's, once it is answered. Answers
    /// without a frame are skipped.
    pub(crate) fn pop_ready(&mut self) -> Option<Frame> {
        while matches!(
            self.entries.front(),
            Some(Entry {
                state: State::Answered(_),
                ..
            })
        ) {
            let entry = self.entries.pop_front()?;
            self.bytes -= entry.weight;
            if let State::Answered(Some(frame)) = entry.state {
                return Some(frame);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_released_in_arrival_order_whatever_order_commits_end_in() {
        let mut u = Uploads::new(8, 1 << 20);
        u.committing_as(11, 1, 10);
        u.committing_as(12, 2, 10);
        u.answered_now(Frame::data_stream_reject(3));
        u.committing_as(14, 4, 10);
        assert_eq!(u.committing(), 3);
        assert_eq!(u.committed(12), Some(2));
        assert_eq!(u.committed(14), Some(4));
        assert_eq!(u.pop_ready(), None, "the first upload is still committing");
        assert_eq!(u.committed(11), Some(1));
        let released: Vec<Frame> = std::iter::from_fn(|| u.pop_ready()).collect();
        assert_eq!(
            released,
            [
                Frame::data_stream_confirm(1),
                Frame::data_stream_confirm(2),
                Frame::data_stream_reject(3),
                Frame::data_stream_confirm(4),
            ]
        );
        assert!(u.is_empty() && u.has_room());
        assert_eq!(u.committed(11), None, "an operation is answered once");
        assert!(!u.failed(11));
    }

    #[test]
    fn room_is_bounded_by_count_and_bytes() {
        let mut u = Uploads::new(2, 100);
        assert!(u.has_room());
        u.committing_as(1, 1, 1_000);
        assert!(!u.has_room(), "one large upload fills the byte budget");
        assert!(u.failed(1));
        assert_eq!(u.pop_ready(), None, "a failed upload sends nothing");
        assert!(u.is_empty() && u.has_room());
        u.committing_as(2, 2, 1);
        u.committing_as(3, 3, 1);
        assert!(!u.has_room(), "two at most");
        u.forget(3);
        assert!(u.has_room() && !u.contains(3) && u.contains(2));
    }
}
