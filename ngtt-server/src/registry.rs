//! [`Registry`]: the live connection of each device, so that a new connection replaces the old
//! one and the admin API can wake a connection when an order is queued.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

struct Entry {
    conn: u64,
    stop: CancellationToken,
    notify: Arc<Notify>,
    done: watch::Receiver<()>,
}

/// The live connections, by device id.
#[derive(Clone, Default)]
pub(crate) struct Registry {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
}

/// A connection's place in the registry; dropping it (when the connection task ends) removes
/// the entry if it is still this connection's, then signals "done" to whoever waits for it.
pub(crate) struct Registration {
    registry: Registry,
    device_id: String,
    conn: u64,
    /// Cancelled to stop this connection (replacement or server shutdown).
    pub(crate) stop: CancellationToken,
    /// Notified when an order is queued for the device.
    pub(crate) notify: Arc<Notify>,
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
        let notify = Arc::new(Notify::new());
        let (done_tx, done_rx) = watch::channel(());
        let entry = Entry {
            conn,
            stop: stop.clone(),
            notify: Arc::clone(&notify),
            done: done_rx,
        };
        let old = self.lock().insert(device_id.to_owned(), entry);
        let registration = Registration {
            registry: self.clone(),
            device_id: device_id.to_owned(),
            conn,
            stop,
            notify,
            _done: done_tx,
        };
        let replaced = old.map(|e| Replaced {
            conn: e.conn,
            stop: e.stop,
            done: e.done,
        });
        (registration, replaced)
    }

    /// Wakes the live connection of `device_id`, if any, to look for new orders.
    pub(crate) fn notify(&self, device_id: &str) {
        if let Some(entry) = self.lock().get(device_id) {
            entry.notify.notify_one();
        }
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
    }
}
