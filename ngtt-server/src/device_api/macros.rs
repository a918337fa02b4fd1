//! Macros on the device HTTP API (HTTP-API.md §7.11):
//!
//! * `GET /v1/device/macro/occurrences/{start}-{stop}`: the macros with occurrences in the
//!   window (epoch seconds, inclusive; at most 31 days), each with those occurrences;
//! * `POST /v1/device/macros/{macro_id}/{timestamp}`: the occurrence (the timestamp parsed as a
//!   decimal number, `1796063026` and `1796063026.0` alike) is marked completed; a repeated
//!   report changes nothing and is answered `200` again; an unknown occurrence is `404`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::auth::Device;
use super::wire::{Fault, Format};
use super::DeviceApiState;
use crate::storage::macros::{timestamp_json, valid_macro_id, valid_timestamp, MacroRecord};

type AppState = Arc<DeviceApiState>;

/// Widest window served, in seconds (the client asks for 9000 s).
const MAX_WINDOW: f64 = 31.0 * 86_400.0;

/// The routes (no bodies: any body is refused past a few bytes).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/device/macro/occurrences/{window}",
            get(occurrences).layer(DefaultBodyLimit::max(1024)),
        )
        .route(
            "/v1/device/macros/{macro_id}/{timestamp}",
            post(completed).layer(DefaultBodyLimit::max(1024)),
        )
}

/// A decimal number of epoch seconds, as the client prints it.
fn seconds(text: &str, what: &str) -> Result<f64, Fault> {
    let bad = || Fault::bad_request(format!("{what} {text:?} is not a number of epoch seconds"));
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let value: f64 = text.parse().map_err(|_| bad())?;
    valid_timestamp(value).map_err(|_| bad())?;
    Ok(value)
}

/// `{start}-{stop}`.
fn window(text: &str) -> Result<(f64, f64), Fault> {
    let (start, stop) = text
        .split_once('-')
        .ok_or_else(|| Fault::bad_request(format!("window {text:?} is not {{start}}-{{stop}}")))?;
    let (start, stop) = (seconds(start, "start")?, seconds(stop, "stop")?);
    if stop < start {
        return Err(Fault::bad_request(format!(
            "the window ends ({stop}) before it starts ({start})"
        )));
    }
    if stop - start > MAX_WINDOW {
        return Err(Fault::bad_request(format!(
            "the window is {} s long: at most {MAX_WINDOW} s are served",
            stop - start
        )));
    }
    Ok((start, stop))
}

/// A macro as the client reads it.
pub(crate) fn macro_json(record: &MacroRecord, with_completion_time: bool) -> Value {
    let occurrences: Vec<Value> = record
        .occurrences
        .iter()
        .map(|o| {
            let mut v = json!({"timestamp": timestamp_json(o.timestamp), "completed": o.completed});
            if with_completion_time {
                v["completed_at"] = json!(o.completed_at_ms);
            }
            v
        })
        .collect();
    json!({
        "macro_id": record.macro_id,
        "commands": record.commands,
        "occurrences": occurrences,
    })
}

/// `GET /v1/device/macro/occurrences/{start}-{stop}`.
async fn occurrences(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let Path(text) = path.map_err(|e| Fault::bad_request(e.body_text()))?;
        let span = window(&text)?;
        let device = id.device_id;
        let macros = state.db.macros(&device, Some(span)).await?;
        Ok(Value::Array(
            macros.iter().map(|m| macro_json(m, false)).collect(),
        ))
    };
    format.answer(result.await)
}

/// `POST /v1/device/macros/{macro_id}/{timestamp}`.
async fn completed(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let result = async {
        let Path((macro_id, ts)) = path.map_err(|e| Fault::bad_request(e.body_text()))?;
        valid_macro_id(&macro_id).map_err(Fault::bad_request)?;
        let timestamp = seconds(&ts, "timestamp")?;
        let (device, m) = (id.device_id.clone(), macro_id.clone());
        let outcome = state.db.complete_occurrence(&device, &m, timestamp).await?;
        match outcome {
            Some(new) => {
                if new {
                    tracing::info!(
                        device = id.device_id,
                        macro_id,
                        timestamp,
                        "macro occurrence completed"
                    );
                }
                Ok(json!({"macro_id": macro_id, "timestamp": timestamp_json(timestamp), "new": new}))
            }
            None => Err(Fault::new(
                StatusCode::NOT_FOUND,
                format!("macro {macro_id:?} has no occurrence at {ts}"),
            )),
        }
    };
    format.answer(result.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_timestamps() {
        assert_eq!(window("100-9100").unwrap(), (100.0, 9100.0));
        assert_eq!(seconds("1796063026.0", "t").unwrap(), 1_796_063_026.0);
        for bad in ["", "5", "a-b", "9-1", "1e9-2e9", "-5-6", "0-99999999", "inf-inf"] {
            assert!(window(bad).is_err(), "{bad}");
        }
        assert!(seconds("NaN", "t").is_err());
        assert!(seconds("1..2", "t").is_err());
    }
}
