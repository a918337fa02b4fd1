//! Orders handed from the admin API straight to the device's connection, so that the order's
//! insert and the connection's claim share one commit (docs/delivery-guarantees.md, "Orders
//! queued for a connected device").
//!
//! Without a hand-off an order queued for a connected device takes two commits, one after the
//! other, before its ORDER goes out: the admin's insert, then (woken by it) the connection's
//! claim. When the device's live connection on this node takes orders, [`queue_order`] instead
//! puts the order in the connection's [`Inbox`]; the connection inserts it and claims in one
//! transaction (its claim takes every pending order after its cursor, the new one included,
//! so queue order and the window hold as for any claim), and the admin is answered once that
//! committed. An order the connection does not take — it stopped, or ended, before the
//! insert started — is declined and queued the usual way.
//!
//! At most [`MAX_HAND_OFFS`] hand-offs are under way at once on a node; the orders of a burst
//! beyond them take the usual way, which pipelines better there (see [`MAX_HAND_OFFS`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{oneshot, Notify};

use crate::registry::Registry;
use crate::storage::{OrderId, StorageError, Store};

/// What became of a handed order.
#[derive(Debug)]
pub(crate) enum Handed {
    /// Inserted (committed) with this id.
    Queued(OrderId),
    /// Its insert failed: nothing was stored.
    Failed(StorageError),
    /// The connection did not take it (nothing was stored): queue it the usual way.
    Declined,
}

/// An order offered to a connection; dropped untaken, it answers [`Handed::Declined`].
pub(crate) struct HandedOrder {
    sections: Bytes,
    reply: Option<oneshot::Sender<Handed>>,
}

/// The answer to a handed order that is being inserted: dropping it unanswered (the insert's
/// outcome never known) answers nothing, and the admin reports the order's fate as unknown.
#[derive(Debug)]
pub(crate) struct Answer(oneshot::Sender<Handed>);

impl HandedOrder {
    /// An order with the ORDER payload `sections`, and where its fate will be told.
    pub(crate) fn new(sections: Bytes) -> (HandedOrder, oneshot::Receiver<Handed>) {
        let (reply, fate) = oneshot::channel();
        let order = HandedOrder {
            sections,
            reply: Some(reply),
        };
        (order, fate)
    }

    /// Takes the order to insert it: its payload, and the answer to give once the insert
    /// committed or failed.
    pub(crate) fn take(mut self) -> (Bytes, Answer) {
        let reply = self.reply.take().expect("a handed order is taken once");
        (std::mem::take(&mut self.sections), Answer(reply))
    }
}

impl Answer {
    /// Tells the admin what became of the insert.
    pub(crate) fn send(self, result: Result<OrderId, StorageError>) {
        let _ = self.0.send(match result {
            Ok(id) => Handed::Queued(id),
            Err(e) => Handed::Failed(e),
        });
    }
}

impl Drop for HandedOrder {
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Handed::Declined);
        }
    }
}

impl std::fmt::Debug for HandedOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandedOrder")
            .field("bytes", &self.sections.len())
            .finish()
    }
}

/// A connection's one wake-up: for new orders, for the orders handed to it while it takes them,
/// and to stop (it was replaced, or the server shuts down).
///
/// One [`Notify`] for all three, so that a connection's task polls one waiter per turn (an idle
/// connection's turn is a PING and its PONG; a second waiter, such as a cancellation token of
/// its own, cost every such turn two more locks and a few cold cache lines, for a signal that
/// comes once in the connection's life). Woken, the connection reads [`Inbox::is_stopped`]
/// before anything else.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    /// Notified when an order is queued or handed for the device, and when it is to stop.
    pub(crate) notify: Notify,
    stopped: AtomicBool,
    state: Mutex<InboxState>,
}

#[derive(Debug, Default)]
struct InboxState {
    /// The connection takes handed orders now.
    open: bool,
    orders: Vec<HandedOrder>,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands `order` to the connection, if it takes orders now.
    pub(crate) fn offer(&self, order: HandedOrder) -> Result<(), HandedOrder> {
        let mut state = self.lock();
        if !state.open {
            return Err(order);
        }
        state.orders.push(order);
        drop(state);
        self.notify.notify_one();
        Ok(())
    }

    /// Opens or closes the inbox; closing declines what it holds.
    pub(crate) fn set_open(&self, open: bool) {
        let declined = {
            let mut state = self.lock();
            state.open = open;
            if open {
                return;
            }
            std::mem::take(&mut state.orders)
        };
        drop(declined);
    }

    /// Tells the connection to stop. It stops once, however often this is called.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Whether the connection was told to stop.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Waits until the connection is told to stop (for tests: a connection's task waits on
    /// [`Inbox::notify`] for everything at once).
    #[cfg(test)]
    pub(crate) async fn stopped(&self) {
        while !self.is_stopped() {
            self.notify.notified().await;
        }
    }

    /// The orders handed so far, in the order they were handed.
    pub(crate) fn take(&self) -> Vec<HandedOrder> {
        std::mem::take(&mut self.lock().orders)
    }
}

/// Most hand-offs under way at once on one node (the permits of [`Registry::hand_offs`]).
///
/// A hand-off saves a lone order one commit, but the admin request's answer then waits for the
/// connection's claim as well as for the insert. In a burst (one order to each of many devices,
/// many admin requests in flight) the usual way moves more orders per second: each request is
/// answered at its insert's commit while the woken connections claim on their own, and group
/// commit already shares the commits among the burst's orders. Measured with `ngtt bench fleet`
/// (docs/benchmarks.md, "The order hand-off in a burst"): uncapped, the fan-out ran at 0.83–0.92x
/// the usual way's rate; capped at 4 it is at the usual way's rate, and paced orders (one in
/// flight) keep the hand-off's shorter latency.
pub(crate) const MAX_HAND_OFFS: usize = 4;

/// Queues an order for `device_id`: handed to its live connection when that takes orders
/// (one commit with the connection's claim) while fewer than [`MAX_HAND_OFFS`] are, else
/// inserted and the connection woken. `Ok` once the order is committed.
pub(crate) async fn queue_order(
    db: &Store,
    registry: &Registry,
    device_id: &str,
    sections: Bytes,
) -> Result<OrderId, StorageError> {
    // The permit is held until the handed order's fate is known.
    if let Ok(_permit) = registry.hand_offs().try_acquire() {
        let (order, fate) = HandedOrder::new(sections.clone());
        if registry.hand_order(device_id, order).is_ok() {
            match fate.await {
                Ok(Handed::Queued(id)) => return Ok(id),
                Ok(Handed::Failed(e)) => return Err(e),
                Ok(Handed::Declined) => {}
                Err(_) => {
                    return Err(StorageError::Task(
                        "the connection ended while queueing the order: it may or may not be queued".into(),
                    ))
                }
            }
        }
    }
    let id = db.queue_order(device_id, sections).await?;
    // Committed: now wake the device's connection, if it has one.
    registry.notify(device_id);
    Ok(id)
}

/// Queues each `(device, sections)` of a batch in one commit (never handed: in a burst the
/// usual way moves more orders per second, see [`MAX_HAND_OFFS`]), then wakes the connection
/// of each device whose order was queued. Each order has its own outcome.
pub(crate) async fn queue_orders(
    db: &Store,
    registry: &Registry,
    orders: Vec<(String, Bytes)>,
) -> Result<Vec<(String, Result<OrderId, StorageError>)>, StorageError> {
    let devices: Vec<String> = orders.iter().map(|(device, _)| device.clone()).collect();
    let outcomes = db.queue_orders(orders).await?;
    // Committed: now wake the devices' connections.
    for (device, outcome) in devices.iter().zip(&outcomes) {
        if outcome.is_ok() {
            registry.notify(device);
        }
    }
    Ok(devices.into_iter().zip(outcomes).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_declined_when_dropped_untaken_or_offered_to_a_closed_inbox() {
        let inbox = Inbox::default();
        let (order, mut fate) = HandedOrder::new(Bytes::from_static(b"[1]"));
        let order = inbox.offer(order).expect_err("closed until opened");
        drop(order);
        assert!(matches!(fate.try_recv(), Ok(Handed::Declined)));

        inbox.set_open(true);
        let (order, mut fate) = HandedOrder::new(Bytes::from_static(b"[2]"));
        inbox.offer(order).expect("open");
        assert!(fate.try_recv().is_err(), "not answered while held");
        inbox.set_open(false);
        assert!(
            matches!(fate.try_recv(), Ok(Handed::Declined)),
            "closing declines"
        );
        assert!(inbox.take().is_empty());
    }

    #[test]
    fn hand_offs_are_capped_and_their_slots_given_back() {
        let registry = Registry::default();
        let hand_offs = registry.hand_offs();
        let slots: Vec<_> = (0..MAX_HAND_OFFS).map(|_| hand_offs.try_acquire()).collect();
        assert!(slots.iter().all(Result::is_ok));
        assert!(hand_offs.try_acquire().is_err(), "full");
        drop(slots);
        let again: Vec<_> = (0..MAX_HAND_OFFS)
            .filter_map(|_| hand_offs.try_acquire().ok())
            .collect();
        assert_eq!(again.len(), MAX_HAND_OFFS, "every slot given back");
    }

    #[test]
    fn a_taken_order_is_answered_with_its_insert_or_not_at_all() {
        let inbox = Inbox::default();
        inbox.set_open(true);
        let (a, mut fate_a) = HandedOrder::new(Bytes::from_static(b"[1]"));
        let (b, mut fate_b) = HandedOrder::new(Bytes::from_static(b"[2]"));
        inbox.offer(a).unwrap();
        inbox.offer(b).unwrap();
        let taken: Vec<_> = inbox.take().into_iter().map(HandedOrder::take).collect();
        let mut taken = taken.into_iter();
        let (sections, answer) = taken.next().unwrap();
        assert_eq!(sections, Bytes::from_static(b"[1]"), "in the order handed");
        answer.send(Ok(7));
        assert!(matches!(fate_a.try_recv(), Ok(Handed::Queued(7))));
        // Taken, then its insert's outcome never known: no answer, not "declined".
        drop(taken);
        assert!(matches!(
            fate_b.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }
}
