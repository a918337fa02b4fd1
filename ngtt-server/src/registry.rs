//! [`Registry`]: the live connection of each device, so that a new connection replaces the old
//! one and the admin API can wake a connection when an order is queued; and which devices take
//! their orders over NGTT, so that the device HTTP API does not hand the same orders out too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::log_records::InflateLimits;
use crate::order_handoff::{HandedOrder, Inbox, MAX_HAND_OFFS};

struct Entry {
    conn: u64,
    inbox: Arc<Inbox>,
    done: watch::Receiver<()>,
    /// The device asked for orders (FETCH_ORDERS) on this connection or on one it replaced.
    orders_on_ngtt: bool,
}

type Gate = Arc<tokio::sync::Mutex<()>>;

type Gates = Arc<Mutex<HashMap<String, Gate>>>;

/// Serializes the decisions "orders go over NGTT" and "hand orders out over HTTP" of one
/// device (see [`Registry::order_gate`]). The registry keeps a device's gate only while some
/// `OrderGate` of it exists: the last one dropped removes it, so a device that left costs
/// nothing, and two holders at the same time always share one gate.
pub(crate) struct OrderGate {
    gates: Gates,
    device_id: String,
    /// `None` only while being dropped.
    gate: Option<Gate>,
}

impl OrderGate {
    /// Waits for the gate; held until the guard is dropped.
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        match &self.gate {
            Some(gate) => gate.lock().await,
            None => unreachable!("the gate is only taken by drop"),
        }
    }
}

impl Drop for OrderGate {
    fn drop(&mut self) {
        // Handles are cloned and dropped only under the map's lock, so the count is exact.
        let mut gates = lock(&self.gates);
        drop(self.gate.take());
        if gates
            .get(&self.device_id)
            .is_some_and(|g| Arc::strong_count(g) == 1)
        {
            gates.remove(&self.device_id);
            crate::memory::shrink_sparse(&mut gates);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The live connections, by device id.
#[derive(Clone)]
pub(crate) struct Registry {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
    /// The gate of each device whose order hand-outs are being decided now.
    gates: Gates,
    /// What each device may still inflate of compressed log parts this minute, NGTT and HTTP
    /// together.
    inflate: InflateLimits,
    /// With several nodes: where wake-ups for devices connected elsewhere go (the cluster's
    /// notification sender; bounded, a full queue is left to its periodic sweep).
    remote: Arc<OnceLock<mpsc::Sender<String>>>,
    /// The order hand-offs under way on this node: one permit each.
    hand_offs: Arc<tokio::sync::Semaphore>,
}

/// A connection's place in the registry; dropping it (when the connection task ends) removes
/// the entry if it is still this connection's, then signals "done" to whoever waits for it.
pub(crate) struct Registration {
    registry: Registry,
    device_id: String,
    conn: u64,
    /// Notified when an order is queued for the device and when the connection is to stop
    /// (replacement or server shutdown); holds the orders handed to it.
    pub(crate) inbox: Arc<Inbox>,
    /// Dropped last: closes the channel the replacing connection waits on.
    _done: watch::Sender<()>,
}

/// The connection a new one replaced.
pub(crate) struct Replaced {
    /// Its connection number.
    pub(crate) conn: u64,
    inbox: Arc<Inbox>,
    done: watch::Receiver<()>,
}

impl Replaced {
    /// Stops the replaced connection and waits until its task has ended (it finishes a storage
    /// write in progress and sends close_notify, within the close timeout).
    pub(crate) async fn stop_and_wait(mut self) {
        self.inbox.stop();
        // Err once the sender is dropped: that is the signal.
        while self.done.changed().await.is_ok() {}
    }
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            inner: Arc::default(),
            gates: Gates::default(),
            inflate: InflateLimits::default(),
            remote: Arc::default(),
            hand_offs: Arc::new(tokio::sync::Semaphore::new(MAX_HAND_OFFS)),
        }
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        lock(&self.inner)
    }

    /// Makes connection `conn` the live one of `device_id`; returns the one it replaces.
    /// `shutdown` is the server's shutdown token: a connection registered once it is cancelled
    /// is stopped at once, and [`Registry::stop_all`] stops those registered before.
    pub(crate) fn register(
        &self,
        device_id: &str,
        conn: u64,
        shutdown: &CancellationToken,
    ) -> (Registration, Option<Replaced>) {
        let inbox = Arc::new(Inbox::default());
        let (done_tx, done_rx) = watch::channel(());
        let mut map = self.lock();
        // A replacement keeps the device's orders on NGTT: the replaced connection may still
        // have orders in flight until it has stopped.
        let inherited = map.get(device_id).is_some_and(|e| e.orders_on_ngtt);
        let entry = Entry {
            conn,
            inbox: Arc::clone(&inbox),
            done: done_rx,
            orders_on_ngtt: inherited,
        };
        let old = map.insert(device_id.to_owned(), entry);
        // Read under the map's lock: either `stop_all` (which takes it after the token was
        // cancelled) finds this entry, or this sees the token cancelled.
        if shutdown.is_cancelled() {
            inbox.stop();
        }
        drop(map);
        let registration = Registration {
            registry: self.clone(),
            device_id: device_id.to_owned(),
            conn,
            inbox,
            _done: done_tx,
        };
        let replaced = old.map(|e| Replaced {
            conn: e.conn,
            inbox: e.inbox,
            done: e.done,
        });
        (registration, replaced)
    }

    /// The per-device, per-minute bound of what received log records inflate to.
    pub(crate) fn inflate_limits(&self) -> &InflateLimits {
        &self.inflate
    }

    /// Forgets per-device state that has expired at `now` (devices' inflation minutes).
    pub(crate) fn forget_expired(&self, now: std::time::Instant) {
        self.inflate.forget_expired(now);
    }

    /// Wakes the live connection of `device_id`, on this node or (with several nodes) on the
    /// one holding it, to look for new orders.
    pub(crate) fn notify(&self, device_id: &str) {
        self.notify_local(device_id);
        if let Some(remote) = self.remote.get() {
            // A full queue drops the wake-up: the cluster's sweep finds the order.
            let _ = remote.try_send(device_id.to_owned());
        }
    }

    /// Wakes the live connection of `device_id` on this node, if any.
    pub(crate) fn notify_local(&self, device_id: &str) {
        if let Some(entry) = self.lock().get(device_id) {
            entry.inbox.notify.notify_one();
        }
    }

    /// The order hand-offs under way on this node ([`crate::order_handoff`]).
    pub(crate) fn hand_offs(&self) -> &tokio::sync::Semaphore {
        &self.hand_offs
    }

    /// Hands `order` to the live connection of `device_id` on this node when that takes the
    /// device's orders now ([`crate::order_handoff`]); gives it back otherwise, and always with
    /// several nodes (whose wake-ups and leases go through the database).
    pub(crate) fn hand_order(&self, device_id: &str, order: HandedOrder) -> Result<(), HandedOrder> {
        if self.remote.get().is_some() {
            return Err(order);
        }
        match self.lock().get(device_id) {
            Some(entry) if entry.orders_on_ngtt => entry.inbox.offer(order),
            _ => Err(order),
        }
    }

    /// Sends wake-ups for devices connected elsewhere to `remote` too (set once).
    pub(crate) fn set_remote(&self, remote: mpsc::Sender<String>) {
        let _ = self.remote.set(remote);
    }

    /// Stops connection `conn` of `device_id` if it is still the live one (its device was
    /// taken over on another node).
    pub(crate) fn stop(&self, device_id: &str, conn: u64) {
        if let Some(entry) = self.lock().get(device_id).filter(|e| e.conn == conn) {
            entry.inbox.stop();
        }
    }

    /// Stops every live connection (the server shuts down). Call it after cancelling the
    /// shutdown token given to [`Registry::register`], which stops those registered later.
    pub(crate) fn stop_all(&self) {
        for entry in self.lock().values() {
            entry.inbox.stop();
        }
    }

    /// The gate of `device_id`'s order hand-outs. Hold it while marking a connection as taking
    /// orders ([`Registry::set_orders_on_ngtt`]), and while checking
    /// [`Registry::orders_on_ngtt`] and handing orders out over HTTP, so that the two never
    /// interleave: either the HTTP hand-out commits before the connection claims anything, or
    /// it sees the connection and hands nothing out.
    pub(crate) fn order_gate(&self, device_id: &str) -> OrderGate {
        let gate = Arc::clone(lock(&self.gates).entry(device_id.to_owned()).or_default());
        OrderGate {
            gates: Arc::clone(&self.gates),
            device_id: device_id.to_owned(),
            gate: Some(gate),
        }
    }

    /// Records that connection `conn` of `device_id` asked for orders (FETCH_ORDERS).
    pub(crate) fn set_orders_on_ngtt(&self, device_id: &str, conn: u64) {
        if let Some(entry) = self.lock().get_mut(device_id) {
            if entry.conn == conn {
                entry.orders_on_ngtt = true;
            }
        }
    }

    /// Whether `device_id` has a live NGTT connection that asked for orders (or replaced one
    /// that did): its orders are then NGTT's, not the HTTP API's.
    pub(crate) fn orders_on_ngtt(&self, device_id: &str) -> bool {
        self.lock().get(device_id).is_some_and(|e| e.orders_on_ngtt)
    }

    /// Whether `device_id` has a live connection.
    pub(crate) fn is_connected(&self, device_id: &str) -> bool {
        self.lock().contains_key(device_id)
    }

    /// The ids of the devices with a live connection, sorted.
    pub(crate) fn connected(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().keys().cloned().collect();
        ids.sort();
        ids
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.registry.lock();
        if map.get(&self.device_id).is_some_and(|e| e.conn == self.conn) {
            map.remove(&self.device_id);
            crate::memory::shrink_sparse(&mut map);
        }
        drop(map);
        // Orders handed but never taken are queued the usual way by whoever handed them.
        self.inbox.set_open(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Registry {
        fn gates_held(&self) -> usize {
            lock(&self.gates).len()
        }

        fn live(&self) -> usize {
            self.lock().len()
        }
    }

    #[tokio::test]
    async fn a_gate_is_shared_while_held_and_forgotten_after() {
        let registry = Registry::default();
        let first = registry.order_gate("d");
        let second = registry.order_gate("d");
        let held = first.lock().await;
        assert!(
            second.gate.as_ref().unwrap().try_lock().is_err(),
            "one gate for both holders"
        );
        // Another device's gate is free.
        drop(registry.order_gate("e").lock().await);
        assert_eq!(registry.gates_held(), 1, "e's gate went with its last handle");
        drop(held);
        drop(first);
        assert_eq!(registry.gates_held(), 1, "still held by the second");
        let third = registry.order_gate("d");
        let _held = third.lock().await;
        assert!(
            second.gate.as_ref().unwrap().try_lock().is_err(),
            "the third shares it too"
        );
        drop(_held);
        drop((second, third));
        assert_eq!(registry.gates_held(), 0);
    }

    #[tokio::test]
    async fn replacement_and_shutdown_stop_connections_through_their_inbox() {
        let registry = Registry::default();
        let shutdown = CancellationToken::new();
        let (first, _) = registry.register("d", 1, &shutdown);
        let (other, _) = registry.register("e", 2, &shutdown);
        // An order's wake-up is not a stop.
        registry.notify_local("d");
        assert!(!first.inbox.is_stopped());
        let (second, replaced) = registry.register("d", 3, &shutdown);
        let replaced = replaced.expect("d's first connection is replaced");
        assert_eq!(replaced.conn, 1);
        let waiting = tokio::spawn(replaced.stop_and_wait());
        first.inbox.stopped().await;
        assert!(!second.inbox.is_stopped() && !other.inbox.is_stopped());
        drop(first);
        waiting
            .await
            .expect("the replacing connection saw the first one end");

        shutdown.cancel();
        registry.stop_all();
        assert!(second.inbox.is_stopped() && other.inbox.is_stopped());
        let (late, _) = registry.register("f", 4, &shutdown);
        assert!(
            late.inbox.is_stopped(),
            "registered after shutdown: stopped at once"
        );
    }

    #[test]
    fn departed_devices_leave_nothing_behind() {
        let registry = Registry::default();
        let parent = CancellationToken::new();
        let registrations: Vec<_> = (0..5_000)
            .map(|i| {
                let id = format!("device-{i}");
                registry.order_gate(&id);
                registry.register(&id, i, &parent).0
            })
            .collect();
        let full = registry.lock().capacity();
        assert_eq!(registry.live(), 5_000);
        drop(registrations);
        assert_eq!(registry.live(), 0);
        assert_eq!(registry.gates_held(), 0);
        assert!(
            registry.lock().capacity() < full / 10,
            "the table shrank with its devices"
        );
    }
}
