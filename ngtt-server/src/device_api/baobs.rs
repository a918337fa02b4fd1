//! BAOBs on the device HTTP API (HTTP-API.md §7.10):
//!
//! * `POST /v1/device/baobs`: the device's `[{key, version}]` → `{should_delete,
//!   should_download, should_upload}`, by the rules of [`crate::storage::baob::reconcile`];
//! * `GET /v1/device/baobs/{key}`: the raw bytes, streamed from storage, with
//!   `X-SMOK-BAOB-Version`;
//! * `PUT /v1/device/baobs/{key}`: `multipart/form-data` with a `file` part (the bytes, streamed
//!   to storage) and a `data` part (`{"version": N}`); the version is stored as sent, and only
//!   when it is higher than the server's (`409` otherwise, nothing stored).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::auth::Device;
use super::wire::{decode_body, Fault, Format};
use super::DeviceApiState;
use crate::storage::baob::{
    reconcile as plan_round, valid_baob_key, BaobWrite, VersionRule, Writer, MAX_BAOBS_PER_DEVICE,
};
use crate::storage::baob_stream::{download_body, Stager};

type AppState = Arc<DeviceApiState>;

/// The header that carries a BAOB's version.
pub(crate) const VERSION_HEADER: &str = "x-smok-baob-version";
/// Largest body of `POST /v1/device/baobs`.
const MAX_ROUND_BODY: usize = 1 << 20;
/// Largest `data` part of an upload.
const MAX_DATA_PART: usize = 4096;
/// What a multipart body may carry beyond the file itself (boundaries, part headers, `data`).
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The routes, with their body limits (`max_baob_len` for uploads).
pub(super) fn routes(max_baob_len: u64) -> Router<AppState> {
    let upload_limit = usize::try_from(max_baob_len.saturating_add(MULTIPART_OVERHEAD)).unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/v1/device/baobs",
            post(round).layer(DefaultBodyLimit::max(MAX_ROUND_BODY)),
        )
        .route(
            "/v1/device/baobs/{key}",
            get(download)
                .put(upload)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
}

/// One element of the round's body.
#[derive(Debug, Deserialize)]
struct Held {
    key: String,
    version: i64,
}

/// `POST /v1/device/baobs`: which BAOBs the device must delete, download and upload.
async fn round(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let held: Vec<Held> = decode_body(&headers, body, &state.budgets)
            .map_err(|f| f.context("not a list of {key, version}"))?;
        if held.len() > MAX_BAOBS_PER_DEVICE {
            return Err(Fault::bad_request(format!(
                "{} BAOBs listed: a device may have at most {MAX_BAOBS_PER_DEVICE}",
                held.len()
            )));
        }
        let mut device = BTreeMap::new();
        for (i, h) in held.into_iter().enumerate() {
            if h.version < 0 {
                return Err(Fault::bad_request(format!(
                    "BAOB {i} ({:?}): version {} is negative",
                    h.key, h.version
                )));
            }
            if let Err(e) = valid_baob_key(&h.key) {
                // Never downloadable nor uploadable: left out, so that the others still sync.
                tracing::warn!(device = %ngtt_proto::Escaped(&id.device_id), "BAOB round: key left out: {}", ngtt_proto::Escaped(&e.to_string()));
                continue;
            }
            if device.insert(h.key.clone(), h.version).is_some() {
                return Err(Fault::bad_request(format!("BAOB {:?} is listed twice", h.key)));
            }
        }
        let dev = id.device_id.clone();
        let records = state.db.list_baobs(&dev).await?;
        let plan = plan_round(&device, &records);
        tracing::debug!(device = %ngtt_proto::Escaped(&id.device_id), ?plan, "BAOB round");
        Ok(json!({
            "should_delete": plan.should_delete,
            "should_download": plan.should_download,
            "should_upload": plan.should_upload,
        }))
    };
    format.answer(result.await)
}

fn key_of(path: Result<Path<String>, PathRejection>) -> Result<String, Fault> {
    let Path(key) = path.map_err(|e| Fault::bad_request(e.body_text()))?;
    valid_baob_key(&key).map_err(Fault::bad_request)?;
    Ok(key)
}

/// `GET /v1/device/baobs/{key}`: the raw bytes, `X-SMOK-BAOB-Version`, `Content-Length`.
async fn download(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let key = key_of(path)?;
        let (dev, k) = (id.device_id.clone(), key.clone());
        let record = state.db.baob(&dev, &k).await?;
        match record {
            Some(r) if !r.deleted => Ok(r),
            Some(_) => Err(Fault::new(
                StatusCode::NOT_FOUND,
                format!("BAOB {key:?} was deleted"),
            )),
            None => Err(Fault::new(StatusCode::NOT_FOUND, format!("no BAOB {key:?}"))),
        }
    };
    match result.await {
        Ok(record) => baob_response(&state.db, id.device_id, &record),
        Err(fault) => fault.respond(format),
    }
}

/// A `200` carrying `record`'s contents, streamed from storage.
pub(crate) fn baob_response(
    db: &crate::storage::Db,
    device: String,
    record: &crate::storage::baob::BaobRecord,
) -> Response {
    let content = record.content.unwrap_or_default();
    let body = download_body(db.clone(), device, content, record.size);
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(VERSION_HEADER, HeaderValue::from(record.version));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(record.size));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    response
}

/// The `data` part: `{"version": N}`.
#[derive(Debug, Deserialize)]
struct UploadData {
    version: i64,
}

fn multipart_fault(e: MultipartError) -> Fault {
    Fault::new(e.status(), format!("invalid multipart body: {}", e.body_text()))
}

/// `PUT /v1/device/baobs/{key}`: stores the `file` part as `key` with the `data` part's version.
async fn upload(
    State(state): State<AppState>,
    format: Format,
    Device(id): Device,
    path: Result<Path<String>, PathRejection>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let result = async {
        let key = key_of(path)?;
        let mut multipart = multipart.map_err(|e| Fault::new(e.status(), e.body_text()))?;
        let mut file: Option<Stager> = None;
        let mut version: Option<i64> = None;
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_fault)? {
            let name = field.name().map(str::to_owned);
            match name.as_deref() {
                Some("file") if file.is_none() => {
                    let mut stager = Stager::new(state.db.clone(), &id.device_id, state.max_baob_len);
                    while let Some(chunk) = field.chunk().await.map_err(multipart_fault)? {
                        stager.push(&chunk).await.map_err(|e| {
                            let (status, reason) = e.answer();
                            Fault::new(status, reason)
                        })?;
                    }
                    file = Some(stager);
                }
                Some("data") if version.is_none() => {
                    let mut data = Vec::new();
                    while let Some(chunk) = field.chunk().await.map_err(multipart_fault)? {
                        if data.len() + chunk.len() > MAX_DATA_PART {
                            return Err(Fault::bad_request(format!(
                                "the data part is larger than {MAX_DATA_PART} bytes"
                            )));
                        }
                        data.extend_from_slice(&chunk);
                    }
                    let parsed: UploadData = serde_json::from_slice(&data).map_err(|e| {
                        Fault::bad_request(format!("the data part is not JSON {{\"version\": N}}: {e}"))
                    })?;
                    if parsed.version < 0 {
                        return Err(Fault::bad_request(format!(
                            "version {} is negative",
                            parsed.version
                        )));
                    }
                    version = Some(parsed.version);
                }
                Some(name @ ("file" | "data")) => {
                    return Err(Fault::bad_request(format!("the {name} part is given twice")));
                }
                other => {
                    return Err(Fault::bad_request(format!(
                        "unexpected part {other:?}: send \"file\" and \"data\""
                    )));
                }
            }
        }
        let file = file.ok_or_else(|| Fault::bad_request("no file part"))?;
        let version = version.ok_or_else(|| Fault::bad_request("no data part with the version"))?;
        let size = file.size();
        let outcome = file
            .commit(
                &key,
                VersionRule::DeviceUpload(version),
                Writer::Device,
                MAX_BAOBS_PER_DEVICE,
            )
            .await?;
        match outcome {
            BaobWrite::Stored(version) => {
                tracing::info!(
                    device = %ngtt_proto::Escaped(&id.device_id),
                    key = %ngtt_proto::Escaped(&key),
                    version,
                    size,
                    "BAOB uploaded by the device"
                );
                Ok(json!({"key": key, "version": version, "size": size}))
            }
            refused => Err(refusal(&key, version, &refused)),
        }
    };
    format.answer(result.await)
}

/// The `409` of a refused write.
pub(crate) fn refusal(key: &str, version: i64, outcome: &BaobWrite) -> Fault {
    let reason = match outcome {
        BaobWrite::Stale { current } => {
            format!("BAOB {key:?} is at version {current} here: version {version} is not newer")
        }
        BaobWrite::Deleted { current } => {
            format!("BAOB {key:?} was deleted on the server (at version {current})")
        }
        BaobWrite::TooMany { limit } => format!("a device may have at most {limit} BAOBs"),
        BaobWrite::Stored(_) => String::from("stored"),
    };
    Fault::new(StatusCode::CONFLICT, reason)
}
