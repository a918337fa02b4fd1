//! [`Registry`]: the live connection of each device, so that a new connection replaces the old
//! one and the admin API can wake a connection when an order is queued; and which devices take
//! their orders over NGTT, so that the device HTTP API does not hand the same orders out too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::log_records::InflateLimits;
use crate::order_handoff::{HandedOrder, Inbox};

struct Entry {
    conn: u64,
    stop: CancellationToken,
    inbox: Arc<Inbox>,
    done: watch::Receiver<()>,
    /// The device asked for orders (FETCH_ORDERS) on this connection or on one it replaced.
    orders_on_ngtt: bool,
}

/// Serializes the decisions "orders go over NGTT" and "hand orders out over HTTP" of one
/// device (see [`Registry::order_gate`]).
pub(crate) type OrderGate = Arc<tokio::sync::Mutex<()>>;

/// The live connections, by device id.
#[derive(Clone, Default)]
pub(crate) struct Registry {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
    /// One gate per device that ever took orders over either transport (a few dozen bytes per
    /// device: never removed, so that two holders can never have different gates).
    gates: Arc<Mutex<HashMap<String, OrderGate>>>,
    /// What each device may still inflate of compressed log parts this minute, NGTT and HTTP
    /// together.
    inflate: InflateLimits,
    /// With several nodes: where wake-ups for devices connected elsewhere go (the cluster's
    /// notification sender; bounded, a full queue is left to its periodic sweep).
    remote: Arc<OnceLock<mpsc::Sender<String>>>,
}

/// A connection's place in the registry; dropping it (when the connection task ends) removes
/// the entry if it is still this connection's, then signals "done" to whoever waits for it.
pub(crate) struct Registration {
    registry: Registry,
    device_id: String,
    conn: u64,
    /// Cancelled to stop this connection (replacement or server shutdown).
    pub(crate) stop: CancellationToken,
    /// Notified when an order is queued for the device; holds the orders handed to it.
    pub(crate) inbox: Arc<Inbox>,
    /// Dropped last: closes the channel the replacing connection waits on.
    _done: watch::Sender<()>,
}

/// The connection a new one replaced.
pub(crate) struct Replaced {
    /// Its connection number.
    pub(crate) conn: u64,
    stop: CancellationToken,
    done: watch::Receiver<()>,
}

impl Replaced {
    /// Stops the replaced connection and waits until its task has ended (it finishes a storage
    /// write in progress and sends close_notify, within the close timeout).
    pub(crate) async fn stop_and_wait(mut self) {
        self.stop.cancel();
        // Err once the sender is dropped: that is the signal.
        while self.done.changed().await.is_ok() {}
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes connection `conn` the live one of `device_id`; returns the one it replaces.
    /// `parent` is the server's shutdown token: cancelling it stops every connection.
    pub(crate) fn register(
        &self,
        device_id: &str,
        conn: u64,
        parent: &CancellationToken,
    ) -> (Registration, Option<Replaced>) {
        let stop = parent.child_token();
        let inbox = Arc::new(Inbox::default());
        let (done_tx, done_rx) = watch::channel(());
        let mut map = self.lock();
        // A replacement keeps the device's orders on NGTT: the replaced connection may still
        // have orders in flight until it has stopped.
        let inherited = map.get(device_id).is_some_and(|e| e.orders_on_ngtt);
        let entry = Entry {
            conn,
            stop: stop.clone(),
            inbox: Arc::clone(&inbox),
            done: done_rx,
            orders_on_ngtt: inherited,
        };
        let old = map.insert(device_id.to_owned(), entry);
        drop(map);
        let registration = Registration {
            registry: self.clone(),
            device_id: device_id.to_owned(),
            conn,
            stop,
            inbox,
            _done: done_tx,
        };
        let replaced = old.map(|e| Replaced {
            conn: e.conn,
            stop: e.stop,
            done: e.done,
        });
        (registration, replaced)
    }

    /// The per-device, per-minute bound of what received log records inflate to.
    pub(crate) fn inflate_limits(&self) -> &InflateLimits {
        &self.inflate
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
            entry.stop.cancel();
        }
    }

    /// The gate of `device_id`'s order hand-outs. Hold it while marking a connection as taking
    /// orders ([`Registry::set_orders_on_ngtt`]), and while checking
    /// [`Registry::orders_on_ngtt`] and handing orders out over HTTP, so that the two never
    /// interleave: either the HTTP hand-out commits before the connection claims anything, or
    /// it sees the connection and hands nothing out.
    pub(crate) fn order_gate(&self, device_id: &str) -> OrderGate {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(gates.entry(device_id.to_owned()).or_default())
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
        }
        drop(map);
        // Orders handed but never taken are queued the usual way by whoever handed them.
        self.inbox.set_open(false);
    }
}
