//! Who is asking: the device identity of a request, from the TLS client certificate of its
//! connection or — only when proxy headers are trusted — from `X-SSL-Client-Certificate`.
//!
//! The header carries the certificate PEM with every newline replaced by a tab (other
//! certificates after the first are taken as intermediates). Even when trusted, the header's
//! certificate must chain to the device CA and be valid now, checked by the same webpki
//! verifier as a TLS client certificate; a proxy that forwards any certificate therefore cannot
//! introduce devices from another CA. A client certificate of the connection always wins over
//! the header.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use ngtt_proto::DeviceIdentity;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

use super::refusals::DeviceSlot;
use super::wire::{Fault, Format};
use super::DeviceApiState;

/// The header a TLS-terminating proxy puts the client certificate in.
pub(crate) const CERT_HEADER: &str = "x-ssl-client-certificate";

/// What the connection a request came on says about its peer (a request extension).
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    /// The peer's address.
    pub(crate) peer: SocketAddr,
    /// The identity from the TLS client certificate: `None` without one (plain HTTP, or TLS
    /// with optional client certificates), `Err` when it carries no usable identity.
    pub(crate) cert: Option<Result<DeviceIdentity, String>>,
}

/// The device a request is from (an extractor; refuses the request when it cannot tell).
#[derive(Clone, Debug)]
pub(crate) struct Device(pub(crate) DeviceIdentity);

impl FromRequestParts<Arc<DeviceApiState>> for Device {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<DeviceApiState>) -> Result<Device, Response> {
        // A refusal is logged by the refusals layer, with the device recorded here.
        let identity = identify(parts, state).map_err(|fault| fault.respond(Format::of(&parts.headers)))?;
        if let Some(slot) = parts.extensions.get::<DeviceSlot>() {
            slot.set(&identity.device_id);
        }
        Ok(Device(identity))
    }
}

fn identify(parts: &Parts, state: &DeviceApiState) -> Result<DeviceIdentity, Fault> {
    let conn = parts
        .extensions
        .get::<ConnInfo>()
        .ok_or_else(|| Fault::new(StatusCode::INTERNAL_SERVER_ERROR, "no connection information"))?;
    match &conn.cert {
        Some(Ok(identity)) => return Ok(identity.clone()),
        Some(Err(reason)) => return Err(Fault::new(StatusCode::FORBIDDEN, reason.clone())),
        None => {}
    }
    let Some(verifier) = &state.header_verifier else {
        return Err(Fault::new(StatusCode::UNAUTHORIZED, "no client certificate"));
    };
    let header = parts.headers.get(CERT_HEADER).ok_or_else(|| {
        Fault::new(
            StatusCode::UNAUTHORIZED,
            "no client certificate and no X-SSL-Client-Certificate header",
        )
    })?;
    let text = header
        .to_str()
        .map_err(|_| Fault::bad_request("the X-SSL-Client-Certificate header is not ASCII"))?;
    identity_from_header(text, verifier.as_ref()).map_err(|reason| Fault::new(StatusCode::FORBIDDEN, reason))
}

/// The certificates a header value carries: tabs turned back into newlines (a proxy or the
/// published client put every line break of the file there as a tab, HTTP-API.md §2.1), any
/// text before or between the PEM blocks — OpenSSL's text dump that certificate files often
/// start with — skipped; the first `CERTIFICATE` block is the leaf, later ones intermediates.
pub(crate) fn header_certificates(text: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = text.replace("\r\n", "\n").replace(['\t', '\r'], "\n");
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the X-SSL-Client-Certificate header is not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("the X-SSL-Client-Certificate header holds no certificate".into());
    }
    Ok(certs)
}

/// Decodes and verifies the header's certificate; returns the device identity it carries.
pub(crate) fn identity_from_header(
    text: &str,
    verifier: &dyn ClientCertVerifier,
) -> Result<DeviceIdentity, String> {
    let certs = header_certificates(text)?;
    let (leaf, intermediates) = certs
        .split_first()
        .ok_or("the X-SSL-Client-Certificate header holds no certificate")?;
    verifier
        .verify_client_cert(leaf, intermediates, UnixTime::now())
        .map_err(|e| format!("the certificate in X-SSL-Client-Certificate is not trusted: {e}"))?;
    DeviceIdentity::from_der(leaf).map_err(|e| format!("the certificate has no usable device identity: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published client's development certificate: OpenSSL's text dump, then the PEM block.
    const FIXTURE: &str = include_str!("../../../ngtt-proto/tests/fixtures/smok-dev-testing-device.crt");

    #[test]
    fn the_published_clients_header_is_read() {
        // As the client sends it: CRLF to LF, then every LF to a tab.
        let header = FIXTURE.replace("\r\n", "\n").replace('\n', "\t");
        assert!(header.len() > 5_000 && !header.contains('\n'));
        let certs = header_certificates(&header).expect("one certificate");
        assert_eq!(certs.len(), 1);
        let identity = DeviceIdentity::from_der(&certs[0]).expect("identity");
        assert_eq!(identity.device_id, "1");
        assert_eq!(identity.environment, ngtt_proto::Environment::LocalDevelopment);
    }

    #[test]
    fn headers_without_a_certificate_are_refused() {
        assert!(header_certificates("Certificate:\tData: nothing").is_err());
        assert!(header_certificates("-----BEGIN CERTIFICATE-----\t!!!\t-----END CERTIFICATE-----").is_err());
    }
}
