//! Admin endpoints for a device's information (what `GET /v1/device` serves) and its slave
//! devices' instrumentation.
//!
//! * `GET /v1/devices/{id}/info`: the document the device receives.
//! * `PUT /v1/devices/{id}/info`: replaces it (fields not given take their defaults).
//! * `PATCH /v1/devices/{id}/info`: changes the fields given (`culture_context` key by key).
//! * `GET`, `PATCH /v1/devices/{id}/slaves/{slave}/instrumentation`.
//!
//! `/v1/devices/{id}/settings` is kept as an alias of `/info` (GET and PUT) for scripts
//! written against the earlier release.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::handlers::device_id;
use super::reply::ApiError;
use super::AdminState;
use crate::storage::device_info::{ident, DeviceInfo, Instrumentation, InstrumentationPatch};

type AppState = Arc<AdminState>;
type Answer = Result<Json<Value>, ApiError>;

/// The body as JSON.
pub(super) fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// `GET /v1/devices/{id}/info`.
pub(super) async fn get_info(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let device = device_id(path)?;
    let info = state.db.device_info(&device).await?;
    Ok(Json(info.document(&device)))
}

async fn store(state: &AdminState, device: String, info: DeviceInfo) -> Answer {
    state.db.set_device_info(&device, &info).await?;
    tracing::info!(device, "device information changed");
    Ok(Json(info.document(&device)))
}

/// `PUT /v1/devices/{id}/info`: replaces the information.
pub(super) async fn put_info(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let device = device_id(path)?;
    let given = json_body(body)?;
    let mut info = DeviceInfo::default();
    info.apply(&device, &given).map_err(ApiError::bad_request)?;
    store(&state, device, info).await
}

/// `PATCH /v1/devices/{id}/info`: changes the fields given.
pub(super) async fn patch_info(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let device = device_id(path)?;
    let given = json_body(body)?;
    let mut info = state.db.device_info(&device).await?;
    info.apply(&device, &given).map_err(ApiError::bad_request)?;
    store(&state, device, info).await
}

fn slave_path(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), ApiError> {
    let Path((device, slave)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    ident(&device, "device id").map_err(ApiError::bad_request)?;
    ident(&slave, "slave id").map_err(ApiError::bad_request)?;
    Ok((device, slave))
}

fn instrumentation_json(i: Instrumentation) -> Value {
    let parsed: Value = serde_json::from_str(&i.linkstate).unwrap_or(Value::Null);
    json!({"linkstate": i.linkstate, "linkstate_parsed": parsed, "instrumentation": i.instrumentation})
}

/// `GET /v1/devices/{id}/slaves/{slave}/instrumentation`.
pub(super) async fn get_instrumentation(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (device, slave) = slave_path(path)?;
    let found = state.db.instrumentation(&device, &slave).await?;
    found
        .map(|i| Json(instrumentation_json(i)))
        .ok_or_else(|| ApiError::not_found(format!("device {device:?} has no slave device {slave:?}")))
}

/// `PATCH /v1/devices/{id}/slaves/{slave}/instrumentation`: `{"linkstate"?, "instrumentation"?}`
/// as a device sends them; `linkstate` may also be given as an object.
pub(super) async fn patch_instrumentation(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (device, slave) = slave_path(path)?;
    let mut given = json_body(body)?;
    if let Some(ls) = given.get_mut("linkstate").filter(|v| v.is_object()) {
        *ls = Value::String(ls.to_string());
    }
    let patch = InstrumentationPatch::from_json(&given).map_err(ApiError::bad_request)?;
    let (d, s2) = (device.clone(), slave.clone());
    let stored = state.db.patch_instrumentation(&d, &s2, &patch).await?;
    stored
        .map(|i| Json(instrumentation_json(i)))
        .ok_or_else(|| ApiError::not_found(format!("device {device:?} has no slave device {slave:?}")))
}
