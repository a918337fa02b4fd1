//! A client of the SMOK device HTTP API (HTTP-API.md): device settings, order polling,
//! message reports, pathpoint data and registrations, and logs, over HTTPS with the device's
//! client certificate (rustls with the ring provider; no OpenSSL).
//!
//! * [`HttpConfig`] takes the device certificate and key (PEM), the CA(s) to trust, and
//!   optionally a base URL; by default the base URL comes from the certificate's environment
//!   (production `https://api.smok.co`, staging `https://api.test.smok-serwis.pl`; local
//!   development has none and needs one set).
//! * [`AuthMode::ClientCertificate`] (mutual TLS) is the production mode;
//!   [`AuthMode::ProxyHeader`] sends the certificate in `X-SSL-Client-Certificate` for servers
//!   behind a TLS-terminating proxy.
//! * Requests are MiniJSON (`application/minijson`); answers are decoded by their
//!   `Content-Type` (MiniJSON or JSON) into [`ngtt_proto::payload`] types and [`DeviceInfo`].
//! * Every failure is one [`HttpError`] that says whether to retry: no link and 5xx — retry
//!   later; 4xx — never resend the same request. See `docs/http.md`.
//!
//! # Example
//!
//! Building a client needs no network; the base URL comes from the certificate:
//!
//! ```
//! use smok_http::{HttpClient, HttpConfig};
//! use ngtt_proto::Environment;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let ca = ngtt_pki::Ca::generate("example CA")?;
//! # let device = ca.issue_device("42", Environment::Production)?;
//! # let (cert_pem, key_pem, ca_pem) = (device.cert_pem, device.key_pem, ca.cert_pem().to_owned());
//! let config = HttpConfig::new(cert_pem, key_pem).with_ca_pem(ca_pem);
//! let client = HttpClient::new(config.clone())?;
//! assert_eq!(client.identity().device_id, "42");
//! assert_eq!(client.base_url().as_str(), "https://api.smok.co/");
//!
//! // Tests and local development point it elsewhere:
//! let local = HttpClient::new(config.with_base_url("https://127.0.0.1:8443"))?;
//! assert_eq!(local.base_url().as_str(), "https://127.0.0.1:8443/");
//!
//! // Then, in async code: `local.device_info().await?`, `local.fetch_orders().await?`, …
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod alarms;
mod baobs;
mod client;
mod config;
mod error;
mod resources;
mod sensors;
mod tls;
mod types;
mod wire;

pub use alarms::{
    EventReport, EventUuid, MacroCommand, MacroDefinition, MacroOccurrence, PredicateDefinition,
    SilencingPeriod, WeekTime,
};
pub use baobs::{BaobPlan, BaobVersion, DownloadedBaob, BAOB_VERSION_HEADER};
pub use client::{header_form, HttpClient, CERT_HEADER};
pub use config::{AuthMode, HttpConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use error::HttpError;
pub use resources::{form_quote, ArchiveEntry, MetadataValue, RawInstrumentation, SlaveLinkState};
pub use sensors::{Lenient, SensorDefinition, SensorWriteRecord};
pub use types::{CultureContext, DeviceInfo, PathpointRegistration, SlaveDevice, StorageLevel};
