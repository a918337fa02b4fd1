//! The rustls server configuration: the server's certificate, and mandatory client
//! certificates chaining to the device CA.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsPems;
use crate::error::ServerError;

fn certificates(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ServerError::Pem { what, source })?;
    if certs.is_empty() {
        return Err(ServerError::NoCertificate(what));
    }
    Ok(certs)
}

/// A TLS acceptor for `pems`: TLS 1.2 and 1.3 with the ring provider; a client must present a
/// certificate that chains to `device_ca` and is valid now (rustls/webpki check the signature,
/// the validity period and the client-auth usage).
pub(crate) fn acceptor(pems: &TlsPems) -> Result<TlsAcceptor, ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in certificates(&pems.device_ca, "device CA")? {
        roots.add(ca)?;
    }
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider)).build()?;
    let chain = certificates(&pems.server_cert, "server certificate")?;
    let key =
        PrivateKeyDer::from_pem_slice(pems.server_key.as_bytes()).map_err(|source| ServerError::Pem {
            what: "server key",
            source,
        })?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
