//! Admin endpoints for BAOBs (HTTP-API.md §7.10):
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /v1/devices/{id}/baobs` | `[{"key", "version", "size", "deleted", "updated_at", "updated_by"}]`, tombstones included |
//! | `GET /v1/devices/{id}/baobs/{key}` | the raw bytes, `X-SMOK-BAOB-Version` |
//! | `PUT /v1/devices/{id}/baobs/{key}[?version=N]` | body: the raw bytes (streamed) → `{"key", "version", "size"}`; without `version`, one more than the current (0 for a new key); `409` unless higher |
//! | `DELETE /v1/devices/{id}/baobs/{key}` | keeps a tombstone (devices delete their copy) → `{"key", "version", "deleted": true}` |

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};

use super::handlers::{device_id, params, Params};
use super::reply::ApiError;
use super::AdminState;
use crate::device_api::baobs::{baob_response, refusal};
use crate::storage::baob::{
    valid_baob_key, BaobRecord, BaobWrite, VersionRule, Writer, MAX_BAOBS_PER_DEVICE,
};
use crate::storage::baob_stream::Stager;

type AppState = Arc<AdminState>;

/// The routes; uploads may be `max_baob_len` bytes.
pub(super) fn routes(max_baob_len: u64) -> Router<AppState> {
    let limit = usize::try_from(max_baob_len.saturating_add(1)).unwrap_or(usize::MAX);
    Router::new().route("/v1/devices/{id}/baobs", get(list)).route(
        "/v1/devices/{id}/baobs/{key}",
        get(download)
            .put(upload)
            .delete(remove)
            .layer(DefaultBodyLimit::max(limit)),
    )
}

/// A BAOB record as JSON.
pub(crate) fn record_json(r: &BaobRecord) -> Value {
    json!({
        "key": r.key,
        "version": r.version,
        "size": r.size,
        "deleted": r.deleted,
        "updated_at": r.updated_at_ms,
        "updated_by": r.updated_by.as_str(),
    })
}

fn device_and_key(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), ApiError> {
    let Path((id, key)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let id = device_id(Ok(Path(id)))?;
    valid_baob_key(&key).map_err(ApiError::bad_request)?;
    Ok((id, key))
}

/// `GET /v1/devices/{id}/baobs`.
async fn list(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let device = device_id(path)?;
    let records = state.db.list_baobs(&device).await?;
    Ok(Json(Value::Array(records.iter().map(record_json).collect())))
}

/// `GET /v1/devices/{id}/baobs/{key}`.
async fn download(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (device, key) = device_and_key(path)?;
    match state.db.baob(&device, &key).await? {
        Some(r) if !r.deleted => Ok(baob_response(&state.db, device, &r)),
        Some(r) => Err(ApiError::not_found(format!(
            "BAOB {key:?} of {device:?} was deleted (at version {})",
            r.version
        ))),
        None => Err(ApiError::not_found(format!(
            "device {device:?} has no BAOB {key:?}"
        ))),
    }
}

/// `PUT /v1/devices/{id}/baobs/{key}?version=N`: the body, streamed to storage.
async fn upload(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let (device, key) = device_and_key(path)?;
    let map = params(query, &["version"])?;
    let rule = match map.get("version") {
        None => VersionRule::Next,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => VersionRule::Exactly(n),
            _ => return Err(ApiError::bad_request(format!("invalid version {v:?}"))),
        },
    };
    let mut stager = Stager::new(state.db.clone(), &device, state.max_baob_len);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        stager.push(&chunk).await.map_err(|e| {
            let (code, reason) = e.answer();
            ApiError::new(code, reason)
        })?;
    }
    let size = stager.size();
    let outcome = stager
        .commit(&key, rule, Writer::Admin, MAX_BAOBS_PER_DEVICE)
        .await?;
    match outcome {
        BaobWrite::Stored(version) => {
            tracing::info!(device, key, version, size, "BAOB stored by an operator");
            Ok(Json(json!({"key": key, "version": version, "size": size})).into_response())
        }
        refused => {
            let asked = match rule {
                VersionRule::Exactly(v) | VersionRule::DeviceUpload(v) => v,
                VersionRule::Next => 0,
            };
            let fault = refusal(&key, asked, &refused);
            Err(ApiError::new(fault.status, fault.reason))
        }
    }
}

/// `DELETE /v1/devices/{id}/baobs/{key}`: a tombstone replaces it.
async fn remove(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let (device, key) = device_and_key(path)?;
    let (dev, k) = (device.clone(), key.clone());
    match state.db.delete_baob(&dev, &k, Writer::Admin).await? {
        Some(version) => {
            tracing::info!(
                device,
                key,
                version,
                "BAOB deleted by an operator (tombstone kept)"
            );
            Ok(Json(json!({"key": key, "version": version, "deleted": true})))
        }
        None => Err(ApiError::not_found(format!(
            "device {device:?} has no BAOB {key:?}"
        ))),
    }
}
