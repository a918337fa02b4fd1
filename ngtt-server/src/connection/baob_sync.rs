//! SYNC_BAOB_REQUEST answered from the BAOB store (docs/protocol.md, "BAOB sync"): the same
//! reconcile rules as `POST /v1/device/baobs`, so a device on NGTT learns without polling which
//! BAOBs to fetch and which to send. The contents themselves still travel over the device HTTP
//! API (`GET`/`PUT /v1/device/baobs/{key}`): NGTT has no frames for them.
//!
//! * The request maps each BAOB the device holds to its version. A negative version means "not
//!   held": the key is downloaded if the server has it, and otherwise left alone.
//! * A key that cannot be a BAOB key (see [`valid_baob_key`]) is left out of the answer.
//! * `download`: newer on the server, or held only by the server; `upload`: newer on the
//!   device, or unknown to the server; `delete`: deleted on the server (tombstone), sent only
//!   when not empty, so a device that knows only `download` and `upload` reads the answer as
//!   before.

use std::collections::BTreeMap;

use ngtt_proto::payload::{SyncBaobRequest, SyncBaobResponse};

use crate::storage::baob::{reconcile, valid_baob_key};
use crate::storage::{Storage, StorageError};

/// The answer to `request` from `device_id`, read from `storage`.
pub(crate) fn response(
    storage: &dyn Storage,
    device_id: &str,
    request: &SyncBaobRequest,
) -> Result<SyncBaobResponse, StorageError> {
    let mut held = BTreeMap::new();
    let mut asked = BTreeMap::new();
    for (key, &version) in &request.0 {
        if valid_baob_key(key).is_err() {
            continue;
        }
        if version < 0 {
            asked.insert(key.as_str(), ());
        } else {
            held.insert(key.clone(), version);
        }
    }
    let records = storage.list_baobs(device_id)?;
    let mut plan = reconcile(&held, &records);
    // A key asked about but not held: only a live BAOB of the server is of interest.
    plan.should_upload.retain(|k| !asked.contains_key(k.as_str()));
    Ok(SyncBaobResponse {
        download: plan.should_download,
        upload: plan.should_upload,
        delete: plan.should_delete,
    })
}
