//! Admin endpoints about what the device HTTP API records: a device's message reports.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::handlers::{device_id, limit, params, Params};
use super::reply::ApiError;
use super::AdminState;

type AppState = Arc<AdminState>;
type Answer = Result<Json<Value>, ApiError>;

/// `GET /v1/devices/{id}/messages?limit=`: the most recent message reports, oldest first.
pub(super) async fn messages(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Params,
) -> Answer {
    let device = device_id(path)?;
    let map = params(query, &["limit"])?;
    let limit = limit(&map, 100, 10_000)?;
    let reports = state.db.list_messages(&device, limit).await?;
    let list = reports
        .iter()
        .map(|r| json!({ "uuid": r.uuid, "reported_at": r.reported_at_ms }))
        .collect();
    Ok(Json(Value::Array(list)))
}
