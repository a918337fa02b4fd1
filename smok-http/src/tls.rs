//! The rustls client configuration (ring provider), built by `ngtt_net::tls` as the server's
//! and the NGTT device's are: the CAs to trust and, in [`AuthMode::ClientCertificate`], the
//! device's certificate and key.

use ngtt_net::tls::{self, PemIdentity};

use crate::config::{AuthMode, HttpConfig};
use crate::error::HttpError;

/// Checks that the device's certificate chain parses.
pub(crate) fn device_chain(config: &HttpConfig) -> Result<(), HttpError> {
    tls::certificates(&config.cert_pem, "the device certificate")?;
    Ok(())
}

/// The TLS configuration for `config`. Without any CA there is nothing to trust: an error
/// (unless the caller only talks plain HTTP, where this is not called).
pub(crate) fn client_config(config: &HttpConfig) -> Result<rustls::ClientConfig, HttpError> {
    if config.ca_pems.is_empty() {
        return Err(HttpError::Config(
            "no CA to verify the server with: add one with HttpConfig::with_ca_pem".into(),
        ));
    }
    let roots = tls::roots(config.ca_pems.iter().map(String::as_str), "CA PEM")?;
    let identity = match config.auth {
        AuthMode::ClientCertificate => Some(PemIdentity {
            cert_pem: &config.cert_pem,
            key_pem: &config.key_pem,
            name: "the device",
        }),
        AuthMode::ProxyHeader => None,
    };
    Ok(tls::client_config(roots, identity)?)
}
