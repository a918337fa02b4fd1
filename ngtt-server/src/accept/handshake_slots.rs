//! [`HandshakeSlots`]: the connections still in the TLS handshake, by source address, so that
//! one address cannot hold every connection slot with sockets that never finish a handshake.
//!
//! Each source (an IPv4 address, or an IPv6 /64) may have `per_source` handshakes in progress.
//! A new connection from a source at its limit takes the slot of that source's *oldest*
//! handshake instead of being refused: idle sockets then only ever displace each other, and a
//! real device behind the same address (a NAT, a gateway, a test on 127.0.0.1) still gets its
//! handshake done.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;

/// The handshakes in progress, by connection number (which grows with accept order), each with
/// a payload handed back when it is evicted.
#[derive(Debug)]
pub(crate) struct HandshakeSlots<T> {
    per_source: usize,
    by_source: HashMap<IpAddr, VecDeque<u64>>,
    pending: BTreeMap<u64, (IpAddr, T)>,
}

/// The key a source address is counted under: IPv4 addresses (and IPv4-mapped IPv6 ones) as
/// they are, IPv6 addresses by their /64 (one host usually has a whole /64).
pub(crate) fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

impl<T> HandshakeSlots<T> {
    /// At most `per_source` handshakes in progress per source (at least 1).
    pub(crate) fn new(per_source: usize) -> HandshakeSlots<T> {
        HandshakeSlots {
            per_source: per_source.max(1),
            by_source: HashMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// Connection `conn` from `ip` starts its handshake. When its source already has
    /// `per_source` in progress, the oldest of them loses its slot: its payload is returned.
    pub(crate) fn begin(&mut self, conn: u64, ip: IpAddr, payload: T) -> Option<T> {
        let key = source_key(ip);
        let queue = self.by_source.entry(key).or_default();
        let evicted = if queue.len() >= self.per_source {
            queue.pop_front()
        } else {
            None
        };
        queue.push_back(conn);
        self.pending.insert(conn, (key, payload));
        evicted
            .and_then(|old| self.pending.remove(&old))
            .map(|(_, payload)| payload)
    }

    /// Connection `conn`'s handshake ended (done, failed or evicted); no-op if unknown.
    pub(crate) fn finish(&mut self, conn: u64) {
        if let Some((key, _)) = self.pending.remove(&conn) {
            self.forget(key, conn);
        }
    }

    /// Takes the slot of the oldest handshake in progress, from any source.
    pub(crate) fn evict_oldest(&mut self) -> Option<T> {
        let (conn, (key, payload)) = self.pending.pop_first()?;
        self.forget(key, conn);
        Some(payload)
    }

    /// Handshakes in progress.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Handshakes in progress from `ip`'s source.
    #[cfg(test)]
    pub(crate) fn pending_of(&self, ip: IpAddr) -> usize {
        self.by_source.get(&source_key(ip)).map_or(0, VecDeque::len)
    }

    fn forget(&mut self, key: IpAddr, conn: u64) {
        if let Some(queue) = self.by_source.get_mut(&key) {
            queue.retain(|c| *c != conn);
            if queue.is_empty() {
                self.by_source.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_source_at_its_limit_displaces_its_own_oldest_handshake() {
        let mut slots = HandshakeSlots::new(2);
        assert_eq!(slots.begin(1, ip("10.0.0.1"), "a"), None);
        assert_eq!(slots.begin(2, ip("10.0.0.1"), "b"), None);
        assert_eq!(slots.begin(3, ip("10.0.0.2"), "other"), None);
        assert_eq!(slots.begin(4, ip("10.0.0.1"), "c"), Some("a"));
        assert_eq!(slots.pending_of(ip("10.0.0.1")), 2);
        assert_eq!(slots.pending_of(ip("10.0.0.2")), 1);
        assert_eq!(slots.len(), 3);
    }

    #[test]
    fn finished_handshakes_free_their_slot() {
        let mut slots = HandshakeSlots::new(1);
        slots.begin(1, ip("10.0.0.1"), ());
        slots.finish(1);
        slots.finish(1);
        slots.finish(99);
        assert_eq!(slots.begin(2, ip("10.0.0.1"), ()), None);
        assert_eq!(slots.len(), 1);
    }

    #[test]
    fn evict_oldest_takes_the_first_accepted_of_any_source() {
        let mut slots = HandshakeSlots::new(8);
        slots.begin(5, ip("10.0.0.2"), "five");
        slots.begin(7, ip("10.0.0.1"), "seven");
        assert_eq!(slots.evict_oldest(), Some("five"));
        assert_eq!(slots.pending_of(ip("10.0.0.2")), 0);
        assert_eq!(slots.evict_oldest(), Some("seven"));
        assert_eq!(slots.evict_oldest(), None);
        assert_eq!(slots.len(), 0);
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let mut slots = HandshakeSlots::new(1);
        slots.begin(1, ip("2001:db8:1:2::1"), 1);
        assert_eq!(slots.begin(2, ip("2001:db8:1:2::ffff"), 2), Some(1));
        assert_eq!(slots.begin(3, ip("2001:db8:1:3::1"), 3), None);
        slots.begin(4, ip("192.0.2.7"), 4);
        assert_eq!(slots.begin(5, ip("::ffff:192.0.2.7"), 5), Some(4));
    }

    #[test]
    fn a_limit_of_zero_still_lets_one_handshake_per_source_run() {
        let mut slots = HandshakeSlots::new(0);
        assert_eq!(slots.begin(1, ip("10.0.0.1"), 1), None);
        assert_eq!(slots.begin(2, ip("10.0.0.1"), 2), Some(1));
    }
}
