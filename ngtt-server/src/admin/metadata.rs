//! Admin endpoints for plain metadata (HTTP-API.md §7.13):
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /v1/devices/{id}/metadata` | `[{"key", "value", "timestamp", "updated_at", "updated_by"}]` |
//! | `GET /v1/devices/{id}/metadata/{key}` | one entry; `404` when absent |
//! | `PUT /v1/devices/{id}/metadata/{key}` | body `{"value": str, "timestamp"?: seconds}` (default: now) → the entry; always stored |
//! | `DELETE /v1/devices/{id}/metadata/{key}` | `{"key", "deleted": bool}` (idempotent) |
//!
//! The key is one path segment, percent-encoded as usual (`%2F` for `/`, `%20` for a space).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::handlers::device_id;
use super::reply::ApiError;
use super::AdminState;
use crate::device_api::metadata::now_seconds;
use crate::storage::baob::Writer;
use crate::storage::macros::timestamp_json;
use crate::storage::metadata::{valid_metadata_key, valid_metadata_value, MetadataEntry, MetadataWrite};

type AppState = Arc<AdminState>;
type Answer = Result<Json<Value>, ApiError>;

/// The routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/devices/{id}/metadata", get(list)).route(
        "/v1/devices/{id}/metadata/{key}",
        get(one).put(put).delete(remove),
    )
}

fn entry_json(e: &MetadataEntry) -> Value {
    json!({
        "key": e.key,
        "value": e.value,
        "timestamp": timestamp_json(e.timestamp),
        "updated_at": e.updated_at_ms,
        "updated_by": e.updated_by.as_str(),
    })
}

fn device_and_key(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), ApiError> {
    let Path((id, key)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let id = device_id(Ok(Path(id)))?;
    valid_metadata_key(&key).map_err(ApiError::bad_request)?;
    Ok((id, key))
}

/// `GET /v1/devices/{id}/metadata`.
async fn list(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> Answer {
    let device = device_id(path)?;
    let entries = state.db.list_metadata(&device).await?;
    Ok(Json(Value::Array(entries.iter().map(entry_json).collect())))
}

/// `GET /v1/devices/{id}/metadata/{key}`.
async fn one(State(state): State<AppState>, path: Result<Path<(String, String)>, PathRejection>) -> Answer {
    let (device, key) = device_and_key(path)?;
    match state.db.metadata(&device, &key).await? {
        Some(entry) => Ok(Json(entry_json(&entry))),
        None => Err(ApiError::not_found(format!(
            "device {device:?} has no metadata key {key:?}"
        ))),
    }
}

/// A `PUT` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Put {
    value: String,
    timestamp: Option<f64>,
}

/// `PUT /v1/devices/{id}/metadata/{key}`.
async fn put(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (device, key) = device_and_key(path)?;
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let given: Put = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"value\": str, \"timestamp\"?: seconds}}: {e}"
        ))
    })?;
    valid_metadata_value(&given.value).map_err(ApiError::bad_request)?;
    let timestamp = match given.timestamp {
        None => now_seconds(),
        Some(t) if t.is_finite() && t >= 0.0 => t,
        Some(t) => {
            return Err(ApiError::bad_request(format!(
                "timestamp {t} is not epoch seconds"
            )))
        }
    };
    let (dev, k) = (device.clone(), key.clone());
    let entry = state
        .db
        .call(move |s| {
            let write = MetadataWrite {
                key: &k,
                value: &given.value,
                timestamp,
                unless_higher: false,
                by: Writer::Admin,
            };
            s.put_metadata(&dev, &write)?;
            s.metadata(&dev, &k)
        })
        .await?;
    tracing::info!(device, key, "metadata set by an operator");
    entry
        .map(|e| Json(entry_json(&e)))
        .ok_or_else(|| ApiError::not_found(format!("metadata key {key:?} was deleted meanwhile")))
}

/// `DELETE /v1/devices/{id}/metadata/{key}`.
async fn remove(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (device, key) = device_and_key(path)?;
    let deleted = state.db.delete_metadata(&device, &key).await?;
    Ok(Json(json!({"key": key, "deleted": deleted})))
}
