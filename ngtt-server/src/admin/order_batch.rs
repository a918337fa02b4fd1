//! `POST /v1/orders`: many orders, for one device or many, in one request and one commit.
//!
//! The body is a list of `{"device": ID, "sections": [...]}` (the sections as
//! `POST /v1/devices/{id}/orders` takes them), at most [`MAX_ORDER_BATCH`] long. Every entry is checked
//! before anything is stored: one bad entry refuses the request (`400`, naming its index) and
//! nothing is queued. The orders are then inserted in one transaction, in the list's order (a
//! device named twice gets both orders, in that order), and the answer, `201` with
//! `[{"device", "id"}]` by position, comes once that committed; each device's connection is
//! woken. Should the storage fail some orders and not others, the answer is `500` with the
//! reason and the same list, each entry with its `id` or its `error`.
//!
//! One order to each device of a fleet costs one request and one fsync per batch instead of one
//! request per device (docs/benchmarks.md, "Fan-out in batches").

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::handlers::{check_device_id, sections_payload};
use super::reply::{budgeted_body, ApiError};
use super::AdminState;

/// Most orders in one `POST /v1/orders` request.
pub const MAX_ORDER_BATCH: usize = 10_000;

/// One entry of the body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    device: String,
    sections: Value,
}

/// The checked batch: each device with its ORDER payload, in the body's order.
fn parse(body: &[u8], max_order_len: usize) -> Result<Vec<(String, bytes::Bytes)>, ApiError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let Value::Array(items) = json else {
        return Err(ApiError::bad_request(
            "expected a JSON list of {\"device\": ID, \"sections\": [...]}",
        ));
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("the list of orders is empty"));
    }
    if items.len() > MAX_ORDER_BATCH {
        return Err(ApiError::bad_request(format!(
            "{} orders in one request; at most {MAX_ORDER_BATCH}",
            items.len()
        )));
    }
    let at = |i: usize, e: ApiError| ApiError::new(e.code, format!("order {i}: {}", e.reason));
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let entry: Entry =
                serde_json::from_value(item).map_err(|e| ApiError::bad_request(format!("order {i}: {e}")))?;
            check_device_id(&entry.device).map_err(|e| at(i, e))?;
            let payload = sections_payload(entry.sections, max_order_len).map_err(|e| at(i, e))?;
            Ok((entry.device, payload.into()))
        })
        .collect()
}

/// `POST /v1/orders`.
pub(super) async fn queue_batch(
    State(state): State<Arc<AdminState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = budgeted_body(body, &state.budgets, "(batch)")?;
    let orders = parse(&body, state.max_order_len)?;
    let total = orders.len();
    let outcomes = crate::order_handoff::queue_orders(&state.db, &state.registry, orders).await?;
    let mut first_error = None;
    let answer: Vec<Value> = outcomes
        .into_iter()
        .map(|(device, outcome)| match outcome {
            Ok(id) => json!({ "device": device, "id": id }),
            Err(e) => {
                let error = format!("storage failed: {e}");
                first_error.get_or_insert_with(|| error.clone());
                json!({ "device": device, "error": error })
            }
        })
        .collect();
    match first_error {
        None => {
            tracing::info!(orders = total, "orders queued in one batch");
            Ok((StatusCode::CREATED, Json(Value::Array(answer))).into_response())
        }
        Some(error) => {
            let failed = answer.iter().filter(|a| a.get("error").is_some()).count();
            tracing::error!(
                orders = total,
                failed,
                "admin API: a batch of orders partly failed: {error}"
            );
            let status = format!("{failed} of {total} orders not queued: {error}");
            let body = json!({ "status": status, "orders": answer });
            Ok((StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ: &str = r#"[{"orders": [{"type": "read", "path": "W1"}]}]"#;

    fn batch(entries: &[(&str, &str)]) -> Vec<u8> {
        let items: Vec<String> = entries
            .iter()
            .map(|(device, sections)| format!(r#"{{"device": {device:?}, "sections": {sections}}}"#))
            .collect();
        format!("[{}]", items.join(",")).into_bytes()
    }

    #[test]
    fn a_batch_keeps_its_order_and_repeated_devices() {
        let parsed = parse(&batch(&[("a", READ), ("b", READ), ("a", READ)]), 1 << 20).unwrap();
        let devices: Vec<&str> = parsed.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(devices, ["a", "b", "a"]);
        let sections: minijson::Value = minijson::from_slice(&parsed[1].1).unwrap();
        assert_eq!(
            serde_json::Value::from(sections),
            serde_json::from_str::<Value>(READ).unwrap()
        );
    }

    #[test]
    fn one_bad_entry_refuses_the_batch_naming_it() {
        let cases: [(Vec<u8>, &str); 7] = [
            (b"{}".to_vec(), "expected a JSON list"),
            (b"[]".to_vec(), "empty"),
            (b"[1,".to_vec(), "invalid JSON"),
            (batch(&[("a", READ), ("", READ)]), "order 1: invalid device id"),
            (batch(&[("a", READ), ("b\n", READ)]), "order 1: invalid device id"),
            (
                batch(&[("a", READ), ("b", "[]")]),
                "order 1: the list of sections is empty",
            ),
            (
                br#"[{"device": "a", "sections": [], "extra": 1}]"#.to_vec(),
                "order 0: unknown field",
            ),
        ];
        for (body, reason) in cases {
            let e = parse(&body, 1 << 20).expect_err(reason);
            assert_eq!(e.code, StatusCode::BAD_REQUEST, "{reason}");
            assert!(e.reason.contains(reason), "{} !~ {reason}", e.reason);
        }
        let long = "x".repeat(256);
        assert!(parse(&batch(&[(&long, READ)]), 1 << 20).is_err());
    }

    #[test]
    fn the_batch_and_each_order_are_bounded() {
        let entries: Vec<(&str, &str)> = (0..=MAX_ORDER_BATCH).map(|_| ("a", READ)).collect();
        let e = parse(&batch(&entries), 1 << 20).unwrap_err();
        assert!(e.reason.contains("at most 10000"), "{}", e.reason);
        assert!(parse(&batch(&entries[..MAX_ORDER_BATCH]), 1 << 20).is_ok());
        let e = parse(&batch(&[("a", READ)]), 8).unwrap_err();
        assert_eq!(e.code, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(e.reason.starts_with("order 0: "), "{}", e.reason);
    }
}
