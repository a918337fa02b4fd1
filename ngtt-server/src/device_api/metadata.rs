//! Plain metadata on the device HTTP API (HTTP-API.md §7.13): `GET`, `PUT` and `DELETE
//! /v1/device/metadata/plain/{key}`. The key is form-quoted (`+` is a space, `%XX` a byte), so it
//! is decoded from the raw path here rather than by the router.
//!
//! * `GET` → `{"value", "timestamp"}`, `404` for a key that does not exist;
//! * `PUT {"value", "unless_timestamp_higher"}` stores the value with that timestamp unless the
//!   stored one is higher (`{"stored": false}` then); without `unless_timestamp_higher` the
//!   server's clock is used and the value always stored;
//! * `DELETE` is idempotent: `200 {"deleted": bool}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::auth::Device;
use super::wire::{decode_body, Fault, Format};
use super::DeviceApiState;
use crate::storage::baob::Writer;
use crate::storage::macros::timestamp_json;
use crate::storage::metadata::{valid_metadata_key, valid_metadata_value, MetadataWrite, MAX_METADATA_VALUE};

type AppState = Arc<DeviceApiState>;

const PREFIX: &str = "/v1/device/metadata/plain/";

/// The routes; a `PUT` body is at most a little over the longest value.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/device/metadata/plain/{key}",
        get(read)
            .put(write)
            .delete(remove)
            .layer(DefaultBodyLimit::max(MAX_METADATA_VALUE + 4096)),
    )
}

/// The key of a request: the raw path segment, form-decoded (`+` → space, then `%XX`).
pub(crate) fn form_decoded_key(uri: &Uri) -> Result<String, Fault> {
    let raw = uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let plus = raw.replace('+', " ");
    let key = percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map_err(|_| Fault::bad_request("the metadata key is not UTF-8 once decoded"))?
        .into_owned();
    valid_metadata_key(&key).map_err(Fault::bad_request)?;
    Ok(key)
}

/// Epoch seconds now.
pub(crate) fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `GET /v1/device/metadata/plain/{key}`.
async fn read(State(state): State<AppState>, format: Format, Device(id): Device, uri: Uri) -> Response {
    let result = async {
        let key = form_decoded_key(&uri)?;
        let (device, k) = (id.device_id, key.clone());
        match state.db.metadata(&device, &k).await? {
            Some(entry) => Ok(json!({"value": entry.value, "timestamp": timestamp_json(entry.timestamp)})),
            None => Err(Fault::new(
                StatusCode::NOT_FOUND,
                format!("no metadata key {key:?}"),
            )),
        }
    };
    format.answer(result.await)
}

/// A `PUT` body.
#[derive(Debug, Deserialize)]
struct Put {
    value: String,
    unless_timestamp_higher: Option<f64>,
}

/// `PUT /v1/device/metadata/plain/{key}`.
async fn write(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let key = form_decoded_key(&uri)?;
        let put: Put = decode_body(&headers, body).map_err(|f| {
            Fault::new(
                f.status,
                format!(
                    "expected {{\"value\": str, \"unless_timestamp_higher\": number}}: {}",
                    f.reason
                ),
            )
        })?;
        valid_metadata_value(&put.value).map_err(Fault::bad_request)?;
        let (timestamp, conditional) = match put.unless_timestamp_higher {
            Some(ts) if ts.is_finite() && ts >= 0.0 => (ts, true),
            Some(ts) => {
                return Err(Fault::bad_request(format!(
                    "unless_timestamp_higher {ts} is not a time in epoch seconds"
                )))
            }
            None => (now_seconds(), false),
        };
        let (device, k) = (id.device_id.clone(), key.clone());
        let stored = state
            .db
            .call(move |s| {
                let write = MetadataWrite {
                    key: &k,
                    value: &put.value,
                    timestamp,
                    unless_higher: conditional,
                    by: Writer::Device,
                };
                s.put_metadata(&device, &write)
            })
            .await?;
        tracing::debug!(
            device = id.device_id,
            key,
            stored,
            "metadata written by the device"
        );
        Ok(json!({"stored": stored}))
    };
    format.answer(result.await)
}

/// `DELETE /v1/device/metadata/plain/{key}`.
async fn remove(State(state): State<AppState>, format: Format, Device(id): Device, uri: Uri) -> Response {
    let result = async {
        let key = form_decoded_key(&uri)?;
        let device = id.device_id;
        let deleted = state.db.delete_metadata(&device, &key).await?;
        Ok(json!({"deleted": deleted}))
    };
    format.answer(result.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_decoded() {
        let uri: Uri = "/v1/device/metadata/plain/key+with+space%2Fslash%2B"
            .parse()
            .unwrap();
        assert_eq!(form_decoded_key(&uri).unwrap(), "key with space/slash+");
        let bad: Uri = "/v1/device/metadata/plain/%FF".parse().unwrap();
        assert!(form_decoded_key(&bad).is_err());
        let empty: Uri = "/v1/device/metadata/plain/%0A".parse().unwrap();
        assert!(form_decoded_key(&empty).is_err());
    }
}
