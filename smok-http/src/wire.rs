//! Bodies on the wire: requests in MiniJSON; answers decoded by their `Content-Type`
//! (`application/minijson`, else JSON); error answers reduced to their `{"status": reason}`.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::HttpError;

/// The media type of MiniJSON.
pub(crate) const MINIJSON: &str = "application/minijson";

/// What the client asks for with `Accept` when it prefers MiniJSON.
pub(crate) const ACCEPT_MINIJSON: &str = "application/minijson, application/json;q=0.5";

/// How much of a non-JSON error body goes into a reason.
const REASON_MAX: usize = 300;

/// `value` as a MiniJSON request body.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, HttpError> {
    minijson::to_vec(value).map_err(|e| HttpError::Encode(e.to_string()))
}

fn is_minijson(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(MINIJSON))
}

/// Decodes an answer body as `T`: MiniJSON when `content_type` says so, JSON otherwise.
pub(crate) fn decode<T: DeserializeOwned>(content_type: &str, body: &[u8]) -> Result<T, HttpError> {
    if is_minijson(content_type) {
        minijson::from_slice(body).map_err(|e| HttpError::Decode(format!("MiniJSON answer: {e}")))
    } else {
        serde_json::from_slice(body).map_err(|e| HttpError::Decode(format!("JSON answer: {e}")))
    }
}

/// The error for a non-2xx answer: [`HttpError::Refused`] for 4xx, [`HttpError::ServerFault`]
/// for everything else, with the answer's reason.
pub(crate) fn fault(status: StatusCode, content_type: &str, body: &[u8]) -> HttpError {
    let reason = reason(status, content_type, body);
    let status = status.as_u16();
    if (400..500).contains(&status) {
        HttpError::Refused { status, reason }
    } else {
        HttpError::ServerFault { status, reason }
    }
}

/// The `status` string of an error answer; else the start of its text; else the status line.
fn reason(status: StatusCode, content_type: &str, body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = decode::<serde_json::Value>(content_type, body) {
        if let Some(serde_json::Value::String(reason)) = map.get("status") {
            return reason.clone();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return status
            .canonical_reason()
            .map_or_else(|| format!("HTTP {}", status.as_u16()), str::to_owned);
    }
    let mut cut = text.len().min(REASON_MAX);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_and_reasons() {
        let mj = minijson::to_vec(&vec![1u8]).unwrap();
        assert_eq!(decode::<Vec<u8>>("application/MiniJSON; x=y", &mj).unwrap(), [1]);
        assert_eq!(decode::<Vec<u8>>("", b"[2]").unwrap(), [2]);
        assert!(matches!(
            decode::<Vec<u8>>("application/json", &mj),
            Err(HttpError::Decode(_))
        ));

        let body = minijson::to_vec(&serde_json::json!({"status": "no such pathpoint"})).unwrap();
        let e = fault(StatusCode::BAD_REQUEST, MINIJSON, &body);
        assert!(e.is_clients_fault());
        assert_eq!(e.reason(), Some("no such pathpoint"));
        let e = fault(StatusCode::SERVICE_UNAVAILABLE, "text/html", b"  <h1>down</h1> ");
        assert!(e.is_server_fault());
        assert_eq!(e.reason(), Some("<h1>down</h1>"));
        let e = fault(StatusCode::BAD_GATEWAY, "", b"");
        assert_eq!(e.reason(), Some("Bad Gateway"));
        assert!(fault(StatusCode::MOVED_PERMANENTLY, "", b"").is_server_fault());
    }
}
