//! Admin endpoint for a device's sensor write log:
//! `GET /v1/devices/{id}/sensor-writes[?fqts=&limit=]`, the most recent records, oldest first.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use super::handlers::{device_id, limit, params, Params};
use super::reply::ApiError;
use super::AdminState;
use crate::storage::sensors::{canonical_fqts, SensorWrite};

type AppState = Arc<AdminState>;

/// `GET /v1/devices/{id}/sensor-writes`.
pub(super) async fn list(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Params,
) -> Result<Json<Value>, ApiError> {
    let device = device_id(path)?;
    let map = params(query, &["fqts", "limit"])?;
    let limit = limit(&map, 100, 10_000)?;
    let fqts = map
        .get("fqts")
        .map(|f| canonical_fqts(f).map_err(ApiError::bad_request))
        .transpose()?;
    let writes = state
        .db
        .list_sensor_writes(&device, fqts.as_deref(), limit)
        .await?;
    Ok(Json(Value::Array(
        writes.iter().map(SensorWrite::to_json).collect(),
    )))
}
