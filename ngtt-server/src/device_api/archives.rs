//! Archive settings on the device HTTP API (HTTP-API.md §7.12):
//! `GET /v1/device/pathpoints/archived` → `[{"interval", "pathpoints"}]`, one entry per
//! interval (the client's cache keeps one per interval).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::auth::Device;
use super::wire::Format;
use super::DeviceApiState;

type AppState = Arc<DeviceApiState>;

/// The route.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/device/pathpoints/archived",
        get(archived).layer(DefaultBodyLimit::max(1024)),
    )
}

/// `GET /v1/device/pathpoints/archived`.
async fn archived(State(state): State<AppState>, format: Format, Device(id): Device) -> Response {
    let device = id.device_id;
    let result = state.db.archives(&device).await;
    format.answer(result.map_err(Into::into))
}
