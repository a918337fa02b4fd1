//! `GET /v1/device/sensors` (HTTP-API.md §7.6) and `PUT /v1/device/sensor/write_log` (§7.7).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::Device;
use super::wire::{decode_body, Fault, Format};
use super::DeviceApiState;
use crate::storage::sensors::{Sensor, SensorWrite};

type AppState = Arc<DeviceApiState>;

/// Largest `PUT /v1/device/sensor/write_log` body: records pile up while a device is offline
/// and a 4xx makes the client drop them, so the limit is generous.
pub(super) const MAX_WRITE_LOG_BODY: usize = 16 << 20;

/// `GET /v1/device/sensors`: the full list `[{fqts, path, type}]`, by fqts.
pub(super) async fn sensors(State(state): State<AppState>, format: Format, Device(id): Device) -> Response {
    let result = async {
        let device = id.device_id;
        let list = state.db.list_sensors(&device).await?;
        Ok(list.iter().map(Sensor::to_json).collect::<Vec<_>>())
    };
    format.answer(result.await)
}

/// `PUT /v1/device/sensor/write_log`: stores write records; one already stored (same
/// timestamp and fqts) is skipped. Any bad record refuses the whole batch, nothing stored.
pub(super) async fn write_log(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let items: Vec<Value> = decode_body(&headers, body, &state.budgets)
            .map_err(|f| f.context("not a list of write records"))?;
        let writes = items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                SensorWrite::from_json(v).map_err(|e| Fault::bad_request(format!("record {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let device = id.device_id.clone();
        let stored = state.db.store_sensor_writes(&device, &writes).await?;
        tracing::debug!(device = %ngtt_proto::Escaped(&id.device_id), stored, "sensor writes logged");
        Ok(json!({ "stored": stored }))
    };
    format.answer(result.await)
}
