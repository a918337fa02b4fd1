//! PEM into rustls configurations: the one place the NGTT crates build them, with the ring
//! provider and rustls' safe default protocol versions (TLS 1.2 and 1.3).
//!
//! The configurations are returned by value, so that a caller can still set what is its own
//! business (ALPN, the maximum TLS record size...) before wrapping them in an `Arc`.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// A certificate chain (leaf first) and its private key, both PEM. `name` says whose they are
/// in errors: `"server"` gives "server certificate" and "server key".
#[derive(Clone, Copy, Debug)]
pub struct PemIdentity<'a> {
    /// The certificate chain, leaf first.
    pub cert_pem: &'a str,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: &'a str,
    /// Whose they are, for errors.
    pub name: &'a str,
}

/// Whether a server requires a client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client must present a certificate chaining to the CA (NGTT).
    Required,
    /// A client may present no certificate; one it presents must chain to the CA (the device
    /// HTTP API behind a proxy that vouches for devices by header).
    Optional,
}

/// The crypto provider every configuration uses: ring.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every `CERTIFICATE` block of `pem`; an error when there is none. `what` names the input.
pub fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            what: what.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            what: what.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key of `pem`. `what` names the input.
pub fn private_key(pem: &str, what: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|source| TlsError::Pem {
        what: what.to_owned(),
        source,
    })
}

/// A trust store of every certificate in `pems`, each of which must hold at least one. `what`
/// names the inputs: the only one is called `what`, several are `what #1`, `what #2`...
pub fn roots<'a>(pems: impl IntoIterator<Item = &'a str>, what: &str) -> Result<RootCertStore, TlsError> {
    let pems: Vec<&str> = pems.into_iter().collect();
    let mut roots = RootCertStore::empty();
    for (i, pem) in pems.iter().enumerate() {
        let name = match pems.len() {
            1 => what.to_owned(),
            _ => format!("{what} #{}", i + 1),
        };
        for cert in certificates(pem, &name)? {
            roots.add(cert).map_err(|source| TlsError::Rustls {
                what: name.clone(),
                source,
            })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoCertificate {
            what: what.to_owned(),
        });
    }
    Ok(roots)
}

/// A verifier of client certificates chaining to `client_ca_pem` and valid now (rustls/webpki
/// check the signature, the validity period and the client-auth usage).
pub fn client_verifier(
    client_ca_pem: &str,
    auth: ClientAuth,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    const WHAT: &str = "device CA";
    let roots = roots([client_ca_pem], WHAT)?;
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = match auth {
        ClientAuth::Required => builder,
        ClientAuth::Optional => builder.allow_unauthenticated(),
    };
    builder.build().map_err(|source| TlsError::Verifier {
        what: WHAT.to_owned(),
        source,
    })
}

/// A server configuration presenting `server`, with client certificates checked by
/// `verifier` (see [`client_verifier`]).
pub fn server_config(
    server: PemIdentity<'_>,
    verifier: Arc<dyn ClientCertVerifier>,
) -> Result<ServerConfig, TlsError> {
    let chain = certificates(server.cert_pem, &format!("{} certificate", server.name))?;
    let key = private_key(server.key_pem, &format!("{} key", server.name))?;
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| rustls_error("protocol versions", source))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|source| rustls_error(&format!("{} certificate and key", server.name), source))
}

/// A client configuration trusting `roots` (see [`roots`]) and presenting `identity` when
/// given.
pub fn client_config(
    roots: RootCertStore,
    identity: Option<PemIdentity<'_>>,
) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| rustls_error("protocol versions", source))?
        .with_root_certificates(roots);
    let Some(identity) = identity else {
        return Ok(builder.with_no_client_auth());
    };
    let chain = certificates(identity.cert_pem, &format!("{} certificate", identity.name))?;
    let key = private_key(identity.key_pem, &format!("{} key", identity.name))?;
    builder
        .with_client_auth_cert(chain, key)
        .map_err(|source| rustls_error(&format!("{} certificate and key", identity.name), source))
}

fn rustls_error(what: &str, source: rustls::Error) -> TlsError {
    TlsError::Rustls {
        what: what.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngtt_pki::Ca;
    use ngtt_proto::Environment;

    #[test]
    fn server_and_client_configurations_build() {
        let ca = Ca::generate("test CA").expect("CA");
        let server = ca.issue_server(&[]).expect("server");
        let device = ca
            .issue_device("d", Environment::LocalDevelopment)
            .expect("device");
        for auth in [ClientAuth::Required, ClientAuth::Optional] {
            let verifier = client_verifier(ca.cert_pem(), auth).expect("verifier");
            let identity = PemIdentity {
                cert_pem: &server.cert_pem,
                key_pem: &server.key_pem,
                name: "server",
            };
            server_config(identity, verifier).expect("server config");
        }
        let roots = roots([ca.cert_pem()], "CA").expect("roots");
        let identity = PemIdentity {
            cert_pem: &device.cert_pem,
            key_pem: &device.key_pem,
            name: "device",
        };
        client_config(roots.clone(), Some(identity)).expect("client config");
        client_config(roots, None).expect("client config without a certificate");
    }

    #[test]
    fn errors_name_the_input() {
        let ca = Ca::generate("test CA").expect("CA");
        let err = roots(["nothing here"], "CA").unwrap_err();
        assert!(
            matches!(err, TlsError::NoCertificate { ref what } if what == "CA"),
            "{err}"
        );
        let err = roots([ca.cert_pem(), "junk"], "CA PEM").unwrap_err();
        assert_eq!(err.to_string(), "CA PEM #2 contains no certificate");
        let broken = "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(certificates(broken, "x"), Err(TlsError::Pem { .. })));
        let err = private_key("", "device key").unwrap_err();
        assert!(err.to_string().contains("device key"), "{err}");
        let other = Ca::generate("other").expect("CA");
        let mismatched = PemIdentity {
            cert_pem: ca.cert_pem(),
            key_pem: &other.key_pem(),
            name: "device",
        };
        let err = client_config(roots([ca.cert_pem()], "CA").expect("roots"), Some(mismatched)).unwrap_err();
        assert!(err.to_string().contains("device certificate and key"), "{err}");
    }
}
