//! The BAOB resources of the device HTTP API (HTTP-API.md §7.10): the round that says what to
//! transfer, the download and the multipart upload.

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::HttpClient;
use crate::error::HttpError;
use crate::wire;

/// The header carrying a downloaded BAOB's version.
pub const BAOB_VERSION_HEADER: &str = "X-SMOK-BAOB-Version";

/// One BAOB the device holds, as listed in `POST /v1/device/baobs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaobVersion {
    /// The BAOB's key.
    pub key: String,
    /// The version the device holds.
    pub version: i64,
}

/// The answer of `POST /v1/device/baobs`: what to do with which key. All three lists are
/// required (a server that leaves one out sent a malformed answer); an entry of a list that is
/// not a string does not fail the answer: it is kept, as JSON text, in `malformed`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawPlan")]
pub struct BaobPlan {
    /// Keys deleted on the server: delete them locally.
    pub should_delete: Vec<String>,
    /// Keys newer on the server: download them.
    pub should_download: Vec<String>,
    /// Keys newer on the device (or new): upload them.
    pub should_upload: Vec<String>,
    /// List entries that were not strings (JSON text), to be logged and skipped.
    #[serde(skip_serializing)]
    pub malformed: Vec<String>,
}

/// [`BaobPlan`] as sent.
#[derive(Deserialize)]
struct RawPlan {
    should_delete: Vec<serde_json::Value>,
    should_download: Vec<serde_json::Value>,
    should_upload: Vec<serde_json::Value>,
}

impl From<RawPlan> for BaobPlan {
    fn from(raw: RawPlan) -> Self {
        let mut malformed = Vec::new();
        let mut keys = |list: Vec<serde_json::Value>| -> Vec<String> {
            let mut out = Vec::with_capacity(list.len());
            for v in list {
                match v {
                    serde_json::Value::String(s) => out.push(s),
                    other => malformed.push(other.to_string()),
                }
            }
            out
        };
        let should_delete = keys(raw.should_delete);
        let should_download = keys(raw.should_download);
        let should_upload = keys(raw.should_upload);
        BaobPlan {
            should_delete,
            should_download,
            should_upload,
            malformed,
        }
    }
}

/// A downloaded BAOB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadedBaob {
    /// The version the server holds (from `X-SMOK-BAOB-Version`): store exactly this one.
    pub version: i64,
    /// The contents.
    pub data: Bytes,
}

impl HttpClient {
    /// `POST /v1/device/baobs`: lists every BAOB the device holds; the server answers what to
    /// delete, download and upload.
    pub async fn baob_round(&self, held: &[BaobVersion]) -> Result<BaobPlan, HttpError> {
        let body = wire::encode(held)?;
        self.typed(Method::POST, &["v1", "device", "baobs"], Some(body))
            .await
    }

    /// `GET /v1/device/baobs/{key}`: the contents and the version (a missing or unreadable
    /// version header is a [`HttpError::Decode`]). Contents longer than `max_len` bytes are
    /// refused as a [`HttpError::Decode`] before more than `max_len` is read.
    pub async fn baob_download(&self, key: &str, max_len: usize) -> Result<DownloadedBaob, HttpError> {
        let request = self.request(Method::GET, self.url(&["v1", "device", "baobs", key]));
        let no_link = |e: reqwest::Error| HttpError::NoLink { source: e };
        let too_large = || HttpError::Decode(format!("the BAOB is larger than {max_len} bytes"));
        let mut response = request.send().await.map_err(no_link)?;
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            let body = response.bytes().await.map_err(no_link)?;
            return Err(wire::fault(status, crate::client::content_type(&headers), &body));
        }
        if response.content_length().is_some_and(|n| n > max_len as u64) {
            return Err(too_large());
        }
        let mut data = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(no_link)? {
            if data.len() + chunk.len() > max_len {
                return Err(too_large());
            }
            data.extend_from_slice(&chunk);
        }
        let data = data.freeze();
        let version = headers
            .get(BAOB_VERSION_HEADER)
            .ok_or_else(|| HttpError::Decode(format!("no {BAOB_VERSION_HEADER} header")))?
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v >= 0)
            .ok_or_else(|| HttpError::Decode(format!("{BAOB_VERSION_HEADER} is not a version")))?;
        Ok(DownloadedBaob { version, data })
    }

    /// `PUT /v1/device/baobs/{key}`: uploads the contents at `version` (multipart parts `file`
    /// and `data` = `{"version":N}`). The server stores the version as sent, and refuses
    /// (`409`) one that is not higher than its own.
    pub async fn baob_upload(&self, key: &str, data: Bytes, version: i64) -> Result<(), HttpError> {
        let meta = serde_json::to_vec(&serde_json::json!({ "version": version }))
            .map_err(|e| HttpError::Encode(e.to_string()))?;
        let form = Form::new()
            .part("file", Part::stream(data).file_name("file"))
            .part("data", Part::bytes(meta).file_name("data"));
        let request = self
            .request(Method::PUT, self.url(&["v1", "device", "baobs", key]))
            .multipart(form);
        self.send(request).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_need_all_three_lists() {
        let plan: BaobPlan =
            serde_json::from_str(r#"{"should_delete":[],"should_download":["a"],"should_upload":[]}"#)
                .unwrap();
        assert_eq!(plan.should_download, ["a"]);
        assert!(serde_json::from_str::<BaobPlan>(r#"{"should_download":["a"]}"#).is_err());
        let odd: BaobPlan =
            serde_json::from_str(r#"{"should_delete":[5],"should_download":["a",null],"should_upload":[]}"#)
                .unwrap();
        assert_eq!(
            (odd.should_download, odd.malformed),
            (vec!["a".to_owned()], vec!["5".to_owned(), "null".to_owned()])
        );
        let held = wire::encode(&[BaobVersion {
            key: "k".into(),
            version: 3,
        }])
        .unwrap();
        let back: Vec<BaobVersion> = minijson::from_slice(&held).unwrap();
        assert_eq!(back[0].version, 3);
    }
}
