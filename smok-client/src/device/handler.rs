//! [`DeviceHandler`]: orders executed against the device's pathpoint registry.

use ngtt_proto::payload::Sample;

use super::SmokDevice;
use crate::executor::{HandlerError, HandlerResult, OrderHandler};
use crate::orders::{MessageOrder, PathpointValue, ReadOrder, SysctlOrder, WriteOrder};

/// How many times a message report is attempted.
const MESSAGE_ATTEMPTS: u32 = 6;

/// The framework's [`OrderHandler`]: reads and writes go to the device's pathpoints
/// ([`SmokDevice::read`], [`SmokDevice::write`]), their values uploaded by the device; `wait`
/// sleeps; `sysctl` goes to the hook given to
/// [`SmokDeviceBuilder::on_sysctl`](super::SmokDeviceBuilder::on_sysctl) (unsupported without
/// one); `message` is reported to the server (retried with backoff, at most 6 times).
#[derive(Clone, Debug)]
pub struct DeviceHandler {
    device: SmokDevice,
}

impl DeviceHandler {
    pub(crate) fn new(device: SmokDevice) -> Self {
        DeviceHandler { device }
    }
}

impl OrderHandler for DeviceHandler {
    async fn read(&self, order: &ReadOrder) -> HandlerResult {
        match self.device.read(&order.path, order.advise).await? {
            Sample::Value { .. } => Ok(()),
            Sample::Error { error, .. } => Err(HandlerError::new(format!(
                "reading {} failed: {} (recorded)",
                order.path,
                error.as_str()
            ))),
        }
    }

    async fn write(&self, order: &WriteOrder, value: PathpointValue) -> HandlerResult {
        Ok(self.device.write(&order.path, value, order.advise).await?)
    }

    async fn sysctl(&self, order: &SysctlOrder) -> HandlerResult {
        if let Some(done) = crate::baob::handle_sysctl(&self.device, order) {
            return done;
        }
        match &self.device.fw().sysctl {
            Some(hook) => hook(order.clone()).await,
            None => Err(HandlerError::unsupported(format!("sysctl {:?}", order.op_type))),
        }
    }

    async fn message(&self, order: &MessageOrder) -> HandlerResult {
        let mut delay = std::time::Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.device.report_message(&order.uuid).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < MESSAGE_ATTEMPTS && !e.is_clients_fault() => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(10));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
