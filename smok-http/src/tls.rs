//! The rustls client configuration (ring provider): the CAs to trust and, in
//! [`AuthMode::ClientCertificate`], the device's certificate and key.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{AuthMode, HttpConfig};
use crate::error::HttpError;

fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, HttpError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| HttpError::Config(format!("invalid PEM in {what}: {e}")))?;
    if certs.is_empty() {
        return Err(HttpError::Config(format!("{what} contains no certificate")));
    }
    Ok(certs)
}

/// The device's certificate chain (leaf first), checked to parse.
pub(crate) fn device_chain(config: &HttpConfig) -> Result<Vec<CertificateDer<'static>>, HttpError> {
    certificates(&config.cert_pem, "the device certificate")
}

/// The TLS configuration for `config`. Without any CA there is nothing to trust: an error
/// (unless the caller only talks plain HTTP, where this is not called).
pub(crate) fn client_config(config: &HttpConfig) -> Result<rustls::ClientConfig, HttpError> {
    if config.ca_pems.is_empty() {
        return Err(HttpError::Config(
            "no CA to verify the server with: add one with HttpConfig::with_ca_pem".into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    for (i, pem) in config.ca_pems.iter().enumerate() {
        for ca in certificates(pem, &format!("CA PEM #{}", i + 1))? {
            roots
                .add(ca)
                .map_err(|e| HttpError::Config(format!("CA PEM #{}: {e}", i + 1)))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    match config.auth {
        AuthMode::ClientCertificate => {
            let chain = device_chain(config)?;
            let key = PrivateKeyDer::from_pem_slice(config.key_pem.as_bytes())
                .map_err(|e| HttpError::Config(format!("the device key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| HttpError::Config(format!("the device certificate and key: {e}")))
        }
        AuthMode::ProxyHeader => Ok(builder.with_no_client_auth()),
    }
}
