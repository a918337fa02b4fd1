//! Slave devices (HTTP-API.md §7.14): devices behind this one, listed in the device's settings
//! (`slave_devices` of `GET /v1/device`), each with a link state and free-text
//! instrumentation kept on the server, read and patched through [`Slave`].
//!
//! Unlike the published client, nothing is cached (each read asks the server, so a change made
//! elsewhere is seen), both fields are always parsed the same way (it caches the raw text when
//! `instrumentation` is read first), and a failed patch is returned to the caller after 3
//! attempts rather than swallowed.

use ngtt_proto::Escaped;
use smok_http::{SlaveDevice, SlaveLinkState};

use crate::error::Result;
use crate::SmokDevice;

/// What the server holds about a slave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instrumentation {
    /// The link state; `None` when the server's text is not a link-state object (logged).
    pub linkstate: Option<SlaveLinkState>,
    /// Free text describing the slave's condition.
    pub instrumentation: String,
}

/// A slave device of this device.
#[derive(Clone, Debug)]
pub struct Slave {
    device: SmokDevice,
    id: String,
    info: Option<SlaveDevice>,
}

impl Slave {
    /// The slave's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its settings as the server lists them (master controller, responsible service,
    /// configuration); `None` for a handle made by [`SmokDevice::slave`].
    pub fn info(&self) -> Option<&SlaveDevice> {
        self.info.as_ref()
    }

    /// Reads the link state and instrumentation (`GET /v1/device/instrumentation/{id}`).
    pub async fn instrumentation(&self) -> Result<Instrumentation> {
        let ctx = self.device.sync_ctx();
        let result = ctx.http.instrumentation(self.id()).await;
        ctx.health.record(&result);
        let raw = result?;
        let linkstate = match serde_json::from_str::<SlaveLinkState>(&raw.linkstate) {
            Ok(state) => Some(state),
            Err(e) => {
                if !raw.linkstate.is_empty() {
                    tracing::warn!(slave = %Escaped(self.id()), error = %e, "the slave's link state is not a link-state object");
                }
                None
            }
        };
        Ok(Instrumentation {
            linkstate,
            instrumentation: raw.instrumentation,
        })
    }

    /// Sets the link state on the server.
    pub async fn set_linkstate(&self, state: &SlaveLinkState) -> Result<()> {
        let http = &self.device.sync_ctx().http;
        self.device
            .retrying(|| http.patch_linkstate(self.id(), state))
            .await
    }

    /// Sets the instrumentation text on the server.
    pub async fn set_instrumentation(&self, text: &str) -> Result<()> {
        let http = &self.device.sync_ctx().http;
        self.device
            .retrying(|| http.patch_instrumentation(self.id(), text))
            .await
    }
}

impl SmokDevice {
    /// The device's slaves, from its settings (`GET /v1/device`; the Python client's
    /// `get_slaves()`).
    pub async fn slaves(&self) -> Result<Vec<Slave>> {
        let info = self.device_info().await?;
        Ok(info
            .slave_devices
            .into_iter()
            .map(|info| Slave {
                device: self.clone(),
                id: info.device_id.clone(),
                info: Some(info),
            })
            .collect())
    }

    /// A handle of slave `id` without asking the server for the list (the server refuses ids
    /// that are not the device's slaves).
    pub fn slave(&self, id: impl Into<String>) -> Slave {
        Slave {
            device: self.clone(),
            id: id.into(),
            info: None,
        }
    }
}
