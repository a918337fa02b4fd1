//! `GET /v1/device` (HTTP-API.md §7.1) and a slave device's instrumentation,
//! `GET`/`PATCH /v1/device/instrumentation/{slave_id}` (§7.14).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::Device;
use super::wire::{decode_body, Fault, Format};
use super::DeviceApiState;
use crate::storage::device_info::{ident, Instrumentation, InstrumentationPatch};

type AppState = Arc<DeviceApiState>;

/// Largest `PATCH /v1/device/instrumentation/{slave_id}` body.
pub(super) const MAX_INSTRUMENTATION_BODY: usize = 256 << 10;

/// `GET /v1/device`: the device information, every field present (defaults when unset).
pub(super) async fn device(State(state): State<AppState>, format: Format, Device(id): Device) -> Response {
    let result = async {
        let device = id.device_id.clone();
        let info = state.db.device_info(&device).await?;
        Ok(info.document(&id.device_id))
    };
    format.answer(result.await)
}

fn slave_id(path: Result<Path<String>, PathRejection>) -> Result<String, Fault> {
    let Path(slave) = path.map_err(|e| Fault::bad_request(e.body_text()))?;
    ident(&slave, "slave id").map_err(Fault::bad_request)?;
    Ok(slave)
}

fn no_slave(device: &str, slave: &str) -> Fault {
    Fault::new(
        StatusCode::NOT_FOUND,
        format!("device {device:?} has no slave device {slave:?}"),
    )
}

fn answer(i: Instrumentation) -> Value {
    json!({"linkstate": i.linkstate, "instrumentation": i.instrumentation})
}

/// `GET /v1/device/instrumentation/{slave_id}`: `{"linkstate": JSON text, "instrumentation"}`
/// of one of the device's own slaves (404 for any other id).
pub(super) async fn get_instrumentation(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let slave = slave_id(path)?;
        let (device, key) = (id.device_id.clone(), slave.clone());
        let found = state.db.instrumentation(&device, &key).await?;
        found.map(answer).ok_or_else(|| no_slave(&id.device_id, &slave))
    };
    format.answer(result.await)
}

/// `PATCH /v1/device/instrumentation/{slave_id}`: `{"linkstate": text}` and/or
/// `{"instrumentation": text}`; only the fields given change. Answers the stored state.
pub(super) async fn patch_instrumentation(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let slave = slave_id(path)?;
        let given: Value = decode_body(&headers, body, &state.budgets)?;
        let patch = InstrumentationPatch::from_json(&given).map_err(Fault::bad_request)?;
        let (device, key) = (id.device_id.clone(), slave.clone());
        let stored = state.db.patch_instrumentation(&device, &key, &patch).await?;
        let stored = stored.ok_or_else(|| no_slave(&id.device_id, &slave))?;
        tracing::info!(device = %ngtt_proto::Escaped(&id.device_id), slave = %ngtt_proto::Escaped(&slave), "slave instrumentation patched");
        Ok(answer(stored))
    };
    format.answer(result.await)
}
