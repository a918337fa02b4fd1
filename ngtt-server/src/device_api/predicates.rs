//! `GET /v1/device/predicates` (HTTP-API.md §7.8) and `POST /v1/device/alarms` (§7.9).

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
use crate::storage::events::EventReport;
use crate::storage::predicates::Predicate;

type AppState = Arc<DeviceApiState>;

/// Largest `POST /v1/device/alarms` body.
pub(super) const MAX_ALARMS_BODY: usize = 4 << 20;
/// Most events in one alarms batch.
pub(super) const MAX_ALARMS: usize = 10_000;

/// `GET /v1/device/predicates`: every predicate with every field (`group` and `silencing`
/// included: the client needs `group` for predicates it knows).
pub(super) async fn predicates(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
) -> Response {
    let result = async {
        let device = id.device_id;
        let list = state.db.list_predicates(&device).await?;
        Ok(list.iter().map(Predicate::to_json).collect::<Vec<_>>())
    };
    format.answer(result.await)
}

/// `POST /v1/device/alarms`: creates or updates the events of the batch in one transaction and
/// answers `[{"uuid"}]`, one per element, by position. A bad element refuses the whole batch.
pub(super) async fn alarms(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let items: Vec<Value> =
            decode_body(&headers, body, &state.budgets).map_err(|f| f.context("not a list of events"))?;
        if items.len() > MAX_ALARMS {
            return Err(Fault::bad_request(format!(
                "{} events in one batch; at most {MAX_ALARMS}",
                items.len()
            )));
        }
        let events = items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                EventReport::from_json(v).map_err(|e| Fault::bad_request(format!("event {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let device = id.device_id.clone();
        let uuids = state.db.report_events(&device, &events).await?;
        if !uuids.is_empty() {
            tracing::info!(device = %ngtt_proto::Escaped(&id.device_id), events = uuids.len(), "events reported");
        }
        Ok(uuids
            .into_iter()
            .map(|u| json!({ "uuid": u }))
            .collect::<Vec<_>>())
    };
    format.answer(result.await)
}
