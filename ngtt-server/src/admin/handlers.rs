//! The admin API's request handlers.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use ngtt_proto::payload::{Order, Section};
use serde_json::{json, Value};

use super::reply::{device_json, log_json, order_json, ApiError};
use super::AdminState;
use crate::storage::{OrderState, SeriesQuery};

type AppState = Arc<AdminState>;
pub(super) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;
type Answer = Result<Json<Value>, ApiError>;

/// Order types a device knows (NGTT.md §5).
const KNOWN_ORDER_TYPES: [&str; 5] = ["read", "write", "wait", "sysctl", "message"];

pub(super) fn device_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    check_device_id(&id)?;
    Ok(id)
}

/// Refuses a device id no device can have: empty, over 255 bytes, or with a control character.
pub(super) fn check_device_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 255 || id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("invalid device id {id:?}")));
    }
    Ok(())
}

/// The query parameters, refusing any not in `allowed`.
pub(super) fn params(query: Params, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let Query(map) = query.map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))?;
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter {unknown:?} (allowed: {})",
            allowed.join(", ")
        )));
    }
    Ok(map)
}

/// Parameter `key` parsed as a `T`, `None` when absent.
fn param<T: FromStr>(map: &HashMap<String, String>, key: &str) -> Result<Option<T>, ApiError> {
    map.get(key)
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid {key} {v:?}")))
        })
        .transpose()
}

/// `?limit=`: 1..=max, `default` when absent.
pub(super) fn limit(map: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, ApiError> {
    match param::<usize>(map, "limit")? {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit {n} is out of range 1..={max}"
        ))),
    }
}

/// Checks that `body` is a JSON list of sections and returns the ORDER payload: the same
/// document in MiniJSON (unknown fields kept as sent).
fn order_payload(body: &[u8], max_len: usize) -> Result<Vec<u8>, ApiError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    sections_payload(json, max_len)
}

/// Checks that `json` is a list of sections and returns the ORDER payload: the same document in
/// MiniJSON (unknown fields kept as sent).
pub(super) fn sections_payload(json: Value, max_len: usize) -> Result<Vec<u8>, ApiError> {
    let Value::Array(items) = &json else {
        return Err(ApiError::bad_request("expected a JSON list of sections"));
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("the list of sections is empty"));
    }
    for (i, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(ApiError::bad_request(format!(
                "section {i}: expected an object {{\"orders\": [...], \"disposition\": 0|1}}"
            )));
        }
        let section: Section = serde_json::from_value(item.clone())
            .map_err(|e| ApiError::bad_request(format!("section {i}: {e}")))?;
        for (j, order) in section.orders.iter().enumerate() {
            if let Order::Unrecognized { reason, .. } = order {
                // A type this server does not know is passed on (newer devices may know it);
                // a missing type or a malformed known order is an operator's mistake.
                if order.type_name().map_or(true, |t| KNOWN_ORDER_TYPES.contains(&t)) {
                    return Err(ApiError::bad_request(format!("section {i}, order {j}: {reason}")));
                }
            }
        }
    }
    let payload = minijson::to_vec(&minijson::Value::from(json))
        .map_err(|e| ApiError::bad_request(format!("cannot encode as MiniJSON: {e}")))?;
    if payload.len() > max_len {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the order is {} bytes as MiniJSON, more than the largest frame ({max_len} bytes)",
                payload.len()
            ),
        ));
    }
    Ok(payload)
}

/// `POST /v1/devices/{id}/orders`.
pub(super) async fn queue_order(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let device = device_id(path)?;
    let body = super::reply::budgeted_body(body, &state.budgets, &device)?;
    let payload = order_payload(&body, state.max_order_len)?;
    // Committed when it returns (with the device's claim, when its connection is ready).
    let id = crate::order_handoff::queue_order(&state.db, &state.registry, &device, payload.into()).await?;
    tracing::info!(device = %ngtt_proto::Escaped(&device), order = id, "order queued");
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// `GET /v1/orders/{id}`.
pub(super) async fn get_order(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let Path(raw) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let id: i64 = raw
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid order id {raw:?}")))?;
    match state.db.order(id).await? {
        Some(order) => Ok(Json(order_json(&order))),
        None => Err(ApiError::not_found(format!("no order {id}"))),
    }
}

/// `GET /v1/devices/{id}/orders?state=&limit=`.
pub(super) async fn list_orders(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Params,
) -> Answer {
    let device = device_id(path)?;
    let map = params(query, &["state", "limit"])?;
    let wanted = map
        .get("state")
        .map(|s| OrderState::from_str(s).map_err(ApiError::bad_request))
        .transpose()?;
    let limit = limit(&map, 1000, 100_000)?;
    let orders = state.db.list_orders(&device, wanted, limit).await?;
    Ok(Json(Value::Array(orders.iter().map(order_json).collect())))
}

/// `GET /v1/devices`.
pub(super) async fn list_devices(State(state): State<AppState>) -> Answer {
    let devices = state.db.list_devices().await?;
    let list = devices
        .iter()
        .map(|d| device_json(d, state.registry.is_connected(&d.device_id)))
        .collect();
    Ok(Json(Value::Array(list)))
}

/// `GET /v1/devices/{id}/pathpoints?path=&from=&to=&limit=`.
pub(super) async fn pathpoints(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Params,
) -> Answer {
    let device = device_id(path)?;
    let map = params(query, &["path", "from", "to", "limit"])?;
    let query = SeriesQuery {
        path: map.get("path").cloned(),
        from_ms: param(&map, "from")?,
        to_ms: param(&map, "to")?,
        limit: limit(&map, 10_000, 1_000_000)?,
    };
    let series = state.db.read_series(&device, &query).await?;
    serde_json::to_value(&series)
        .map(Json)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// `GET /v1/devices/{id}/logs?limit=`.
pub(super) async fn logs(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Params,
) -> Answer {
    let device = device_id(path)?;
    let map = params(query, &["limit"])?;
    let limit = limit(&map, 100, 10_000)?;
    let logs = state.db.read_logs(&device, limit).await?;
    Ok(Json(Value::Array(
        logs.iter()
            .map(|l| log_json(l, state.budgets.inflated_per_field))
            .collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str) -> Result<Vec<u8>, String> {
        order_payload(body.as_bytes(), 1 << 20).map_err(|e| e.reason)
    }

    #[test]
    fn order_validation() {
        assert!(check(r#"[{"orders": [{"type": "read", "path": "W1"}]}]"#).is_ok());
        assert!(check(r#"[{"orders": [{"type": "future-thing", "x": 1}], "disposition": 1}]"#).is_ok());
        assert!(check(r#"[{"orders": []}]"#).is_ok());
        for (bad, needle) in [
            ("nope", "invalid JSON"),
            (r#"{"orders": []}"#, "list of sections"),
            ("[]", "empty"),
            ("[1]", "section 0"),
            (r#"[{"disposition": 0}]"#, "orders"),
            (r#"[{"orders": [], "disposition": 7}]"#, "disposition"),
            (r#"[{"orders": [{"path": "W1"}]}]"#, "no type"),
            (
                r#"[{"orders": [{"type": "write", "path": "W1"}]}]"#,
                "invalid write order",
            ),
        ] {
            let err = check(bad).expect_err(bad);
            assert!(err.contains(needle), "{bad}: {err}");
        }
        let err = order_payload(br#"[{"orders": [{"type": "read", "path": "W1"}]}]"#, 10).unwrap_err();
        assert_eq!(err.code, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn payload_keeps_the_document() {
        let bytes =
            check(r#"[{"orders": [{"type": "write", "path": "W1", "value": 2.5, "extra": "kept"}]}]"#)
                .expect("valid");
        let value: minijson::Value = minijson::from_slice(&bytes).expect("MiniJSON");
        assert_eq!(value[0]["orders"][0]["extra"].as_str(), Some("kept"));
        let sections: Vec<Section> = minijson::from_slice(&bytes).expect("sections");
        assert_eq!(sections[0].orders[0], Order::write("W1", 2.5));
    }
}
