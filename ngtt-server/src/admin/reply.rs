//! Answers of the admin API: JSON errors `{"status": reason}` and the JSON forms of stored
//! records. Times are integers, milliseconds since the Unix epoch (UTC).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value as Json_};

use crate::budgets::Budgets;
use crate::log_records::traceback_for_display;
use crate::storage::{DeviceRecord, LogEntry, OrderRecord, StorageError};

/// An error answer: a status code and `{"status": reason}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) code: StatusCode,
    pub(crate) reason: String,
}

impl ApiError {
    pub(crate) fn new(code: StatusCode, reason: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason.into(),
        }
    }

    pub(crate) fn bad_request(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, reason)
    }

    pub(crate) fn not_found(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, reason)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        tracing::error!("admin API: storage failed: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("storage failed: {e}"))
    }
}

/// The body of a request about `device`; refused with `413` (and logged) when decoding it as
/// JSON would take more memory than the admin decode budget ([`Budgets::admin_decode_factor`]).
pub(crate) fn budgeted_body(
    body: Result<Bytes, BytesRejection>,
    budgets: &Budgets,
    device: &str,
) -> Result<Bytes, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    if let Err(over) = budgets.check_admin_body(&body) {
        tracing::warn!(device = %ngtt_proto::Escaped(device), "admin request refused: {over}");
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, over.to_string()));
    }
    Ok(body)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.code, Json(json!({ "status": self.reason }))).into_response()
    }
}

/// An order as JSON: `{"id", "device", "state", "deliveries", "queued_at", "sent_at",
/// "answered_at", "answered_via", "sections"}`.
pub(crate) fn order_json(order: &OrderRecord) -> Json_ {
    let sections = match minijson::from_slice::<minijson::Value>(&order.sections) {
        Ok(value) => Json_::from(value),
        Err(e) => {
            tracing::error!(order = order.id, "stored sections are not MiniJSON: {e}");
            Json_::Null
        }
    };
    json!({
        "id": order.id,
        "device": order.device_id,
        "state": order.state.as_str(),
        "deliveries": order.deliveries,
        "queued_at": order.queued_at_ms,
        "sent_at": order.sent_at_ms,
        "answered_at": order.answered_at_ms,
        "answered_via": order.answered_via.map(|v| v.as_str()),
        "sections": sections,
    })
}

/// A device as JSON.
pub(crate) fn device_json(device: &DeviceRecord, connected: bool) -> Json_ {
    let environment = device
        .environment
        .and_then(ngtt_proto::Environment::from_i64)
        .map(|e| e.name());
    json!({
        "device": device.device_id,
        "connected": connected,
        "environment": environment,
        "first_connected_at": device.first_connected_ms,
        "last_connected_at": device.last_connected_ms,
    })
}

/// A log record as JSON: `exception_text` as sent, `exception_traceback` decoded within
/// `per_field` bytes (the JSON document inside it, or `{"undecodable": reason}`), both `null`
/// when absent.
pub(crate) fn log_json(log: &LogEntry, per_field: usize) -> Json_ {
    json!({
        "id": log.id,
        "service": log.service,
        "when": log.when_us,
        "level": log.level,
        "message": log.message,
        "exception_text": log.exception_text,
        "exception_traceback": log
            .exception_traceback
            .as_deref()
            .map(|t| traceback_for_display(t, per_field)),
        "received_at": log.received_at_ms,
    })
}
