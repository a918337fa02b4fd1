//! The device HTTP API's encodings: request bodies in MiniJSON (`application/minijson`, also
//! the assumption when no `Content-Type` is given) or JSON (`application/json`); answers in
//! JSON, or MiniJSON when the request says `Accept: application/minijson`; errors as
//! `{"status": reason}` in the same negotiated encoding.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::FromRequestParts;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::budgets::{Budgets, Encoding, Shape};
use crate::storage::StorageError;

/// The media type of MiniJSON bodies.
pub(crate) const MINIJSON: &str = "application/minijson";
const JSON: &str = "application/json";

/// How an answer is encoded, from the request's `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `application/json` (the default).
    Json,
    /// `application/minijson`, when the request accepts it.
    MiniJson,
}

impl Format {
    /// MiniJSON when any `Accept` media range is `application/minijson` (not with `q=0`).
    pub(crate) fn of(headers: &HeaderMap) -> Format {
        let accepts = headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or("");
                let refused = parts.any(|param| {
                    param
                        .split_once('=')
                        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                        .and_then(|(_, q)| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                media.eq_ignore_ascii_case(MINIJSON) && !refused
            });
        if accepts {
            Format::MiniJson
        } else {
            Format::Json
        }
    }

    /// `value` encoded in this format, with `status`.
    pub(crate) fn reply<T: Serialize + ?Sized>(self, status: StatusCode, value: &T) -> Response {
        let encoded = match self {
            Format::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
            Format::MiniJson => minijson::to_vec(value).map_err(|e| e.to_string()),
        };
        match encoded {
            Ok(body) => {
                let media = match self {
                    Format::Json => JSON,
                    Format::MiniJson => MINIJSON,
                };
                (status, [(CONTENT_TYPE, HeaderValue::from_static(media))], body).into_response()
            }
            Err(e) => {
                tracing::error!("device HTTP API: cannot encode an answer: {e}");
                let body = serde_json::json!({"status": format!("cannot encode the answer: {e}")});
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
            }
        }
    }

    /// `result` as an answer: `200` with the value, or the fault.
    pub(crate) fn answer<T: Serialize>(self, result: Result<T, Fault>) -> Response {
        match result {
            Ok(value) => self.reply(StatusCode::OK, &value),
            Err(fault) => fault.respond(self),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Format, Infallible> {
        Ok(Format::of(&parts.headers))
    }
}

/// A refused request: a status code (4xx the client's fault, 5xx the server's) and a reason.
#[derive(Debug)]
pub(crate) struct Fault {
    pub(crate) status: StatusCode,
    pub(crate) reason: String,
}

impl Fault {
    pub(crate) fn new(status: StatusCode, reason: impl Into<String>) -> Fault {
        Fault {
            status,
            reason: reason.into(),
        }
    }

    pub(crate) fn bad_request(reason: impl Into<String>) -> Fault {
        Fault::new(StatusCode::BAD_REQUEST, reason)
    }

    /// The same fault, its reason prefixed by what the body should have been
    /// (`"not a list of events: …"`).
    pub(crate) fn context(self, what: &str) -> Fault {
        Fault::new(self.status, format!("{what}: {}", self.reason))
    }

    /// `{"status": reason}` in `format`; a 4xx also carries the reason for the log
    /// ([`super::refusals`]).
    pub(crate) fn respond(self, format: Format) -> Response {
        let mut response = format.reply(self.status, &serde_json::json!({ "status": self.reason }));
        if self.status.is_client_error() {
            response
                .extensions_mut()
                .insert(super::refusals::Refused(self.reason));
        }
        response
    }
}

impl From<StorageError> for Fault {
    fn from(e: StorageError) -> Fault {
        tracing::error!("device HTTP API: storage failed: {e}");
        Fault::new(StatusCode::INTERNAL_SERVER_ERROR, format!("storage failed: {e}"))
    }
}

impl From<BytesRejection> for Fault {
    fn from(e: BytesRejection) -> Fault {
        Fault::new(e.status(), e.body_text())
    }
}

/// Decodes a request body as `T`, in the encoding its `Content-Type` names, within the decode
/// budget (`413` beyond it; see [`Budgets::check_decoded`]).
pub(crate) fn decode_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    budgets: &Budgets,
) -> Result<T, Fault> {
    decode_shaped(headers, body, budgets, Shape::Values)
}

/// [`decode_body`] for a body decoded into `shape`.
pub(crate) fn decode_shaped<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    budgets: &Budgets,
    shape: Shape,
) -> Result<T, Fault> {
    let body = body?;
    let media = headers
        .get(CONTENT_TYPE)
        .map(|v| {
            v.to_str()
                .map(|s| s.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
                .map_err(|_| Fault::bad_request("the Content-Type header is not text"))
        })
        .transpose()?;
    let encoding = match media.as_deref() {
        Some(JSON) => Encoding::Json,
        _ => Encoding::MiniJson,
    };
    Budgets::check_decoded(budgets.decode_factor, encoding, shape, &body)
        .map_err(|over| Fault::new(StatusCode::PAYLOAD_TOO_LARGE, over.to_string()))?;
    match media.as_deref() {
        None | Some(MINIJSON) => {
            minijson::from_slice(&body).map_err(|e| Fault::bad_request(format!("invalid MiniJSON body: {e}")))
        }
        Some(JSON) => {
            serde_json::from_slice(&body).map_err(|e| Fault::bad_request(format!("invalid JSON body: {e}")))
        }
        Some(other) => Err(Fault::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {other:?}: send {MINIJSON} or {JSON}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Format {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(v).unwrap());
        Format::of(&h)
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(Format::of(&HeaderMap::new()), Format::Json);
        assert_eq!(accept("application/minijson"), Format::MiniJson);
        assert_eq!(
            accept("application/json, application/MiniJSON;q=0.9"),
            Format::MiniJson
        );
        assert_eq!(accept("application/minijson;q=0"), Format::Json);
        assert_eq!(accept("application/minijson; q=0.0"), Format::Json);
        assert_eq!(accept("*/*"), Format::Json);
    }

    #[test]
    fn body_decoding_by_content_type() {
        let b = &Budgets::default();
        let mut h = HeaderMap::new();
        let mj = Bytes::from(minijson::to_vec(&vec![1u8, 2]).unwrap());
        assert_eq!(decode_body::<Vec<u8>>(&h, Ok(mj.clone()), b).unwrap(), [1, 2]);
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(
            decode_body::<Vec<u8>>(&h, Ok(Bytes::from("[3]")), b).unwrap(),
            [3]
        );
        assert_eq!(
            decode_body::<Vec<u8>>(&h, Ok(mj), b).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let err = decode_body::<Vec<u8>>(&h, Ok(Bytes::from("[3]")), b).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // A body of tiny values over the decode budget.
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let zeros = Bytes::from(serde_json::to_vec(&vec![0u8; 1 << 20]).unwrap());
        let err = decode_body::<Vec<u8>>(&h, Ok(zeros), b).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.reason.contains("decode budget"), "{}", err.reason);
    }
}
