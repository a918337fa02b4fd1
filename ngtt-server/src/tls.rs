//! The rustls server configurations: the server's certificate, and client certificates
//! chaining to the device CA (mandatory for NGTT; for the device HTTP API, optional only when
//! proxy headers are trusted).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
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

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A verifier of client certificates chaining to `device_ca` and valid now (rustls/webpki
/// check the signature, the validity period and the client-auth usage). With `optional`, a
/// client may also present no certificate at all.
pub(crate) fn client_verifier(
    pems: &TlsPems,
    optional: bool,
) -> Result<Arc<dyn ClientCertVerifier>, ServerError> {
    let mut roots = RootCertStore::empty();
    for ca in certificates(&pems.device_ca, "device CA")? {
        roots.add(ca)?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = if optional {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    Ok(builder.build()?)
}

/// A TLS acceptor for `pems`: TLS 1.2 and 1.3 with the ring provider, client certificates
/// checked by `verifier`, records of at most `max_record` bytes of plaintext (`None`: 16 KiB).
fn acceptor_with(
    pems: &TlsPems,
    verifier: Arc<dyn ClientCertVerifier>,
    max_record: Option<usize>,
) -> Result<TlsAcceptor, ServerError> {
    let chain = certificates(&pems.server_cert, "server certificate")?;
    let key =
        PrivateKeyDer::from_pem_slice(pems.server_key.as_bytes()).map_err(|source| ServerError::Pem {
            what: "server key",
            source,
        })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    // rustls counts the 5-byte record header in its limit.
    config.max_fragment_size = max_record.map(|plaintext| plaintext + RECORD_HEADER);
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The size of a TLS record header.
const RECORD_HEADER: usize = 5;

/// The NGTT acceptor: a client must present a certificate that chains to `device_ca`; records
/// carry at most `max_record` bytes of plaintext (NGTT.md §8).
pub(crate) fn acceptor(pems: &TlsPems, max_record: usize) -> Result<TlsAcceptor, ServerError> {
    acceptor_with(pems, client_verifier(pems, false)?, Some(max_record))
}

/// The device HTTP API's acceptor: like [`acceptor`], except that with `optional_client_cert`
/// (proxy headers trusted) a client may present no certificate and identify itself by header.
pub(crate) fn http_acceptor(pems: &TlsPems, optional_client_cert: bool) -> Result<TlsAcceptor, ServerError> {
    acceptor_with(pems, client_verifier(pems, optional_client_cert)?, None)
}
