//! The device HTTP API's endpoints (HTTP-API.md). Every handler first identifies the device
//! ([`Device`]), then reads the body; storage calls run on the blocking pool and have
//! committed before a 2xx goes out.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ngtt_proto::payload::PathpointSeries;
use ngtt_proto::Escaped;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Device;
use super::wire::{decode_body, decode_shaped, Fault, Format};
use super::DeviceApiState;
use crate::budgets::{Budgets, Shape};
use crate::storage::{RegisteredPathpoint, StorageLevel};

type AppState = Arc<DeviceApiState>;

/// `POST /v1/device/orders`: every pending order's sections, concatenated in queue order, and
/// the orders confirmed — unless the device takes its orders over a live NGTT connection, in
/// which case nothing is handed out (docs/delivery-guarantees.md).
pub(super) async fn orders(State(state): State<AppState>, format: Format, Device(id): Device) -> Response {
    let result = async {
        let device = id.device_id;
        let gate = state.registry.order_gate(&device);
        let _held = gate.lock().await;
        if state.registry.orders_on_ngtt(&device) {
            tracing::debug!(
                device = %ngtt_proto::Escaped(&device),
                "orders polled over HTTP while NGTT carries them: none handed out"
            );
            return Ok(Vec::new());
        }
        let handed = state.db.hand_out_orders(&device).await?;
        let mut sections = Vec::new();
        for order in &handed {
            match minijson::from_slice::<minijson::Value>(&order.payload) {
                Ok(minijson::Value::List(list)) => sections.extend(list),
                Ok(other) => tracing::error!(
                    order = order.id,
                    "stored order is a {}, not a list of sections; dropped",
                    other.kind()
                ),
                Err(e) => tracing::error!(order = order.id, "stored order is not MiniJSON ({e}); dropped"),
            }
        }
        if !handed.is_empty() {
            tracing::info!(
                device = %ngtt_proto::Escaped(&device),
                orders = handed.len(),
                "orders handed out over HTTP (confirmed)"
            );
        }
        Ok(sections)
    };
    format.answer(result.await)
}

/// `POST /v1/device/orders/message/{uuid}`: records the message order as reported.
pub(super) async fn message(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    uuid: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let Path(uuid) = uuid.map_err(|e| Fault::bad_request(e.body_text()))?;
        if uuid.is_empty() || uuid.len() > 255 || uuid.chars().any(char::is_control) {
            return Err(Fault::bad_request(format!("invalid message uuid {uuid:?}")));
        }
        let (device, key) = (id.device_id.clone(), uuid.clone());
        let new = state.db.record_message(&device, &key).await?;
        tracing::info!(device = %ngtt_proto::Escaped(&id.device_id), uuid = %ngtt_proto::Escaped(&uuid), new, "message order reported");
        Ok(json!({ "uuid": uuid, "new": new }))
    };
    format.answer(result.await)
}

/// `POST /v1/device/pathpoints`: stores a list of pathpoint series (duplicates skipped).
pub(super) async fn upload(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let device = id.device_id;
    let result = async {
        let (series, rejected) = split_series(&headers, body, &state.budgets)?;
        if !rejected.is_empty() {
            tracing::warn!(
                device = %Escaped(&device),
                rejected = rejected.len(),
                first = %Escaped(rejected[0]["reason"].as_str().unwrap_or_default()),
                "pathpoint upload: malformed series skipped, the rest stored"
            );
        }
        let stored = state.db.store_series(&device, series).await?;
        Ok(match rejected.is_empty() {
            true => json!({ "stored": stored }),
            false => json!({ "stored": stored, "rejected": rejected }),
        })
    };
    format.answer(result.await)
}

/// Splits an upload into the series that can be stored and the ones that cannot
/// (`[{"index", "path", "reason"}]`). HTTP-API.md §7.3: the published client drops a whole batch
/// on a 4xx, so one bad series must not cost the others; only a body that is not a list, or
/// whose every series is malformed, is refused.
fn split_series(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    budgets: &Budgets,
) -> Result<(Vec<PathpointSeries>, Vec<serde_json::Value>), Fault> {
    let body = body?;
    // The common case, a well-formed upload, decodes straight into series.
    match decode_shaped::<Vec<PathpointSeries>>(headers, Ok(body.clone()), budgets, Shape::Samples) {
        Ok(series) => return Ok((series, Vec::new())),
        Err(fault) if fault.status == StatusCode::PAYLOAD_TOO_LARGE => return Err(fault),
        Err(_) => {}
    }
    let items: Vec<minijson::Value> =
        decode_body(headers, Ok(body), budgets).map_err(|f| f.context("not a list of pathpoint series"))?;
    let total = items.len();
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for (index, item) in items.iter().enumerate() {
        match PathpointSeries::deserialize(item) {
            Ok(series) => good.push(series),
            Err(e) => bad.push(json!({
                "index": index,
                "path": item.get("path").and_then(minijson::Value::as_str),
                "reason": e.to_string(),
            })),
        }
    }
    if good.is_empty() && total > 0 {
        let (index, reason) = (&bad[0]["index"], bad[0]["reason"].as_str().unwrap_or_default());
        return Err(Fault::bad_request(format!(
            "not a list of pathpoint series: series {index}: {reason}"
        )));
    }
    Ok((good, bad))
}

/// A pathpoint registration as sent and answered: `{"path", "storage_level"}`.
#[derive(Debug, Deserialize, Serialize)]
pub(super) struct Registration {
    path: String,
    storage_level: i64,
}

/// `PUT /v1/device/pathpoints`: registers pathpoints; answers all of the device's.
pub(super) async fn register(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let device = id.device_id;
    let result = async {
        let given: Vec<Registration> = decode_body(&headers, body, &state.budgets)?;
        let mut pathpoints = Vec::with_capacity(given.len());
        for (i, r) in given.into_iter().enumerate() {
            if r.path.is_empty() || r.path.chars().any(char::is_control) {
                return Err(Fault::bad_request(format!(
                    "pathpoint {i}: invalid path {:?}",
                    r.path
                )));
            }
            let storage_level = StorageLevel::from_code(r.storage_level).ok_or_else(|| {
                Fault::bad_request(format!(
                    "pathpoint {i} ({:?}): storage_level must be 0 (permanent) or 1 (trend), not {}",
                    r.path, r.storage_level
                ))
            })?;
            pathpoints.push(RegisteredPathpoint {
                path: r.path,
                storage_level,
            });
        }
        let all = state.db.register_pathpoints(&device, &pathpoints).await?;
        Ok(all
            .into_iter()
            .map(|p| Registration {
                path: p.path,
                storage_level: i64::from(p.storage_level.code()),
            })
            .collect::<Vec<_>>())
    };
    format.answer(result.await)
}

/// `PUT /v1/device/device_logs`: stores log records, in bounded batches ([`crate::log_batches`]:
/// the answer comes after the last one committed). As on NGTT, a record that does not parse is
/// skipped (and counted); a body that is not a list, or over the decode budget, is refused.
pub(super) async fn logs(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let device = id.device_id;
    let result = async {
        let items: Vec<minijson::Value> = decode_body(&headers, body, &state.budgets)
            .map_err(|f| f.context("not a list of log records"))?;
        let limits = state.registry.inflate_limits();
        let (stored, notes) =
            crate::log_batches::store_logs(&state.db, limits, state.budgets, &device, items).await?;
        notes.warn(Some(&device));
        Ok(json!({ "stored": stored, "skipped": notes.skipped }))
    };
    format.answer(result.await)
}

/// Any other path or method.
pub(super) async fn not_found(format: Format) -> Response {
    Fault::new(axum::http::StatusCode::NOT_FOUND, "no such endpoint").respond(format)
}

/// A known path with the wrong method.
pub(super) async fn method_not_allowed(format: Format) -> Response {
    Fault::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "method not allowed").respond(format)
}
