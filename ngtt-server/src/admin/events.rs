//! Admin endpoints for the events (alarms) devices reported.
//!
//! * `GET /v1/devices/{id}/events[?state=open|closed&limit=]`: newest first.
//! * `GET /v1/devices/{id}/events/{uuid}`.
//! * `POST /v1/devices/{id}/events/{uuid}/close`: body optional, `{"ended_on"?: seconds,
//!   "handled_by"?: text}`; closes the event now (or at `ended_on`). The device is not told:
//!   the device API has no route for it; a device that later reports the event open does not
//!   reopen it.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use super::device_info::json_body;
use super::handlers::{device_id, limit, params, Params};
use super::reply::ApiError;
use super::AdminState;
use crate::storage::device_info::{ident, text};
use crate::storage::events::{EventQuery, EventRecord};

type AppState = Arc<AdminState>;
type Answer = Result<Json<Value>, ApiError>;

fn event_path(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), ApiError> {
    let Path((device, uuid)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    ident(&device, "device id").map_err(ApiError::bad_request)?;
    ident(&uuid, "event uuid").map_err(ApiError::bad_request)?;
    Ok((device, uuid))
}

/// `GET /v1/devices/{id}/events`.
pub(super) async fn list(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Params,
) -> Answer {
    let device = device_id(path)?;
    let map = params(query, &["state", "limit"])?;
    let open = match map.get("state").map(String::as_str) {
        None | Some("all") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown state {other:?} (expected open, closed or all)"
            )))
        }
    };
    let query = EventQuery {
        open,
        limit: limit(&map, 100, 10_000)?,
    };
    let events = state.db.list_events(&device, query).await?;
    Ok(Json(Value::Array(
        events.iter().map(EventRecord::to_json).collect(),
    )))
}

/// `GET /v1/devices/{id}/events/{uuid}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (device, uuid) = event_path(path)?;
    let found = state.db.event(&device, &uuid).await?;
    found
        .map(|e| Json(e.to_json()))
        .ok_or_else(|| ApiError::not_found(format!("no event {uuid:?}")))
}

/// `POST /v1/devices/{id}/events/{uuid}/close`.
pub(super) async fn close(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (device, uuid) = event_path(path)?;
    let empty = body.as_ref().is_ok_and(|b| b.iter().all(u8::is_ascii_whitespace));
    let given = if empty {
        Value::Object(Default::default())
    } else {
        json_body(body)?
    };
    let map = given
        .as_object()
        .ok_or_else(|| ApiError::bad_request("expected an object {\"ended_on\"?, \"handled_by\"?}"))?;
    if let Some(k) = map
        .keys()
        .find(|k| !["ended_on", "handled_by"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!("unknown field {k:?}")));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let ended_on = match map.get("ended_on") {
        None => now.floor(),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(|| ApiError::bad_request("ended_on must be a number of seconds"))?,
    };
    let handled_by = map
        .get("handled_by")
        .map(|v| text(v, "handled_by", false))
        .transpose()
        .map_err(ApiError::bad_request)?;
    let (dev, key) = (device.clone(), uuid.clone());
    let closed = state
        .db
        .close_event(&dev, &key, ended_on, handled_by.as_deref())
        .await?;
    let closed = closed.ok_or_else(|| ApiError::not_found(format!("no event {uuid:?}")))?;
    tracing::info!(device, event = uuid, "event closed by an operator");
    Ok(Json(closed.to_json()))
}
