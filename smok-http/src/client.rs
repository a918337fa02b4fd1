//! [`HttpClient`]: one method per endpoint of the device HTTP API.

use ngtt_proto::payload::{LogRecord, PathpointSeries, Section};
use ngtt_proto::DeviceIdentity;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use crate::config::{AuthMode, HttpConfig};
use crate::error::HttpError;
use crate::sensors::{list_or_empty, Lenient, SensorDefinition, SensorWriteRecord};
use crate::types::{DeviceInfo, PathpointRegistration};
use crate::{tls, wire};

/// The header carrying the device certificate in [`AuthMode::ProxyHeader`].
pub const CERT_HEADER: &str = "X-SSL-Client-Certificate";

/// A client of the device HTTP API. Cheap to clone (connections are pooled and shared).
#[derive(Clone, Debug)]
pub struct HttpClient {
    http: reqwest::Client,
    base: Url,
    identity: DeviceIdentity,
    cert_header: Option<HeaderValue>,
    accept_minijson: bool,
}

/// The certificate PEM in header form: every newline replaced by a tab.
pub fn header_form(cert_pem: &str) -> String {
    cert_pem.trim().replace("\r\n", "\n").replace('\n', "\t")
}

impl HttpClient {
    /// A client as `config` says. Fails ([`HttpError::Config`], [`HttpError::Tls`]) on an
    /// unreadable certificate or key, no CA for an `https` server, no base URL (local development without an
    /// override), or client-certificate authentication over plain `http`.
    pub fn new(config: HttpConfig) -> Result<HttpClient, HttpError> {
        let identity = config.identity()?;
        tls::device_chain(&config)?;
        let base = config.resolved_base_url()?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // No idle timeout: the pool's reaper would wake the process every 90 s for nothing
            // (a device polls more often than that, so its connection is never idle that long);
            // a connection the server closes is dropped when its end is read.
            .pool_idle_timeout(None)
            .user_agent(concat!("smok-http/", env!("CARGO_PKG_VERSION")));
        if base.scheme() == "https" {
            builder = builder.use_preconfigured_tls(tls::client_config(&config)?);
        } else if config.auth == AuthMode::ClientCertificate {
            return Err(HttpError::Config(format!(
                "{base} is plain HTTP: a client certificate needs https (or use AuthMode::ProxyHeader)"
            )));
        }
        let cert_header = match config.auth {
            AuthMode::ClientCertificate => None,
            AuthMode::ProxyHeader => Some(HeaderValue::from_str(&header_form(&config.cert_pem)).map_err(
                |e| HttpError::Config(format!("the certificate cannot be sent as a header: {e}")),
            )?),
        };
        let http = builder
            .build()
            .map_err(|e| HttpError::Config(format!("HTTP client: {e}")))?;
        Ok(HttpClient {
            http,
            base,
            identity,
            cert_header,
            accept_minijson: config.accept_minijson,
        })
    }

    /// Where requests go (paths are appended to it).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The device identity from the certificate.
    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// A request to `url` with the headers every request carries (authentication, `Accept`).
    pub(crate) fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, url);
        if self.accept_minijson {
            request = request.header(ACCEPT, wire::ACCEPT_MINIJSON);
        }
        if let Some(cert) = &self.cert_header {
            request = request.header(CERT_HEADER, cert.clone());
        }
        request
    }

    /// Sends `request`; on 2xx returns the answer's headers and body, else the classified error.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::header::HeaderMap, bytes::Bytes), HttpError> {
        let no_link = |e: reqwest::Error| {
            if e.is_builder() {
                HttpError::Config(e.to_string())
            } else {
                HttpError::NoLink { source: e }
            }
        };
        let response = request.send().await.map_err(no_link)?;
        let status = response.status();
        let headers = response.headers().clone();
        let answer = response.bytes().await.map_err(no_link)?;
        if status.is_success() {
            Ok((headers, answer))
        } else {
            Err(wire::fault(status, content_type(&headers), &answer))
        }
    }

    /// Sends one request; on 2xx returns the answer's Content-Type and body.
    pub(crate) async fn exchange(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Vec<u8>>,
    ) -> Result<(String, bytes::Bytes), HttpError> {
        self.exchange_at(method, self.url(segments), body).await
    }

    /// [`HttpClient::exchange`] to a ready URL.
    pub(crate) async fn exchange_at(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<(String, bytes::Bytes), HttpError> {
        let request = self.request(method, url);
        let request = match body {
            Some(bytes) => request.header(CONTENT_TYPE, wire::MINIJSON).body(bytes),
            None => request.header(reqwest::header::CONTENT_LENGTH, 0),
        };
        let (headers, answer) = self.send(request).await?;
        Ok((content_type(&headers).to_owned(), answer))
    }

    pub(crate) async fn typed<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Vec<u8>>,
    ) -> Result<T, HttpError> {
        let (content_type, answer) = self.exchange(method, segments, body).await?;
        wire::decode(&content_type, &answer)
    }

    /// `GET /v1/device`: the device's id, name, facets, culture context and slave devices.
    pub async fn device_info(&self) -> Result<DeviceInfo, HttpError> {
        self.typed(Method::GET, &["v1", "device"], None).await
    }

    /// `POST /v1/device/orders`: the waiting orders as a list of sections (empty if none).
    ///
    /// **Handing out counts as acknowledged**: the server forgets these orders when it
    /// answers, so orders in an answer lost on the way (a [`HttpError::NoLink`] after the
    /// request was sent) are lost. NGTT does not have this flaw.
    pub async fn fetch_orders(&self) -> Result<Vec<Section>, HttpError> {
        self.typed(Method::POST, &["v1", "device", "orders"], None).await
    }

    /// `POST /v1/device/orders/message/{uuid}`: reports the `message` order `uuid` as executed.
    /// Safe to repeat.
    pub async fn report_message(&self, uuid: &str) -> Result<(), HttpError> {
        let segments = ["v1", "device", "orders", "message", uuid];
        self.exchange(Method::POST, &segments, None).await.map(drop)
    }

    /// `POST /v1/device/pathpoints`: uploads pathpoint data. A 4xx
    /// ([`HttpError::is_clients_fault`]) means the data is refused for good: drop it.
    /// Re-sending after no link is safe where the server deduplicates samples (ngtt-server
    /// stores each device, path and timestamp once).
    pub async fn sync_pathpoints(&self, series: &[PathpointSeries]) -> Result<(), HttpError> {
        let body = wire::encode(series)?;
        self.exchange(Method::POST, &["v1", "device", "pathpoints"], Some(body))
            .await
            .map(drop)
    }

    /// `PUT /v1/device/pathpoints`: registers pathpoints; answers all of the device's
    /// registered pathpoints.
    pub async fn register_pathpoints(
        &self,
        pathpoints: &[PathpointRegistration],
    ) -> Result<Vec<PathpointRegistration>, HttpError> {
        let body = wire::encode(pathpoints)?;
        self.typed(Method::PUT, &["v1", "device", "pathpoints"], Some(body))
            .await
    }

    /// `PUT /v1/device/device_logs`: uploads log records. Re-sending after no link may store
    /// duplicates.
    pub async fn send_logs(&self, logs: &[LogRecord]) -> Result<(), HttpError> {
        let body = wire::encode(logs)?;
        self.exchange(Method::PUT, &["v1", "device", "device_logs"], Some(body))
            .await
            .map(drop)
    }

    /// A list answer decoded one entry at a time: an empty body or `null` is an empty list, an
    /// entry that does not decode is kept as [`Lenient::Invalid`], anything but a list is a
    /// [`HttpError::Decode`].
    pub(crate) async fn lenient_list<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Vec<u8>>,
    ) -> Result<Vec<Lenient<T>>, HttpError> {
        let (content_type, answer) = self.exchange(method, segments, body).await?;
        let value = if answer.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(wire::decode::<serde_json::Value>(&content_type, &answer)?)
        };
        list_or_empty(value).map_err(HttpError::Decode)
    }

    /// `PUT /v1/device/pathpoints`, with the answer decoded entry by entry: a malformed entry
    /// of the server's list is returned as [`Lenient::Invalid`] instead of failing the call.
    pub async fn register_pathpoints_lenient(
        &self,
        pathpoints: &[PathpointRegistration],
    ) -> Result<Vec<Lenient<PathpointRegistration>>, HttpError> {
        let body = wire::encode(pathpoints)?;
        self.lenient_list(Method::PUT, &["v1", "device", "pathpoints"], Some(body))
            .await
    }

    /// `GET /v1/device/sensors`: the device's sensors, the full list each time (an empty
    /// answer means none). Each entry is decoded on its own ([`Lenient`]).
    pub async fn sensors(&self) -> Result<Vec<Lenient<SensorDefinition>>, HttpError> {
        self.lenient_list(Method::GET, &["v1", "device", "sensors"], None)
            .await
    }

    /// `PUT /v1/device/sensor/write_log`: uploads sensor write records. A 4xx means they are
    /// refused for good. Re-sending after no link is safe where the server de-duplicates on
    /// (`timestamp`, `fqts`).
    pub async fn send_sensor_writes(&self, records: &[SensorWriteRecord]) -> Result<(), HttpError> {
        let body = wire::encode(records)?;
        self.exchange(Method::PUT, &["v1", "device", "sensor", "write_log"], Some(body))
            .await
            .map(drop)
    }
}

/// The media type of an answer (empty when it has none).
pub(crate) fn content_type(headers: &reqwest::header::HeaderMap) -> &str {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
