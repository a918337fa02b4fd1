//! [`Echoes`]: answers to a device's keepalive PINGs, held back for a configured delay
//! ([`crate::ServerConfig::ping_answer_delay`]).
//!
//! A device pings after 30 s in which it wrote nothing, and only with no ping outstanding
//! (NGTT.md §4.6): the echo's delay therefore sets an idle device's keepalive period, to
//! `max(30 s, delay)`. Held 60 s, an idle connection costs half the pings of an immediate echo —
//! half the keepalive bytes on a metered link, half the server's idle CPU.
//!
//! Only a **keepalive** is held: a PING that comes after the device was silent for at least a
//! third of the delay ([`Echoes::quiet`]; 20 s at 60 s, the device's own keepalive being 30 s).
//! A PING that follows other frames closely — `ngtt-transport`'s proof of reading written right
//! after a LOGS batch, a device measuring its round trip while busy — is answered at once, and
//! any other frame read from the device releases what is held: an active device is not paced.
//! A hold also ends at its deadline, or earlier when anything else is written to the device
//! (the echo then rides along, at no extra cost). A device following the protocol has one ping
//! outstanding; more than [`MAX_HELD`] are answered at once, oldest first.

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

    /// The silence after which a PING is taken for a keepalive and held: a third of the delay.
    pub(crate) fn quiet(&self) -> Duration {
        self.delay / 3
    }

    /// The answer to `ping`, read at `now` after the device was silent for `silence`: the
    /// echoes to write now, oldest first, into `out` — none while it is held; every held one
    /// and this one when it is not a keepalive; the oldest held one when too many are.
    pub(crate) fn answer(
        &mut self,
        ping: &Frame,
        now: Instant,
        silence: Duration,
        out: &mut VecDeque<Frame>,
    ) {
        let echo = Frame::new(FrameType::Ping, ping.tid, ping.payload.clone());
        if self.delay.is_zero() || silence < self.quiet() {
            out.extend(self.take_all());
            out.push_back(echo);
            return;
        }
        self.held.push_back((now + self.delay, echo));
        if self.held.len() > MAX_HELD {
            out.extend(self.held.pop_front().map(|(_, frame)| frame));
        }
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

    /// Every held echo, oldest first, taken out (something else is being written, or the
    /// device is no longer idle: they go now).
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

    const IDLE: Duration = Duration::from_secs(30);

    fn ping(tid: u16) -> Frame {
        Frame::new(FrameType::Ping, tid, bytes::Bytes::from_static(b"AL"))
    }

    fn tids(out: &VecDeque<Frame>) -> Vec<u16> {
        out.iter().map(|f| f.tid).collect()
    }

    #[test]
    fn without_a_delay_the_echo_is_immediate() {
        let mut e = Echoes::new(Duration::ZERO);
        let mut out = VecDeque::new();
        e.answer(&ping(7), Instant::now(), IDLE, &mut out);
        let echo = out.pop_front().expect("at once");
        assert_eq!(
            (echo.kind, echo.tid, &echo.payload[..]),
            (FrameType::Ping, 7, &b"AL"[..])
        );
        assert!(out.is_empty() && e.is_empty() && e.deadline().is_none());
    }

    #[test]
    fn a_held_echo_is_due_at_its_deadline() {
        let t0 = Instant::now();
        let delay = Duration::from_secs(60);
        let mut e = Echoes::new(delay);
        let mut out = VecDeque::new();
        e.answer(&ping(1), t0, IDLE, &mut out);
        assert!(out.is_empty(), "held");
        assert_eq!(e.deadline(), Some(t0 + delay));
        assert_eq!(e.due(t0 + delay - Duration::from_millis(1)).count(), 0);
        let due: Vec<u16> = e.due(t0 + delay).map(|f| f.tid).collect();
        assert_eq!(due, [1]);
        assert!(e.is_empty());
    }

    #[test]
    fn only_a_ping_after_a_third_of_the_delay_in_silence_is_held() {
        let t0 = Instant::now();
        let mut e = Echoes::new(Duration::from_secs(60));
        assert_eq!(e.quiet(), Duration::from_secs(20));
        let mut out = VecDeque::new();
        // Right after other frames (a proof of reading after LOGS): at once.
        e.answer(&ping(1), t0, Duration::from_millis(3), &mut out);
        e.answer(&ping(2), t0, Duration::from_secs(19), &mut out);
        assert_eq!(tids(&out), [1, 2]);
        out.clear();
        e.answer(&ping(3), t0, Duration::from_secs(20), &mut out);
        assert!(out.is_empty(), "a keepalive: held");
        // A ping that is not a keepalive takes the held one with it, oldest first.
        e.answer(&ping(4), t0, Duration::from_secs(1), &mut out);
        assert_eq!(tids(&out), [3, 4]);
        assert!(e.is_empty());
    }

    #[test]
    fn too_many_pings_are_answered_oldest_first_and_the_rest_can_go_early() {
        let t0 = Instant::now();
        let mut e = Echoes::new(Duration::from_secs(60));
        let mut out = VecDeque::new();
        for tid in 1..=(MAX_HELD as u16 + 2) {
            e.answer(
                &ping(tid),
                t0 + Duration::from_secs(u64::from(tid)),
                IDLE,
                &mut out,
            );
        }
        assert_eq!(tids(&out), [1, 2]);
        assert_eq!(e.deadline(), Some(t0 + Duration::from_secs(63)));
        let early: Vec<u16> = e.take_all().map(|f| f.tid).collect();
        assert_eq!(early, [3, 4, 5, 6]);
        assert!(e.is_empty());
    }
}
