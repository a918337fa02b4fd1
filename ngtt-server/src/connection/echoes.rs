//! [`Echoes`]: answers to a device's PINGs, held back for a configured delay
//! ([`crate::ServerConfig::ping_answer_delay`]).
//!
//! A device pings after 30 s in which it wrote nothing, and only with no ping outstanding
//! (NGTT.md §4.6): the echo's delay therefore sets an idle device's keepalive period, to
//! `max(30 s, delay)`. Held 60 s, an idle connection costs half the pings of an immediate echo —
//! half the keepalive bytes on a metered link, half the server's idle CPU. Every hold ends at its
//! deadline, or earlier when anything else is written to the device (the echo then rides along,
//! at no extra cost). A device following the protocol has one ping outstanding; more than
//! [`MAX_HELD`] are answered at once, oldest first.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ngtt_proto::{Frame, FrameType};

/// Echoes held at most; beyond them the oldest goes out at once.
pub(crate) const MAX_HELD: usize = 4;

/// The PING answers of one connection that wait for their deadline.
#[derive(Debug)]
pub(crate) struct Echoes {
    delay: Duration,
    held: VecDeque<(Instant, Frame)>,
}

impl Echoes {
    /// Echoes held `delay` (zero: answered at once).
    pub(crate) fn new(delay: Duration) -> Echoes {
        Echoes {
            delay,
            held: VecDeque::new(),
        }
    }

    /// The answer to `ping`, read at `now`: the echoes to write now (none while it is held;
    /// the oldest held one when too many are).
    pub(crate) fn answer(&mut self, ping: &Frame, now: Instant) -> Option<Frame> {
        let echo = Frame::new(FrameType::Ping, ping.tid, ping.payload.clone());
        if self.delay.is_zero() {
            return Some(echo);
        }
        self.held.push_back((now + self.delay, echo));
        if self.held.len() > MAX_HELD {
            return self.held.pop_front().map(|(_, frame)| frame);
        }
        None
    }

    /// When the first held echo is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.held.front().map(|(at, _)| *at)
    }

    /// The held echoes due at `now`, oldest first, taken out.
    pub(crate) fn due(&mut self, now: Instant) -> impl Iterator<Item = Frame> + '_ {
        let n = self.held.iter().take_while(|(at, _)| *at <= now).count();
        self.held.drain(..n).map(|(_, frame)| frame)
    }

    /// Every held echo, oldest first, taken out (something else is being written: they go
    /// with it).
    pub(crate) fn take_all(&mut self) -> impl Iterator<Item = Frame> + '_ {
        self.held.drain(..).map(|(_, frame)| frame)
    }

    /// Whether no echo is held.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(tid: u16) -> Frame {
        Frame::new(FrameType::Ping, tid, bytes::Bytes::from_static(b"AL"))
    }

    #[test]
    fn without_a_delay_the_echo_is_immediate() {
        let mut e = Echoes::new(Duration::ZERO);
        let echo = e.answer(&ping(7), Instant::now()).expect("at once");
        assert_eq!(
            (echo.kind, echo.tid, &echo.payload[..]),
            (FrameType::Ping, 7, &b"AL"[..])
        );
        assert!(e.is_empty() && e.deadline().is_none());
    }

    #[test]
    fn a_held_echo_is_due_at_its_deadline() {
        let t0 = Instant::now();
        let delay = Duration::from_secs(60);
        let mut e = Echoes::new(delay);
        assert!(e.answer(&ping(1), t0).is_none());
        assert_eq!(e.deadline(), Some(t0 + delay));
        assert_eq!(e.due(t0 + delay - Duration::from_millis(1)).count(), 0);
        let due: Vec<u16> = e.due(t0 + delay).map(|f| f.tid).collect();
        assert_eq!(due, [1]);
        assert!(e.is_empty());
    }

    #[test]
    fn too_many_pings_are_answered_oldest_first_and_the_rest_can_go_early() {
        let t0 = Instant::now();
        let mut e = Echoes::new(Duration::from_secs(60));
        let mut at_once = Vec::new();
        for tid in 1..=(MAX_HELD as u16 + 2) {
            at_once.extend(e.answer(&ping(tid), t0 + Duration::from_secs(u64::from(tid))));
        }
        assert_eq!(at_once.iter().map(|f| f.tid).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(e.deadline(), Some(t0 + Duration::from_secs(63)));
        let early: Vec<u16> = e.take_all().map(|f| f.tid).collect();
        assert_eq!(early, [3, 4, 5, 6]);
        assert!(e.is_empty());
    }
}
