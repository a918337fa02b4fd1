//! Admin endpoints for archive settings (HTTP-API.md §7.12): `GET`, `PUT` (replace) and
//! `DELETE` (clear) `/v1/devices/{id}/archives`; the settings are `[{"interval": seconds,
//! "pathpoints": [names]}]`, answered as stored: one entry per interval, sorted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

use super::handlers::device_id;
use super::reply::ApiError;
use super::AdminState;
use crate::storage::archives::{normalise_archives, ArchiveEntry};

type AppState = Arc<AdminState>;
type Answer = Result<Json<Vec<ArchiveEntry>>, ApiError>;

/// The routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/devices/{id}/archives", get(read).put(replace).delete(clear))
}

/// `GET /v1/devices/{id}/archives`.
async fn read(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> Answer {
    let device = device_id(path)?;
    Ok(Json(state.db.archives(&device).await?))
}

/// `PUT /v1/devices/{id}/archives`.
async fn replace(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let device = device_id(path)?;
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let given: Vec<ArchiveEntry> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected [{{\"interval\": seconds, \"pathpoints\": [names]}}]: {e}"
        ))
    })?;
    let entries = normalise_archives(given).map_err(ApiError::bad_request)?;
    state.db.set_archives(&device, &entries).await?;
    tracing::info!(device, intervals = entries.len(), "archive settings replaced");
    Ok(Json(entries))
}

/// `DELETE /v1/devices/{id}/archives`.
async fn clear(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> Answer {
    let device = device_id(path)?;
    state.db.set_archives(&device, &[]).await?;
    tracing::info!(device, "archive settings cleared");
    Ok(Json(Vec::new()))
}
