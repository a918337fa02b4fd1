//! Plain metadata (HTTP-API.md §7.13), archive settings (§7.12) and slave-device
//! instrumentation (§7.14).

use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};

use crate::client::HttpClient;
use crate::error::HttpError;
use crate::sensors::Lenient;
use crate::wire;

/// A plain metadata value and the time of its last write (epoch seconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetadataValue {
    /// The value.
    pub value: String,
    /// When it was written, seconds since the epoch.
    pub timestamp: f64,
}

/// One entry of `GET /v1/device/pathpoints/archived`: read these pathpoints every `interval`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchiveEntry {
    /// How often, in **seconds**.
    pub interval: f64,
    /// The pathpoints.
    pub pathpoints: Vec<String>,
}

/// The answer of `GET /v1/device/instrumentation/{slave_id}`, as sent: both fields required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawInstrumentation {
    /// The link state as JSON text.
    pub linkstate: String,
    /// Free text describing the slave's condition.
    pub instrumentation: String,
}

/// A slave's link state: `{"status": bool, "failed_devices"?: [int]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaveLinkState {
    /// Whether the link is up.
    pub status: bool,
    /// Addresses of failed devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_devices: Vec<i64>,
}

/// `key` form-quoted (space as `+`, everything but `[A-Za-z0-9*._-]` as `%XX`), as the server
/// decodes metadata keys.
pub fn form_quote(key: &str) -> String {
    form_urlencoded::byte_serialize(key.as_bytes()).collect()
}

impl HttpClient {
    fn metadata_url(&self, key: &str) -> Url {
        let mut url = self.url(&["v1", "device", "metadata", "plain"]);
        let path = format!("{}/{}", url.path().trim_end_matches('/'), form_quote(key));
        url.set_path(&path);
        url
    }

    /// `GET /v1/device/metadata/plain/{key}`: the value, or `None` when the key does not exist
    /// (404).
    pub async fn metadata_get(&self, key: &str) -> Result<Option<MetadataValue>, HttpError> {
        match self.exchange_at(Method::GET, self.metadata_url(key), None).await {
            Ok((content_type, body)) => wire::decode(&content_type, &body).map(Some),
            Err(HttpError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /v1/device/metadata/plain/{key}`: stores `value` unless the server's copy was
    /// written after `written_at` (epoch seconds, sent in double precision).
    pub async fn metadata_put(&self, key: &str, value: &str, written_at: f64) -> Result<(), HttpError> {
        #[derive(Serialize)]
        struct Put<'a> {
            value: &'a str,
            unless_timestamp_higher: f64,
        }
        let body = wire::encode(&Put {
            value,
            unless_timestamp_higher: written_at,
        })?;
        self.exchange_at(Method::PUT, self.metadata_url(key), Some(body))
            .await
            .map(drop)
    }

    /// `DELETE /v1/device/metadata/plain/{key}`: idempotent.
    pub async fn metadata_delete(&self, key: &str) -> Result<(), HttpError> {
        self.exchange_at(Method::DELETE, self.metadata_url(key), None)
            .await
            .map(drop)
    }

    /// `GET /v1/device/pathpoints/archived`: which pathpoints to read at which interval, each
    /// entry decoded on its own ([`Lenient`]).
    pub async fn archived(&self) -> Result<Vec<Lenient<ArchiveEntry>>, HttpError> {
        self.lenient_list(Method::GET, &["v1", "device", "pathpoints", "archived"], None)
            .await
    }

    /// `GET /v1/device/instrumentation/{slave_id}`, as sent.
    pub async fn instrumentation(&self, slave_id: &str) -> Result<RawInstrumentation, HttpError> {
        self.typed(Method::GET, &["v1", "device", "instrumentation", slave_id], None)
            .await
    }

    /// `PATCH /v1/device/instrumentation/{slave_id}` with `{"linkstate": "<JSON text>"}`.
    pub async fn patch_linkstate(&self, slave_id: &str, state: &SlaveLinkState) -> Result<(), HttpError> {
        let text = serde_json::to_string(state).map_err(|e| HttpError::Encode(e.to_string()))?;
        self.patch_instrumentation_field(slave_id, "linkstate", &text)
            .await
    }

    /// `PATCH /v1/device/instrumentation/{slave_id}` with `{"instrumentation": text}`.
    pub async fn patch_instrumentation(&self, slave_id: &str, text: &str) -> Result<(), HttpError> {
        self.patch_instrumentation_field(slave_id, "instrumentation", text)
            .await
    }

    async fn patch_instrumentation_field(
        &self,
        slave_id: &str,
        field: &str,
        text: &str,
    ) -> Result<(), HttpError> {
        let body = wire::encode(&serde_json::json!({ field: text }))?;
        let segments = ["v1", "device", "instrumentation", slave_id];
        self.exchange(Method::PATCH, &segments, Some(body))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_quoted_and_link_states_compact() {
        assert_eq!(form_quote("key with space/slash"), "key+with+space%2Fslash");
        assert_eq!(form_quote("a+b"), "a%2Bb");
        let state = SlaveLinkState {
            status: false,
            failed_devices: vec![3],
        };
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            r#"{"status":false,"failed_devices":[3]}"#
        );
        let up: SlaveLinkState = serde_json::from_str(r#"{"status":true}"#).unwrap();
        assert!(up.status && up.failed_devices.is_empty());
        assert!(serde_json::from_str::<SlaveLinkState>("{}").is_err());
    }
}
