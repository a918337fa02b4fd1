//! [`LeaseBook`]: what one node knows of the device leases it holds, and the decisions taken
//! on it — may this connection claim orders now, which local connection lost its device to
//! another node, is this node still alive in the database's eyes (its liveness renewed in
//! time and its node lock held), when to look again at a lease waiting for another node. Pure:
//! driven by explicit `now` and by what the database answered; the I/O of [`super::Cluster`]
//! only carries the decisions out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A device lease's epoch: bumped by every connection that takes the device over.
pub(crate) type Epoch = i64;

/// How often a lease waiting for another node is looked at again (the first look comes at
/// once): each look also asks whether the nodes it waits for still hold their node locks, so
/// that the devices of a killed node are served within this of their reconnection.
pub(crate) const RECHECK: Duration = Duration::from_millis(250);

/// Where a local lease stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Taken, but another node may still be delivering on the device's previous connection:
    /// no claim until it released the device or its node expired.
    Draining,
    /// Taken, nobody else delivering: orders may be claimed.
    Ready,
    /// A newer connection (on another node) took the device over.
    Lost,
}

#[derive(Debug)]
struct Local {
    conn: u64,
    epoch: Epoch,
    state: State,
    /// While draining: when to look at the lease again.
    next_check: Instant,
}

/// Whether a connection may claim orders now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClaimCheck {
    /// Yes, under this epoch (still to be confirmed against the database).
    Ready(Epoch),
    /// Not yet: another node is still releasing the device; the connection is woken when done.
    Draining,
    /// Never: the device was taken over, the connection must close.
    Lost,
    /// Not now: this node could not renew its own liveness in time, or does not hold its node
    /// lock (the others may count it as dead at once): its leases may have been taken without
    /// it hearing.
    Fenced,
}

/// What the database says of one device's lease (a sweep or a release notification).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Observed {
    /// The lease's current epoch.
    pub(crate) epoch: Epoch,
    /// Whether the current holder is this node.
    pub(crate) mine: bool,
    /// Whether live nodes are still releasing earlier connections of the device.
    pub(crate) draining: bool,
}

/// What to do after an observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing changed.
    None,
    /// The lease became ready: wake connection `conn` to claim its orders.
    Wake(u64),
    /// The lease was lost: stop connection `conn`.
    Stop(u64),
}

/// The leases of the devices connected to this node.
#[derive(Debug)]
pub(crate) struct LeaseBook {
    /// How long a node stays alive in the database after a renewal.
    ttl: Duration,
    /// When the last successful renewal was sent.
    renewed: Option<Instant>,
    /// Whether this node holds its node lock (its session-level advisory lock): while it does
    /// not, other nodes may count it as dead at once.
    locked: bool,
    devices: HashMap<String, Local>,
}

impl LeaseBook {
    /// An empty book for a node whose liveness lasts `ttl` after each renewal.
    pub(crate) fn new(ttl: Duration) -> LeaseBook {
        LeaseBook {
            ttl,
            renewed: None,
            locked: false,
            devices: HashMap::new(),
        }
    }

    /// The node's liveness renewal sent at `sent_at` succeeded: the database counts it alive
    /// for `ttl` from a moment after `sent_at`.
    pub(crate) fn renewed(&mut self, sent_at: Instant) {
        self.renewed = Some(self.renewed.map_or(sent_at, |t| t.max(sent_at)));
    }

    /// Whether this node's liveness is fresh enough to act on its leases at `now`: a fifth of
    /// the ttl before the database could consider it dead, so that a claim already started
    /// still commits in time.
    pub(crate) fn alive(&self, now: Instant) -> bool {
        self.renewed.is_some_and(|t| now < t + self.ttl - self.ttl / 5)
    }

    /// This node got (`true`) or lost (`false`: its lock connection ended) its node lock.
    pub(crate) fn lock_held(&mut self, held: bool) {
        self.locked = held;
    }

    /// Whether this node may claim at `now`: alive, and holding its node lock.
    fn may_act(&self, now: Instant) -> bool {
        self.locked && self.alive(now)
    }

    /// Connection `conn` took `device`'s lease at `epoch` at `now`; `draining`: other live
    /// nodes still have to release earlier connections (the lease is due for a look at once).
    pub(crate) fn taken(&mut self, device: &str, conn: u64, epoch: Epoch, draining: bool, now: Instant) {
        let state = if draining { State::Draining } else { State::Ready };
        let local = Local {
            conn,
            epoch,
            state,
            next_check: now,
        };
        self.devices.insert(device.to_owned(), local);
    }

    /// The leases waiting for other nodes that are due for a look at `now` (whether the nodes
    /// they wait for released them, or died); each is due again [`RECHECK`] later.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<String> {
        let mut ids: Vec<String> = self
            .devices
            .iter_mut()
            .filter(|(_, l)| l.state == State::Draining && l.next_check <= now)
            .map(|(d, l)| {
                l.next_check = now + RECHECK;
                d.clone()
            })
            .collect();
        ids.sort();
        ids
    }

    /// Whether connection `conn` of `device` may claim orders at `now`.
    pub(crate) fn check(&self, device: &str, conn: u64, now: Instant) -> ClaimCheck {
        let Some(local) = self.devices.get(device).filter(|l| l.conn == conn) else {
            return ClaimCheck::Lost;
        };
        match local.state {
            State::Lost => ClaimCheck::Lost,
            _ if !self.may_act(now) => ClaimCheck::Fenced,
            State::Draining => ClaimCheck::Draining,
            State::Ready => ClaimCheck::Ready(local.epoch),
        }
    }

    /// Another connection took `device` over at `epoch` (a notification): the local
    /// connection with an older epoch, if any, is to be stopped.
    pub(crate) fn superseded(&mut self, device: &str, epoch: Epoch) -> Action {
        match self.devices.get_mut(device) {
            Some(local) if local.epoch < epoch && local.state != State::Lost => {
                local.state = State::Lost;
                Action::Stop(local.conn)
            }
            _ => Action::None,
        }
    }

    /// What the database says of `device`'s lease (`None`: no lease row).
    pub(crate) fn observe(&mut self, device: &str, observed: Option<Observed>) -> Action {
        let Some(local) = self.devices.get_mut(device) else {
            return Action::None;
        };
        if local.state == State::Lost {
            return Action::None;
        }
        match observed {
            Some(o) if o.epoch == local.epoch && o.mine => {
                if local.state == State::Draining && !o.draining {
                    local.state = State::Ready;
                    Action::Wake(local.conn)
                } else {
                    Action::None
                }
            }
            _ => {
                local.state = State::Lost;
                Action::Stop(local.conn)
            }
        }
    }

    /// Connection `conn` of `device` ended: its lease is forgotten and, when it was still this
    /// connection's, returned (epoch) to be released in the database. `None` when a newer local
    /// connection holds the device (nothing to release).
    pub(crate) fn ended(&mut self, device: &str, conn: u64) -> Option<Epoch> {
        match self.devices.get(device) {
            Some(local) if local.conn == conn => self.devices.remove(device).map(|l| l.epoch),
            _ => None,
        }
    }

    /// The devices whose leases wait for other nodes to release them.
    pub(crate) fn draining(&self) -> Vec<String> {
        self.select(|l| l.state == State::Draining)
    }

    /// Every device with a local connection, lost or not.
    pub(crate) fn local(&self) -> Vec<String> {
        self.select(|_| true)
    }

    /// The devices held (not lost), for a sweep.
    pub(crate) fn held(&self) -> Vec<String> {
        self.select(|l| l.state != State::Lost)
    }

    fn select(&self, keep: impl Fn(&Local) -> bool) -> Vec<String> {
        let mut ids: Vec<String> = self
            .devices
            .iter()
            .filter(|(_, l)| keep(l))
            .map(|(d, _)| d.clone())
            .collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    fn live_book(t0: Instant) -> LeaseBook {
        let mut b = LeaseBook::new(TTL);
        b.renewed(t0);
        b.lock_held(true);
        b
    }

    #[test]
    fn a_fresh_lease_claims_and_a_stale_node_is_fenced() {
        let t0 = Instant::now();
        let mut b = LeaseBook::new(TTL);
        b.taken("d", 1, 4, false, t0);
        b.lock_held(true);
        assert_eq!(b.check("d", 1, t0), ClaimCheck::Fenced, "never renewed");
        b.renewed(t0);
        assert_eq!(b.check("d", 1, t0), ClaimCheck::Ready(4));
        assert_eq!(b.check("d", 2, t0), ClaimCheck::Lost, "another connection");
        assert_eq!(b.check("e", 1, t0), ClaimCheck::Lost, "another device");
        // A fifth of the ttl before the database's expiry, claims stop.
        assert_eq!(b.check("d", 1, t0 + Duration::from_secs(7)), ClaimCheck::Ready(4));
        assert_eq!(b.check("d", 1, t0 + Duration::from_secs(8)), ClaimCheck::Fenced);
        b.renewed(t0 + Duration::from_secs(7));
        // An older renewal answered late does not move the clock back.
        b.renewed(t0);
        assert_eq!(
            b.check("d", 1, t0 + Duration::from_secs(14)),
            ClaimCheck::Ready(4)
        );
    }

    #[test]
    fn a_draining_lease_becomes_ready_when_the_database_says_so() {
        let t0 = Instant::now();
        let mut b = live_book(t0);
        b.taken("d", 1, 2, true, t0);
        assert_eq!(b.check("d", 1, t0), ClaimCheck::Draining);
        assert_eq!(b.draining(), vec!["d".to_owned()]);
        let still = Observed {
            epoch: 2,
            mine: true,
            draining: true,
        };
        assert_eq!(b.observe("d", Some(still)), Action::None);
        let done = Observed {
            draining: false,
            ..still
        };
        assert_eq!(b.observe("d", Some(done)), Action::Wake(1));
        assert_eq!(b.check("d", 1, t0), ClaimCheck::Ready(2));
        assert_eq!(b.observe("d", Some(done)), Action::None, "woken once");
        assert!(b.draining().is_empty());
    }

    #[test]
    fn a_takeover_elsewhere_stops_the_local_connection_once() {
        let t0 = Instant::now();
        let mut b = live_book(t0);
        b.taken("d", 7, 3, false, t0);
        assert_eq!(b.superseded("d", 3), Action::None, "our own epoch");
        assert_eq!(b.superseded("d", 4), Action::Stop(7));
        assert_eq!(b.superseded("d", 5), Action::None, "already stopped");
        assert_eq!(b.check("d", 7, t0), ClaimCheck::Lost);
        assert!(b.held().is_empty());
        // Its end still releases what it held (the database ignores the old epoch).
        assert_eq!(b.ended("d", 7), Some(3));
        assert_eq!(b.ended("d", 7), None);
    }

    #[test]
    fn a_sweep_that_finds_another_holder_stops_the_connection() {
        let t0 = Instant::now();
        let mut b = live_book(t0);
        b.taken("d", 1, 3, false, t0);
        b.taken("e", 2, 1, false, t0);
        let other = Observed {
            epoch: 4,
            mine: false,
            draining: true,
        };
        assert_eq!(b.observe("d", Some(other)), Action::Stop(1));
        assert_eq!(b.observe("e", None), Action::Stop(2), "lease row gone");
        assert_eq!(b.observe("nobody", None), Action::None);
    }

    #[test]
    fn a_newer_local_connection_keeps_the_lease_when_the_old_one_ends() {
        let t0 = Instant::now();
        let mut b = live_book(t0);
        b.taken("d", 1, 1, false, t0);
        b.taken("d", 2, 2, false, t0);
        assert_eq!(b.ended("d", 1), None);
        assert_eq!(b.check("d", 2, t0), ClaimCheck::Ready(2));
        assert_eq!(b.held(), vec!["d".to_owned()]);
    }

    #[test]
    fn a_node_without_its_lock_is_fenced_however_fresh_its_liveness() {
        let t0 = Instant::now();
        let mut b = live_book(t0);
        b.taken("d", 1, 4, false, t0);
        assert_eq!(b.check("d", 1, t0), ClaimCheck::Ready(4));
        // The lock connection ended: the others may count this node dead at once.
        b.lock_held(false);
        assert!(b.alive(t0), "its liveness row is still fresh");
        assert_eq!(b.check("d", 1, t0), ClaimCheck::Fenced);
        assert_eq!(b.check("d", 2, t0), ClaimCheck::Lost, "another connection");
        b.lock_held(true);
        assert_eq!(b.check("d", 1, t0), ClaimCheck::Ready(4));
        // Holding the lock does not stand for a renewal.
        assert_eq!(b.check("d", 1, t0 + TTL), ClaimCheck::Fenced);
    }

    #[test]
    fn a_waiting_lease_is_looked_at_on_acquire_then_every_recheck() {
        let t0 = Instant::now();
        let mut b = live_book(t0);
        b.taken("w", 1, 2, true, t0);
        b.taken("r", 2, 1, false, t0);
        assert_eq!(b.due(t0), vec!["w".to_owned()], "at once, only the waiting one");
        assert!(b.due(t0).is_empty(), "not twice at once");
        assert!(b.due(t0 + RECHECK - Duration::from_millis(1)).is_empty());
        assert_eq!(b.due(t0 + RECHECK), vec!["w".to_owned()]);
        // Taken later: due at its own acquisition, not at the others' pace.
        let t1 = t0 + RECHECK + Duration::from_millis(10);
        b.taken("v", 3, 5, true, t1);
        assert_eq!(b.due(t1), vec!["v".to_owned()]);
        // Ready once the holder is gone (released, or its lock found free): no more looks.
        let done = Observed {
            epoch: 2,
            mine: true,
            draining: false,
        };
        assert_eq!(b.observe("w", Some(done)), Action::Wake(1));
        assert_eq!(b.due(t1 + RECHECK * 4), vec!["v".to_owned()]);
        // Lost: no more looks either.
        assert_eq!(b.superseded("v", 6), Action::Stop(3));
        assert!(b.due(t1 + RECHECK * 8).is_empty());
    }
}
