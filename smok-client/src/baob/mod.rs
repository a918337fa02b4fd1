//! BAOBs (HTTP-API.md §7.10): versioned binary objects shared both ways with the server, kept
//! in the device's store ([`crate::store::BaobStore`]) and synced by rounds.
//!
//! A round lists every BAOB the device holds with its version; the server answers what to
//! delete, download and upload (over NGTT with SYNC_BAOB_REQUEST when the device uses NGTT and
//! the connection answers, else over HTTP `POST /v1/device/baobs`); the bytes travel over HTTP. A round runs at
//! the client's start, every `baob_sync_interval` (3600 s) from then, right after a local write
//! ([`SmokDevice::set_baob`](crate::SmokDevice::set_baob)) and on a `sysctl baob-updated` or
//! `baob-created` order; `sysctl baob-deleted` deletes its key locally. Every change the server
//! makes reaches the program's callback
//! ([`SmokDeviceBuilder::on_baob_changed`](crate::SmokDeviceBuilder::on_baob_changed)) — in
//! every round, unlike the published client, which stays silent in its first round and in
//! rounds a sysctl started.

mod plan;
mod round;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

pub use plan::is_valid_key;
pub(crate) use round::run_rounds;

use crate::error::{ClientError, Result};
use crate::executor::HandlerResult;
use crate::orders::SysctlOrder;
use crate::store::StoredBaob;
use crate::SmokDevice;

/// The default largest BAOB downloaded (64 MiB, the server's default limit): a larger one is
/// skipped (logged).
pub const DEFAULT_MAX_BAOB_LEN: usize = 64 << 20;

/// The default interval between two BAOB rounds.
pub const DEFAULT_BAOB_SYNC: Duration = Duration::from_secs(3600);

/// A change the server made to the device's BAOBs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaobChange {
    /// A newer copy was downloaded and stored.
    Updated {
        /// The BAOB's key.
        key: String,
        /// The version now held.
        version: i64,
    },
    /// The BAOB was deleted (on the server, or by a `sysctl baob-deleted`).
    Deleted {
        /// The BAOB's key.
        key: String,
    },
}

/// What the program is told when the server changes a BAOB (see
/// [`SmokDeviceBuilder::on_baob_changed`](crate::SmokDeviceBuilder::on_baob_changed)). Called on
/// the sync task: it should return quickly (spawn longer work).
pub type BaobHook = Arc<dyn Fn(BaobChange) + Send + Sync>;

/// The BAOB side of a device: the callback, what wakes the round, whether a round succeeded.
pub(crate) struct BaobState {
    pub(crate) hook: Option<BaobHook>,
    pub(crate) interval: Duration,
    pub(crate) max_len: usize,
    pub(crate) wake: Notify,
    /// Rounds completed since the start.
    pub(crate) rounds: watch::Sender<u64>,
}

impl std::fmt::Debug for BaobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaobState")
            .field("interval", &self.interval)
            .field("rounds", &*self.rounds.borrow())
            .finish_non_exhaustive()
    }
}

impl BaobState {
    pub(crate) fn new(hook: Option<BaobHook>, interval: Duration, max_len: usize) -> Self {
        BaobState {
            hook,
            interval,
            max_len,
            wake: Notify::new(),
            rounds: watch::Sender::new(0),
        }
    }

    pub(crate) fn notify(&self, change: BaobChange) {
        tracing::info!(?change, "BAOB changed by the server");
        if let Some(hook) = &self.hook {
            hook(change);
        }
    }
}

/// The `baob-*` sysctls the framework acts on itself (HTTP-API.md §9): `None` for others.
pub(crate) fn handle_sysctl(device: &SmokDevice, order: &SysctlOrder) -> Option<HandlerResult> {
    let state = &device.extras().baob;
    match order.op_type.as_str() {
        "baob-updated" | "baob-created" => {
            state.wake.notify_one();
            Some(Ok(()))
        }
        "baob-deleted" => {
            let key = order.op_args.as_str();
            Some(match device.fw().store.delete_baob(key) {
                Ok(true) => {
                    state.notify(BaobChange::Deleted { key: key.to_owned() });
                    Ok(())
                }
                Ok(false) => Ok(()),
                Err(e) => Err(ClientError::from(e).into()),
            })
        }
        _ => None,
    }
}

impl SmokDevice {
    /// The BAOB `key`, if the device holds it.
    pub fn baob(&self, key: &str) -> Result<Option<StoredBaob>> {
        Ok(self.fw().store.get_baob(key)?)
    }

    /// Every BAOB the device holds: key and version, sorted by key.
    pub fn baobs(&self) -> Result<Vec<(String, i64)>> {
        Ok(self.fw().store.baob_versions()?)
    }

    /// Stores `data` as BAOB `key` (version + 1, or 0 for a new key) and starts a round, which
    /// uploads it. Returns the new version. The write is in the store before this returns: a
    /// restart before the upload uploads it then. Fails on a key that cannot be a BAOB key
    /// ([`is_valid_key`]).
    pub fn set_baob(&self, key: &str, data: &[u8]) -> Result<i64> {
        if !self.extras().baobs_on {
            return Err(ClientError::Config(
                "BAOBs are turned off (SmokDeviceBuilder::baobs(false))".into(),
            ));
        }
        if !is_valid_key(key) {
            return Err(ClientError::Config(format!(
                "{:?} cannot be a BAOB key (1–255 bytes, no spaces, control characters or / ? # % \\)",
                key
            )));
        }
        let version = self.fw().store.write_baob(key, data)?;
        self.extras().baob.wake.notify_one();
        Ok(version)
    }

    /// Starts a BAOB round now (as a `sysctl baob-updated` does).
    pub fn sync_baobs(&self) {
        self.extras().baob.wake.notify_one();
    }

    /// Watches how many BAOB rounds have completed since the start (the Python client's
    /// `baobs_loaded` is `*rounds.borrow() > 0`, except that a failed round does not count).
    pub fn watch_baob_rounds(&self) -> watch::Receiver<u64> {
        self.extras().baob.rounds.subscribe()
    }
}
