//! The rustls server configurations: the server's certificate, and client certificates
//! chaining to the device CA (mandatory for NGTT; for the device HTTP API, optional only when
//! proxy headers are trusted). The PEM handling itself is `ngtt_net::tls`'s, shared with the
//! device and HTTP clients.

use std::sync::Arc;

use ngtt_net::tls::{self, ClientAuth, PemIdentity};
use rustls::server::danger::ClientCertVerifier;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsPems;
use crate::error::ServerError;
use crate::tls_tickets::TicketKeys;

/// A verifier of client certificates chaining to the device CA and valid now (rustls/webpki
/// check the signature, the validity period and the client-auth usage). With `optional`, a
/// client may also present no certificate at all.
pub(crate) fn client_verifier(
    pems: &TlsPems,
    optional: bool,
) -> Result<Arc<dyn ClientCertVerifier>, ServerError> {
    Ok(tls::client_verifier(&pems.device_ca, auth(optional))?)
}

fn auth(optional: bool) -> ClientAuth {
    match optional {
        true => ClientAuth::Optional,
        false => ClientAuth::Required,
    }
}

/// A TLS server configuration for `pems`: TLS 1.2 and 1.3 with the ring provider, client certificates
/// chaining to the device CA and valid now, required or (`auth`) optional, and records of at
/// most `max_record` bytes of plaintext (`None`: rustls's default, 16 KiB).
fn server_config(
    pems: &TlsPems,
    auth: ClientAuth,
    max_record: Option<usize>,
) -> Result<rustls::ServerConfig, ServerError> {
    let verifier = tls::client_verifier(&pems.device_ca, auth)?;
    let server = PemIdentity {
        cert_pem: &pems.server_cert,
        key_pem: &pems.server_key,
        name: "server",
    };
    let mut config = tls::server_config(server, verifier)?;
    // rustls counts the 5-byte record header in its limit.
    config.max_fragment_size = max_record.map(|plaintext| plaintext + RECORD_HEADER);
    Ok(config)
}

/// The size of a TLS record header.
const RECORD_HEADER: usize = 5;

/// The NGTT acceptor: a client must present a certificate that chains to `device_ca`; records
/// carry at most `max_record` bytes of plaintext (NGTT.md §8). With `tickets`, sessions resume
/// with stateless TLS 1.3 tickets sealed by those keys ([`crate::tls_tickets`]), one ticket per
/// handshake (a device keeps one connection; a second would be bytes on a metered link);
/// without, none.
pub(crate) fn acceptor(
    pems: &TlsPems,
    max_record: usize,
    tickets: Option<Arc<TicketKeys>>,
) -> Result<TlsAcceptor, ServerError> {
    let mut config = server_config(pems, ClientAuth::Required, Some(max_record))?;
    // No session state kept per client (rustls's default cache of 256): with tickets the
    // state travels in the ticket, without them nothing resumes.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    match tickets {
        Some(tickets) => {
            config.ticketer = tickets;
            config.send_tls13_tickets = 1;
        }
        None => config.send_tls13_tickets = 0,
    }
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The device HTTP API's acceptor: like [`acceptor`], except that with `optional_client_cert`
/// (proxy headers trusted) a client may present no certificate and identify itself by header.
pub(crate) fn http_acceptor(pems: &TlsPems, optional_client_cert: bool) -> Result<TlsAcceptor, ServerError> {
    let config = server_config(pems, auth(optional_client_cert), None)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The admin API's acceptor (`--admin-tls`): the server's certificate, no client certificates
/// (the bearer token authenticates), TLS 1.2 and 1.3 with the ring provider.
pub(crate) fn admin_acceptor(pems: &TlsPems) -> Result<TlsAcceptor, ServerError> {
    let chain = tls::certificates(&pems.server_cert, "server certificate")?;
    let key = tls::private_key(&pems.server_key, "server key")?;
    let config = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| ServerError::Config(format!("the admin API's TLS configuration: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
