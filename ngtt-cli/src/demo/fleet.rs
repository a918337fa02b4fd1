//! The demo's devices: `smok-client` devices running a real order executor, each recording when
//! its orders arrived.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smok_client::executor::{Executor, HandlerResult, OrderHandler};
use smok_client::orders::{PathpointValue, ReadOrder, WriteOrder};
use smok_client::{DeviceOrders, SmokDevice};
use tokio::task::JoinHandle;

/// When each device saw each order: (device id, order uuid) → arrival.
pub type Arrivals = Arc<Mutex<HashMap<(String, String), Instant>>>;

/// A device program: reads and writes succeed at once; the path of a read tells which of the
/// demo's orders arrived.
struct DemoHandler {
    device_id: String,
    arrivals: Arrivals,
}

impl OrderHandler for DemoHandler {
    async fn read(&self, order: &ReadOrder) -> HandlerResult {
        let key = (self.device_id.clone(), order.path.clone());
        self.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(Instant::now);
        Ok(())
    }

    async fn write(&self, _order: &WriteOrder, _value: PathpointValue) -> HandlerResult {
        Ok(())
    }
}

/// Runs `device`'s orders until its order stream ends.
pub fn run(device: SmokDevice, mut orders: DeviceOrders, arrivals: Arrivals) -> JoinHandle<()> {
    tokio::spawn(async move {
        let executor = Executor::new(DemoHandler {
            device_id: device.identity().device_id.clone(),
            arrivals,
        });
        while let Some(order) = orders.recv().await {
            let done = executor.execute(order).await;
            if let Err(e) = done.answered {
                tracing::warn!(error = %e, "answering an order failed (it will be delivered again)");
            }
        }
    })
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
