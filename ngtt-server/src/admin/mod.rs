//! The admin HTTP API (axum): queue and inspect orders, read back stored data.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /healthz` | `{"status": "ok"}` (no token needed) |
//! | `GET /v1/devices` | `[{"device", "connected", "environment", "first_connected_at", "last_connected_at"}]` |
//! | `POST /v1/devices/{id}/orders` | body: JSON list of sections → `201 {"id": n}` |
//! | `GET /v1/devices/{id}/orders[?state=&limit=]` | list of orders |
//! | `GET /v1/orders/{id}` | one order |
//! | `GET /v1/devices/{id}/pathpoints[?path=&from=&to=&limit=]` | list of series |
//! | `GET /v1/devices/{id}/logs[?limit=]` | the most recent log records, oldest first |
//! | `GET`, `PUT`, `PATCH /v1/devices/{id}/info` | the device information `GET /v1/device` serves (`/settings`: alias, GET and PUT) |
//! | `GET`, `PATCH /v1/devices/{id}/slaves/{slave}/instrumentation` | a slave device's link state and instrumentation |
//! | `GET`, `PUT /v1/devices/{id}/sensors`; `GET`, `PUT`, `DELETE …/sensors/{fqts}` | sensors |
//! | `GET /v1/devices/{id}/sensor-writes[?fqts=&limit=]` | the sensor write log |
//! | `GET /v1/devices/{id}/predicates`; `GET`, `PUT`, `PATCH`, `DELETE …/predicates/{pid}` | predicates, with silencing |
//! | `GET /v1/devices/{id}/events[?state=&limit=]`, `GET …/events/{uuid}`, `POST …/events/{uuid}/close` | events the device reported |
//! | `GET /v1/devices/{id}/messages[?limit=]` | message orders reported over the device HTTP API |
//! | `/v1/devices/{id}/baobs[/{key}]` | BAOBs ([`baobs`]) |
//! | `/v1/devices/{id}/macros[/{macro_id}]` | macros and their occurrences ([`macros`]) |
//! | `/v1/devices/{id}/archives` | archive settings ([`archives`]) |
//! | `/v1/devices/{id}/metadata[/{key}]` | plain metadata ([`metadata`]) |
//!
//! Errors are `{"status": reason}` with a 4xx code (5xx only when storage fails).
//!
//! Every request but `/healthz` needs `Authorization: Bearer <token>` (401 otherwise); bodies
//! must be `Content-Type: application/json` (415 otherwise), except BAOB uploads, which are
//! [`auth::BAOB_CONTENT_TYPE`]; the `Host` must be an IP address, `localhost` or a configured
//! name (421 otherwise, against DNS rebinding); requests with an `Origin` header (browsers)
//! are refused (403) unless the origin is allowed. See [`auth`].

mod archives;
pub mod auth;
mod baobs;
mod device_info;
mod events;
mod handlers;
mod macros;
mod metadata;
mod order_batch;
pub use order_batch::MAX_ORDER_BATCH;
mod predicates;
mod reply;
mod sensor_writes;
mod sensors;
mod settings;
mod tls_serve;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::registry::Registry;
use crate::storage::Db;
use reply::ApiError;

/// What the handlers share.
pub(crate) struct AdminState {
    pub(crate) db: Db,
    pub(crate) registry: Registry,
    /// The bearer token every `/v1` request must carry.
    pub(crate) token: String,
    /// Names accepted in `Host` besides IP addresses and `localhost`.
    pub(crate) hosts: Vec<String>,
    /// Browser origins allowed to call the API.
    pub(crate) allow_origins: Vec<String>,
    pub(crate) max_order_len: usize,
    /// Largest BAOB an operator may store, in bytes.
    pub(crate) max_baob_len: u64,
    /// What bodies may cost to decode; the bound for showing stored tracebacks.
    pub(crate) budgets: crate::Budgets,
}

type AppState = Arc<AdminState>;

/// The router of the admin API.
pub(crate) fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/devices", get(handlers::list_devices))
        .route(
            "/v1/devices/{id}/orders",
            post(handlers::queue_order).get(handlers::list_orders),
        )
        .route("/v1/orders", post(order_batch::queue_batch))
        .route("/v1/orders/{id}", get(handlers::get_order))
        .route("/v1/devices/{id}/pathpoints", get(handlers::pathpoints))
        .route("/v1/devices/{id}/logs", get(handlers::logs))
        .route(
            "/v1/devices/{id}/settings",
            get(device_info::get_info).put(device_info::put_info),
        )
        .route(
            "/v1/devices/{id}/info",
            get(device_info::get_info)
                .put(device_info::put_info)
                .patch(device_info::patch_info),
        )
        .route(
            "/v1/devices/{id}/slaves/{slave}/instrumentation",
            get(device_info::get_instrumentation).patch(device_info::patch_instrumentation),
        )
        .route(
            "/v1/devices/{id}/sensors",
            get(sensors::list).put(sensors::replace),
        )
        .route(
            "/v1/devices/{id}/sensors/{fqts}",
            get(sensors::get_one)
                .put(sensors::put_one)
                .delete(sensors::delete_one),
        )
        .route("/v1/devices/{id}/sensor-writes", get(sensor_writes::list))
        .route("/v1/devices/{id}/predicates", get(predicates::list))
        .route(
            "/v1/devices/{id}/predicates/{pid}",
            get(predicates::get_one)
                .put(predicates::put_one)
                .patch(predicates::patch_one)
                .delete(predicates::delete_one),
        )
        .route("/v1/devices/{id}/events", get(events::list))
        .route("/v1/devices/{id}/events/{uuid}", get(events::get_one))
        .route("/v1/devices/{id}/events/{uuid}/close", post(events::close))
        .route("/v1/devices/{id}/messages", get(settings::messages))
        .merge(baobs::routes(state.max_baob_len))
        .merge(macros::routes())
        .merge(archives::routes())
        .merge(metadata::routes())
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_token,
        ));
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .merge(v1)
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        // Orders must fit a frame; the handler reports the exact limit.
        .layer(DefaultBodyLimit::max(state.max_order_len.saturating_add(1 << 20)))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::check_origin,
        ))
        .with_state(state)
}

/// Serves the admin API on `listener` — over TLS with `tls` — until `shutdown` is cancelled,
/// then finishes the requests in progress.
pub(crate) async fn serve(
    listener: TcpListener,
    state: AppState,
    tls: Option<(tokio_rustls::TlsAcceptor, std::time::Duration)>,
    shutdown: CancellationToken,
) {
    let app = router(state);
    if let Some((acceptor, handshake_timeout)) = tls {
        tls_serve::serve_tls(listener, acceptor, handshake_timeout, app, shutdown).await;
        return;
    }
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = result {
        tracing::error!("admin API stopped: {e}");
    }
}
