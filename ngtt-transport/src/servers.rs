//! Several server nodes (issue 11, "Devices find a live node"): [`ServerAddr`], one configured
//! address; [`Target`], one socket address it resolved to; and [`Rotation`], the pure rule of
//! which target a device tries next, driven by the outcome of each attempt.
//!
//! Every target of a round is tried once, in order, without waiting; only when all of them
//! failed does the device wait for its [`crate::Backoff`] delay, and the next round (with the
//! names resolved again) goes on where the last one stopped. A connection that drops moves the
//! device to the next target at once, so the loss of one node costs no backoff delay while
//! another node is up.

use std::fmt;
use std::net::SocketAddr;

use crate::config::split_host_port;
use crate::error::TransportError;

/// Targets of one round at most: a name resolving to more addresses contributes its first
/// ones only, so that a round (and the time before a backoff) stays bounded.
pub const MAX_TARGETS: usize = 64;

/// One configured server: a host (DNS name or IP address, without brackets) and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    /// DNS name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl ServerAddr {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port` (port 2405 when left out).
    pub fn parse(addr: &str) -> Result<ServerAddr, TransportError> {
        let (host, port) = split_host_port(addr)?;
        Ok(ServerAddr { host, port })
    }

    /// Parses a comma-separated list of addresses (at least one; blanks around commas are
    /// ignored).
    pub fn parse_list(list: &str) -> Result<Vec<ServerAddr>, TransportError> {
        list.split(',').map(ServerAddr::parse).collect()
    }
}

impl fmt::Display for ServerAddr {
    /// `host:port`, with brackets around an IPv6 host.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// One address to connect to: a socket address and the configured server it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// Index of the configured [`ServerAddr`] it was resolved from (for its TLS name).
    pub server: usize,
}

impl Target {
    /// The targets of a round: each configured server's addresses (`resolved[i]` for server
    /// `i`, in the resolver's order), servers in configuration order, a socket address named
    /// twice kept once, at most [`MAX_TARGETS`].
    pub fn list(resolved: &[Vec<SocketAddr>]) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        for (server, addrs) in resolved.iter().enumerate() {
            for &addr in addrs {
                if targets.len() == MAX_TARGETS {
                    return targets;
                }
                if !targets.iter().any(|t| t.addr == addr) {
                    targets.push(Target { addr, server });
                }
            }
        }
        targets
    }
}

/// What to do after an attempt failed or a connection dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Try the next target now: this round has targets left.
    TryNext,
    /// Every target of the round failed: wait for the backoff delay, then start a new round.
    BackOff,
}

/// Which of a round's targets to try: the rule of the module documentation, without I/O.
#[derive(Debug, Clone, Default)]
pub struct Rotation {
    len: usize,
    current: usize,
    left: usize,
}

impl Rotation {
    /// No round begun yet.
    pub fn new() -> Self {
        Rotation::default()
    }

    /// Whether a new round must begin (none begun, or every target of the last one failed):
    /// the caller resolves the servers again and calls [`Rotation::begin_round`].
    pub fn round_over(&self) -> bool {
        self.left == 0
    }

    /// Begins a round over `len` targets; the position carries over from the last round, so
    /// the device goes on with the target after the last one it tried. With no target
    /// (nothing resolved) the round is over at once.
    pub fn begin_round(&mut self, len: usize) {
        self.len = len;
        self.left = len;
        self.current = if len == 0 { 0 } else { self.current % len };
    }

    /// The target to try now, unless the round is over.
    pub fn current(&self) -> Option<usize> {
        (!self.round_over()).then_some(self.current)
    }

    /// The current target connected: the round starts over from it, so that when this
    /// connection drops every other target is tried before a backoff.
    pub fn connected(&mut self) {
        self.left = self.len;
    }

    /// The current target failed (attempt failed, or its connection dropped): moves on.
    pub fn failed(&mut self) -> Step {
        self.left = self.left.saturating_sub(1);
        if self.len > 0 {
            self.current = (self.current + 1) % self.len;
        }
        if self.round_over() {
            Step::BackOff
        } else {
            Step::TryNext
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(s: &str) -> SocketAddr {
        s.parse().expect("socket address")
    }

    #[test]
    fn parses_one_address_or_a_list() {
        let list = ServerAddr::parse_list("a.example:7, [::1]:8,b.example").expect("valid");
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["a.example:7", "[::1]:8", "b.example:2405"]);
        assert!(ServerAddr::parse_list("a:1,,b:2").is_err());
        assert!(ServerAddr::parse_list("").is_err());
        assert_eq!(ServerAddr::parse("h:9").expect("valid").port, 9);
    }

    #[test]
    fn targets_keep_the_order_drop_duplicates_and_are_bounded() {
        let resolved = vec![
            vec![sock("[::1]:5"), sock("127.0.0.1:5")],
            vec![],
            vec![sock("127.0.0.1:5"), sock("127.0.0.2:6")],
        ];
        let targets = Target::list(&resolved);
        let got: Vec<(String, usize)> = targets.iter().map(|t| (t.addr.to_string(), t.server)).collect();
        assert_eq!(
            got,
            [
                ("[::1]:5".to_owned(), 0),
                ("127.0.0.1:5".to_owned(), 0),
                ("127.0.0.2:6".to_owned(), 2)
            ]
        );
        let many: Vec<SocketAddr> = (0..200u16)
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        assert_eq!(Target::list(&[many]).len(), MAX_TARGETS);
    }

    #[test]
    fn a_dead_first_target_moves_on_without_backoff() {
        let mut r = Rotation::new();
        assert!(r.round_over());
        assert_eq!(r.current(), None);
        r.begin_round(3);
        assert_eq!(r.current(), Some(0));
        assert_eq!(r.failed(), Step::TryNext);
        assert_eq!(r.current(), Some(1));
        r.connected();
        assert_eq!(r.current(), Some(1));
    }

    #[test]
    fn every_target_fails_once_per_round_then_backoff() {
        let mut r = Rotation::new();
        r.begin_round(3);
        let mut tried = Vec::new();
        loop {
            tried.push(r.current().expect("round not over"));
            if r.failed() == Step::BackOff {
                break;
            }
        }
        assert_eq!(tried, [0, 1, 2]);
        assert!(r.round_over());
        // The next round goes on where this one stopped (after 2: 0 again).
        r.begin_round(3);
        assert_eq!(r.current(), Some(0));
    }

    #[test]
    fn a_dropped_connection_tries_the_others_first() {
        let mut r = Rotation::new();
        r.begin_round(3);
        r.failed(); // 0 dead
        r.connected(); // 1 up, then dropped
        let mut tried = Vec::new();
        while r.failed() == Step::TryNext {
            tried.push(r.current().expect("round not over"));
        }
        // 2, then 0; 1 (the dropped one) only after a backoff.
        assert_eq!(tried, [2, 0]);
        r.begin_round(3);
        assert_eq!(r.current(), Some(1));
    }

    #[test]
    fn one_target_backs_off_after_every_failure_or_drop() {
        let mut r = Rotation::new();
        r.begin_round(1);
        assert_eq!(r.failed(), Step::BackOff);
        r.begin_round(1);
        r.connected();
        assert_eq!(r.failed(), Step::BackOff);
    }

    #[test]
    fn a_round_with_nothing_resolved_is_over_at_once_and_a_new_length_keeps_the_position_valid() {
        let mut r = Rotation::new();
        r.begin_round(0);
        assert!(r.round_over());
        assert_eq!(r.failed(), Step::BackOff);
        r.begin_round(4);
        r.failed();
        r.failed();
        r.failed(); // at 3
        r.begin_round(2); // the name now resolves to fewer addresses
        assert_eq!(r.current(), Some(1));
    }
}
