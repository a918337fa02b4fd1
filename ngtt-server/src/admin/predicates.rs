//! Admin endpoints for a device's predicates.
//!
//! * `GET /v1/devices/{id}/predicates`: the list the device receives.
//! * `GET`, `PUT`, `PATCH`, `DELETE /v1/devices/{id}/predicates/{pid}`. PUT creates or replaces
//!   (fields not given take their defaults: online, configuration `{}`, verbose name = id,
//!   group `B`, no silencing; `statistic` is required); PATCH changes the fields given, e.g.
//!   `{"silencing": [...]}` or `{"online": false}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::device_info::json_body;
use super::handlers::device_id;
use super::reply::ApiError;
use super::AdminState;
use crate::storage::device_info::ident;
use crate::storage::predicates::Predicate;

type AppState = Arc<AdminState>;
type Answer = Result<Json<Value>, ApiError>;

/// Most predicates per device.
const MAX_PREDICATES: usize = 10_000;

fn predicate_path(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), ApiError> {
    let Path((device, pid)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    ident(&device, "device id").map_err(ApiError::bad_request)?;
    ident(&pid, "predicate id").map_err(ApiError::bad_request)?;
    Ok((device, pid))
}

/// `GET /v1/devices/{id}/predicates`.
pub(super) async fn list(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> Answer {
    let device = device_id(path)?;
    let list = state.db.list_predicates(&device).await?;
    Ok(Json(Value::Array(list.iter().map(Predicate::to_json).collect())))
}

/// `GET /v1/devices/{id}/predicates/{pid}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (device, pid) = predicate_path(path)?;
    let found = state.db.predicate(&device, &pid).await?;
    found
        .map(|p| Json(p.to_json()))
        .ok_or_else(|| ApiError::not_found(format!("no predicate {pid:?}")))
}

async fn write(
    state: &AdminState,
    device: String,
    pid: String,
    body: Result<Bytes, BytesRejection>,
    patch: bool,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let given = json_body(body)?;
    let existing = state.db.predicate(&device, &pid).await?;
    let is_new = existing.is_none();
    let mut predicate = match (existing, patch) {
        (Some(p), true) => p,
        (None, true) => return Err(ApiError::not_found(format!("no predicate {pid:?}"))),
        (_, false) => Predicate::new(&pid).map_err(ApiError::bad_request)?,
    };
    predicate.apply(&given).map_err(ApiError::bad_request)?;
    if is_new {
        let count = state.db.list_predicates(&device).await?.len();
        if count >= MAX_PREDICATES {
            return Err(ApiError::bad_request(format!(
                "a device has at most {MAX_PREDICATES} predicates"
            )));
        }
    }
    let created = state.db.put_predicate(&device, &predicate).await?;
    tracing::info!(device, predicate = pid, created, "predicate stored");
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(predicate.to_json())))
}

/// `PUT /v1/devices/{id}/predicates/{pid}`.
pub(super) async fn put_one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (device, pid) = predicate_path(path)?;
    write(&state, device, pid, body, false).await
}

/// `PATCH /v1/devices/{id}/predicates/{pid}`.
pub(super) async fn patch_one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (device, pid) = predicate_path(path)?;
    write(&state, device, pid, body, true).await
}

/// `DELETE /v1/devices/{id}/predicates/{pid}`.
pub(super) async fn delete_one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (device, pid) = predicate_path(path)?;
    if state.db.delete_predicate(&device, &pid).await? {
        Ok(Json(json!({"deleted": pid})))
    } else {
        Err(ApiError::not_found(format!("no predicate {pid:?}")))
    }
}
