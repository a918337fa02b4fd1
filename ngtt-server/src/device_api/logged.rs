//! Answers of the device-resource handlers, with each refusal logged once: the device, the
//! route, the status and the reason (escaped: reasons quote what the device sent).

use axum::response::Response;
use serde::Serialize;

use super::wire::{Fault, Format};

/// `result` as an answer in `format`; a 4xx is logged at info level (a 5xx was logged where
/// it arose).
pub(super) fn answer<T: Serialize>(
    format: Format,
    device: &str,
    route: &'static str,
    result: Result<T, Fault>,
) -> Response {
    if let Err(fault) = &result {
        if fault.status.is_client_error() {
            tracing::info!(device = %ngtt_proto::Escaped(device), route, status = fault.status.as_u16(), reason = ?fault.reason, "device HTTP request refused");
        }
    }
    format.answer(result)
}
