//! The device HTTP API (HTTP-API.md), served on the same storage as NGTT.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /v1/device` | the device information ([`device_info`]) |
//! | `POST /v1/device/orders` | the pending orders' sections, concatenated in queue order; the orders are confirmed on hand-out |
//! | `POST /v1/device/orders/message/{uuid}` | `{"uuid", "new"}`: the report is recorded |
//! | `POST /v1/device/pathpoints` | body: list of series → `{"stored": new samples}`, plus `"rejected"` for malformed series skipped |
//! | `PUT /v1/device/pathpoints` | body: `[{"path", "storage_level"}]` → all of the device's pathpoints |
//! | `PUT /v1/device/device_logs` | body: list of log records → `{"stored", "skipped"}` |
//! | `GET /v1/device/sensors` | `[{"fqts", "path", "type"}]` |
//! | `PUT /v1/device/sensor/write_log` | body: list of write records → `{"stored"}` |
//! | `GET /v1/device/predicates` | every predicate, every field |
//! | `POST /v1/device/alarms` | body: list of events → `[{"uuid"}]` by position |
//! | `GET`, `PATCH /v1/device/instrumentation/{slave_id}` | `{"linkstate", "instrumentation"}` |
//! | `POST /v1/device/baobs`, `GET`/`PUT /v1/device/baobs/{key}` | BAOB rounds and contents ([`baobs`]) |
//! | `GET /v1/device/macro/occurrences/{start}-{stop}`, `POST /v1/device/macros/{id}/{ts}` | macros ([`macros`]) |
//! | `GET /v1/device/pathpoints/archived` | archive settings ([`archives`]) |
//! | `GET`, `PUT`, `DELETE /v1/device/metadata/plain/{key}` | plain metadata ([`metadata`]) |
//!
//! The device is identified as NGTT identifies it ([`auth`]); bodies and answers are MiniJSON
//! or JSON ([`wire`]); bodies are limited to [`crate::MAX_HTTP_BODY`]. Errors are
//! `{"status": reason}`: 4xx for the client's faults (never resend), 5xx when storage fails.

mod archives;
mod auth;
pub(crate) mod baobs;
mod body_deadline;
mod device_info;
mod handlers;
pub(crate) mod macros;
pub(crate) mod metadata;
mod predicates;
mod refusals;
mod sensors;
mod serve;
mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use rustls::server::danger::ClientCertVerifier;

use crate::registry::Registry;
use crate::storage::Db;

pub(crate) use body_deadline::BodyPace;
pub(crate) use serve::{serve, HttpListener};

/// What the handlers share.
pub(crate) struct DeviceApiState {
    pub(crate) db: Db,
    pub(crate) registry: Registry,
    /// Set when the proxy header is trusted: verifies its certificate against the device CA.
    pub(crate) header_verifier: Option<Arc<dyn ClientCertVerifier>>,
    /// Largest BAOB a device may upload, in bytes.
    pub(crate) max_baob_len: u64,
    /// What a device's bodies may cost.
    pub(crate) budgets: crate::Budgets,
}

/// The router of the device HTTP API.
pub(crate) fn router(state: Arc<DeviceApiState>) -> Router {
    let max_baob_len = state.max_baob_len;
    Router::new()
        .route("/v1/device", get(device_info::device))
        .route("/v1/device/orders", post(handlers::orders))
        .route("/v1/device/orders/message/{uuid}", post(handlers::message))
        .route(
            "/v1/device/pathpoints",
            post(handlers::upload).put(handlers::register),
        )
        .route("/v1/device/device_logs", axum::routing::put(handlers::logs))
        .route("/v1/device/sensors", get(sensors::sensors))
        .route(
            "/v1/device/sensor/write_log",
            put(sensors::write_log).layer(DefaultBodyLimit::max(sensors::MAX_WRITE_LOG_BODY)),
        )
        .route("/v1/device/predicates", get(predicates::predicates))
        .route(
            "/v1/device/alarms",
            post(predicates::alarms).layer(DefaultBodyLimit::max(predicates::MAX_ALARMS_BODY)),
        )
        .route(
            "/v1/device/instrumentation/{slave_id}",
            get(device_info::get_instrumentation)
                .patch(device_info::patch_instrumentation)
                .layer(DefaultBodyLimit::max(device_info::MAX_INSTRUMENTATION_BODY)),
        )
        .merge(baobs::routes(max_baob_len))
        .merge(macros::routes())
        .merge(archives::routes())
        .merge(metadata::routes())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(crate::config::MAX_HTTP_BODY))
        .layer(axum::middleware::from_fn(refusals::log_refusals))
        .with_state(state)
}
