//! Admin endpoints about what the device HTTP API serves and records: a device's settings
//! (`GET /v1/device`) and its message reports.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::handlers::{device_id, limit, params, Params};
use super::reply::ApiError;
use super::AdminState;
use crate::device_api::settings::validate_settings;

type AppState = Arc<AdminState>;
type Answer = Result<Json<Value>, ApiError>;

/// `GET /v1/devices/{id}/settings`: the stored settings, `{}` when never set.
pub(super) async fn get_settings(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let device = device_id(path)?;
    let settings = state.db.call(move |s| s.device_settings(&device)).await?;
    Ok(Json(settings.unwrap_or_else(|| json!({}))))
}

/// `PUT /v1/devices/{id}/settings`: replaces the settings with the body (a JSON object, merged
/// over the defaults when served); answers them as stored.
pub(super) async fn put_settings(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let device = device_id(path)?;
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let given: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let settings = validate_settings(given).map_err(ApiError::bad_request)?;
    let (dev, stored) = (device.clone(), settings.clone());
    state
        .db
        .call(move |s| s.set_device_settings(&dev, &stored))
        .await?;
    tracing::info!(device, "device settings replaced");
    Ok(Json(settings))
}

/// `GET /v1/devices/{id}/messages?limit=`: the most recent message reports, oldest first.
pub(super) async fn messages(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Params,
) -> Answer {
    let device = device_id(path)?;
    let map = params(query, &["limit"])?;
    let limit = limit(&map, 100, 10_000)?;
    let reports = state.db.call(move |s| s.list_messages(&device, limit)).await?;
    let list = reports
        .iter()
        .map(|r| json!({ "uuid": r.uuid, "reported_at": r.reported_at_ms }))
        .collect();
    Ok(Json(Value::Array(list)))
}
