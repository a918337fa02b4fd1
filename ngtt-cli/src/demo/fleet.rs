//! The demo's devices: `smok-client` devices on its framework — their `W…` pathpoints made on
//! demand by a provider, orders executed against them by the framework's executor, read values
//! uploaded by the framework — each recording when its orders arrived.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smok_client::orders::{Advise, PathpointValue};
use smok_client::pathpoint::{Pathpoint, PathpointIo, PathpointProvider};
use smok_client::{DeviceOrders, ReadError, SmokDevice};
use tokio::task::JoinHandle;

/// When each device saw each order: (device id, order uuid) → arrival.
pub type Arrivals = Arc<Mutex<HashMap<(String, String), Instant>>>;

/// A device's pathpoints: reads and writes succeed at once; the path of a read tells which of
/// the demo's orders arrived.
#[derive(Clone)]
struct DemoPathpoints {
    device_id: String,
    arrivals: Arrivals,
}

impl PathpointIo for DemoPathpoints {
    async fn read(&self, path: &str, _advise: Advise) -> Result<PathpointValue, ReadError> {
        let key = (self.device_id.clone(), path.to_owned());
        self.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(Instant::now);
        Ok(PathpointValue::Int(1))
    }

    async fn write(&self, _path: &str, _value: PathpointValue, _advise: Advise) -> Result<(), ReadError> {
        Ok(())
    }
}

impl PathpointProvider for DemoPathpoints {
    fn provide(&self, path: &str) -> Option<Pathpoint> {
        path.starts_with('W').then(|| Pathpoint::new(path, self.clone()))
    }
}

/// The provider of `device_id`'s pathpoints, recording arrivals in `arrivals`.
pub fn pathpoints(device_id: &str, arrivals: Arrivals) -> impl PathpointProvider {
    DemoPathpoints {
        device_id: device_id.to_owned(),
        arrivals,
    }
}

/// Runs `device`'s orders through the framework until its order stream ends.
pub fn run(device: &SmokDevice, orders: DeviceOrders) -> JoinHandle<()> {
    device.spawn_order_executor(orders)
}

/// Waits until every device's link is up, or `timeout` passes.
pub async fn wait_up(devices: &[SmokDevice], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    for device in devices {
        let mut state = device.watch_link_state();
        loop {
            if state.borrow_and_update().is_up() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, state.changed()).await.is_err() {
                return false;
            }
        }
    }
    true
}
