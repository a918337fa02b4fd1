//! Admin endpoints for macros (HTTP-API.md §7.11):
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /v1/devices/{id}/macros` | every macro with all its occurrences and their completion |
//! | `GET /v1/devices/{id}/macros/{macro_id}` | one macro |
//! | `PUT /v1/devices/{id}/macros/{macro_id}` | body `{"commands": [{"path", "value"}], "occurrences": [epoch seconds]}` → the macro (`201` when new); occurrences already known keep their completion |
//! | `DELETE /v1/devices/{id}/macros/{macro_id}` | `{"macro_id", "deleted": true}` |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::handlers::device_id;
use super::reply::ApiError;
use super::AdminState;
use crate::device_api::macros::macro_json;
use crate::storage::archives::valid_pathpoint;
use crate::storage::macros::{
    valid_macro_id, valid_timestamp, CommandValue, MacroCommand, MacroRecord, Occurrence, MAX_MACROS,
    MAX_MACRO_COMMANDS, MAX_MACRO_OCCURRENCES,
};

type AppState = Arc<AdminState>;

/// The routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/devices/{id}/macros", get(list)).route(
        "/v1/devices/{id}/macros/{macro_id}",
        get(one).put(put).delete(remove),
    )
}

fn device_and_macro(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), ApiError> {
    let Path((id, macro_id)) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let id = device_id(Ok(Path(id)))?;
    valid_macro_id(&macro_id).map_err(ApiError::bad_request)?;
    Ok((id, macro_id))
}

/// A `PUT` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MacroBody {
    commands: Vec<MacroCommand>,
    occurrences: Vec<f64>,
}

/// Checks a `PUT` body; returns the macro to store (occurrences sorted, duplicates merged).
fn validate(macro_id: String, body: &[u8]) -> Result<MacroRecord, String> {
    let given: MacroBody = serde_json::from_slice(body).map_err(|e| {
        format!("expected {{\"commands\": [{{\"path\", \"value\"}}], \"occurrences\": [seconds]}}: {e}")
    })?;
    if given.commands.is_empty() || given.commands.len() > MAX_MACRO_COMMANDS {
        return Err(format!("a macro needs 1 to {MAX_MACRO_COMMANDS} commands"));
    }
    for (i, c) in given.commands.iter().enumerate() {
        valid_pathpoint(&c.path).map_err(|e| format!("command {i}: {e}"))?;
        if matches!(c.value, CommandValue::Float(f) if !f.is_finite()) {
            return Err(format!("command {i}: the value is not a finite number"));
        }
    }
    if given.occurrences.len() > MAX_MACRO_OCCURRENCES {
        return Err(format!(
            "a macro may have at most {MAX_MACRO_OCCURRENCES} occurrences"
        ));
    }
    let mut times = given.occurrences;
    for t in &times {
        valid_timestamp(*t)?;
    }
    times.sort_by(f64::total_cmp);
    times.dedup();
    Ok(MacroRecord {
        macro_id,
        commands: given.commands,
        occurrences: times
            .into_iter()
            .map(|timestamp| Occurrence {
                timestamp,
                completed: false,
                completed_at_ms: None,
            })
            .collect(),
    })
}

/// `GET /v1/devices/{id}/macros`.
async fn list(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let device = device_id(path)?;
    let macros = state.db.macros(&device, None).await?;
    Ok(Json(Value::Array(
        macros.iter().map(|m| macro_json(m, true)).collect(),
    )))
}

/// `GET /v1/devices/{id}/macros/{macro_id}`.
async fn one(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let (device, macro_id) = device_and_macro(path)?;
    match state.db.macro_record(&device, &macro_id).await? {
        Some(record) => Ok(Json(macro_json(&record, true))),
        None => Err(ApiError::not_found(format!(
            "device {device:?} has no macro {macro_id:?}"
        ))),
    }
}

/// `PUT /v1/devices/{id}/macros/{macro_id}`.
async fn put(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (device, macro_id) = device_and_macro(path)?;
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let record = validate(macro_id.clone(), &body).map_err(ApiError::bad_request)?;
    let (dev, m) = (device.clone(), macro_id.clone());
    let created = state
        .db
        .call(move |s| {
            let created = s.put_macro(&dev, &record, MAX_MACROS)?;
            Ok((created, s.macro_record(&dev, &m)?))
        })
        .await?;
    match created {
        (Some(new), Some(stored)) => {
            tracing::info!(device, macro_id, new, "macro stored");
            let code = if new { StatusCode::CREATED } else { StatusCode::OK };
            Ok((code, Json(macro_json(&stored, true))))
        }
        (None, _) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("device {device:?} already has {MAX_MACROS} macros"),
        )),
        (Some(_), None) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("macro {macro_id:?} was deleted meanwhile"),
        )),
    }
}

/// `DELETE /v1/devices/{id}/macros/{macro_id}`.
async fn remove(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let (device, macro_id) = device_and_macro(path)?;
    if state.db.delete_macro(&device, &macro_id).await? {
        tracing::info!(device, macro_id, "macro deleted");
        Ok(Json(json!({"macro_id": macro_id, "deleted": true})))
    } else {
        Err(ApiError::not_found(format!(
            "device {device:?} has no macro {macro_id:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked() {
        let ok = validate(
            "m".into(),
            br#"{"commands": [{"path": "W1", "value": 1}], "occurrences": [30, 10, 30]}"#,
        )
        .unwrap();
        assert_eq!(ok.occurrences.len(), 2);
        assert_eq!(ok.occurrences[0].timestamp, 10.0);
        for (bad, needle) in [
            (r#"{"commands": [], "occurrences": []}"#, "commands"),
            (
                r#"{"commands": [{"path": "", "value": 1}], "occurrences": []}"#,
                "command 0",
            ),
            (
                r#"{"commands": [{"path": "W1", "value": [1]}], "occurrences": []}"#,
                "expected",
            ),
            (
                r#"{"commands": [{"path": "W1", "value": 1}], "occurrences": [-1]}"#,
                "timestamp",
            ),
            (
                r#"{"commands": [{"path": "W1", "value": 1}], "occurrences": [], "x": 1}"#,
                "unknown field",
            ),
        ] {
            let err = validate("m".into(), bad.as_bytes()).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
