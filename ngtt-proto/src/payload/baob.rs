//! SYNC_BAOB payloads (NGTT.md §3): which binary objects to download, upload and delete
//! (docs/protocol.md, "BAOB sync").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// SYNC_BAOB_REQUEST: the device's BAOB names and the version it holds of each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SyncBaobRequest(pub BTreeMap<String, i64>);

/// SYNC_BAOB_RESPONSE: which BAOBs the device should download, and which it should upload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncBaobResponse {
    /// BAOBs newer on the server.
    #[serde(default)]
    pub download: Vec<String>,
    /// BAOBs newer on the device.
    #[serde(default)]
    pub upload: Vec<String>,
    /// BAOBs deleted on the server (an extension of NGTT.md's `{"download", "upload"}`: sent
    /// only when not empty, and ignored by peers that do not know it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete: Vec<String>,
}
