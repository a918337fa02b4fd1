//! Admin endpoints for a device's sensors.
//!
//! * `GET /v1/devices/{id}/sensors`: the list the device receives.
//! * `PUT /v1/devices/{id}/sensors`: replaces the whole list (body: a list of sensors).
//! * `GET`, `PUT`, `DELETE /v1/devices/{id}/sensors/{fqts}`: one sensor (the fqts URL-encoded;
//!   its words in any order). The PUT body is `{"path", "type"}`.

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
use crate::storage::sensors::{canonical_fqts, Sensor};

type AppState = Arc<AdminState>;
type Answer = Result<Json<Value>, ApiError>;

/// Most sensors per device.
const MAX_SENSORS: usize = 10_000;

fn sensor_path(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), ApiError> {
    let Path((device, fqts)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    ident(&device, "device id").map_err(ApiError::bad_request)?;
    let fqts = canonical_fqts(&fqts).map_err(ApiError::bad_request)?;
    Ok((device, fqts))
}

/// `GET /v1/devices/{id}/sensors`.
pub(super) async fn list(State(state): State<AppState>, path: Result<Path<String>, PathRejection>) -> Answer {
    let device = device_id(path)?;
    let list = state.db.list_sensors(&device).await?;
    Ok(Json(Value::Array(list.iter().map(Sensor::to_json).collect())))
}

/// `PUT /v1/devices/{id}/sensors`: replaces every sensor of the device.
pub(super) async fn replace(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let device = device_id(path)?;
    let given = json_body(body)?;
    let items = given
        .as_array()
        .ok_or_else(|| ApiError::bad_request("expected a JSON list of sensors"))?;
    if items.len() > MAX_SENSORS {
        return Err(ApiError::bad_request(format!("more than {MAX_SENSORS} sensors")));
    }
    let mut sensors: Vec<Sensor> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let s = Sensor::from_json(item).map_err(|e| ApiError::bad_request(format!("sensor {i}: {e}")))?;
        if sensors.iter().any(|o| o.fqts == s.fqts) {
            return Err(ApiError::bad_request(format!(
                "sensor {i}: fqts {:?} is listed twice",
                s.fqts
            )));
        }
        sensors.push(s);
    }
    state.db.put_sensors(&device, &sensors, true).await?;
    tracing::info!(device, sensors = sensors.len(), "sensors replaced");
    Ok(Json(Value::Array(sensors.iter().map(Sensor::to_json).collect())))
}

/// `GET /v1/devices/{id}/sensors/{fqts}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (device, fqts) = sensor_path(path)?;
    let list = state.db.list_sensors(&device).await?;
    list.iter()
        .find(|s| s.fqts == fqts)
        .map(|s| Json(s.to_json()))
        .ok_or_else(|| ApiError::not_found(format!("no sensor {fqts:?}")))
}

/// `PUT /v1/devices/{id}/sensors/{fqts}`: creates (201) or replaces (200) one sensor.
pub(super) async fn put_one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (device, fqts) = sensor_path(path)?;
    let mut given = json_body(body)?;
    let map = given
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("expected an object {\"path\", \"type\"}"))?;
    if let Some(f) = map.get("fqts") {
        if f.as_str().map(canonical_fqts) != Some(Ok(fqts.clone())) {
            return Err(ApiError::bad_request(
                "fqts in the body differs from the one in the path",
            ));
        }
    }
    map.insert("fqts".into(), json!(fqts));
    let sensor = Sensor::from_json(&given).map_err(ApiError::bad_request)?;
    let existing = state.db.list_sensors(&device).await?;
    if existing.len() >= MAX_SENSORS && !existing.iter().any(|s| s.fqts == sensor.fqts) {
        return Err(ApiError::bad_request(format!(
            "a device has at most {MAX_SENSORS} sensors"
        )));
    }
    let one = sensor.clone();
    let created = state.db.put_sensors(&device, &[one], false).await? == 1;
    tracing::info!(device, fqts = sensor.fqts, created, "sensor stored");
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(sensor.to_json())))
}

/// `DELETE /v1/devices/{id}/sensors/{fqts}`.
pub(super) async fn delete_one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (device, fqts) = sensor_path(path)?;
    if state.db.delete_sensor(&device, &fqts).await? {
        Ok(Json(json!({"deleted": fqts})))
    } else {
        Err(ApiError::not_found(format!("no sensor {fqts:?}")))
    }
}
