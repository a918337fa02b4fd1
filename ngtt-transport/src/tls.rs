//! TLS setup from the PEM held in [`Config`]: rustls (ring provider), mutual authentication.

use std::sync::Arc;

use ngtt_proto::DeviceIdentity;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::config::Config;
use crate::error::TransportError;

/// Everything [`Config`] yields once checked: the rustls client configuration, the server
/// name to verify and the device's identity.
#[derive(Debug, Clone)]
pub(crate) struct TlsSetup {
    pub client: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
    pub identity: DeviceIdentity,
}

/// Every `CERTIFICATE` block of `pem`; `what` names the input in errors.
pub(crate) fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TransportError::Config(format!("{what}: invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TransportError::Config(format!("{what}: no CERTIFICATE in PEM")));
    }
    Ok(certs)
}

impl Config {
    /// The device identity of the configured certificate (NGTT.md §1): fails when the
    /// certificate has no device id.
    pub fn device_identity(&self) -> Result<DeviceIdentity, TransportError> {
        DeviceIdentity::from_pem(self.cert_pem.as_bytes()).map_err(|e| ngtt_proto::ProtoError::from(e).into())
    }

    /// Checks the certificates, key and server name and builds the TLS configuration.
    pub(crate) fn tls_setup(&self) -> Result<TlsSetup, TransportError> {
        let identity = self.device_identity()?;
        let mut roots = RootCertStore::empty();
        for ca in certificates(&self.ca_pem, "CA certificates")? {
            roots
                .add(ca)
                .map_err(|e| TransportError::Config(format!("CA certificate: {e}")))?;
        }
        let chain = certificates(&self.cert_pem, "device certificate")?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| TransportError::Config(format!("device key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        let server_name = ServerName::try_from(self.server_name.clone())
            .map_err(|e| TransportError::Config(format!("server name {:?}: {e}", self.server_name)))?;
        Ok(TlsSetup {
            client: Arc::new(client),
            server_name,
            identity,
        })
    }

    /// Checks that the configuration can be used: PEM, key, server name and device identity.
    pub fn validate(&self) -> Result<(), TransportError> {
        self.tls_setup().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngtt_pki::Ca;
    use ngtt_proto::Environment;

    fn config() -> Config {
        let ca = Ca::generate("test CA").expect("CA");
        let device = ca.issue_device("dev-7", Environment::Staging).expect("device");
        Config::new("127.0.0.1:1", ca.cert_pem(), device.cert_pem, device.key_pem).expect("config")
    }

    #[test]
    fn valid_config_builds() {
        let c = config();
        let setup = c.tls_setup().expect("valid");
        assert_eq!(setup.identity.device_id, "dev-7");
        assert_eq!(setup.identity.environment, Environment::Staging);
        assert!(matches!(setup.server_name, ServerName::IpAddress(_)));
    }

    #[test]
    fn bad_inputs_are_config_errors() {
        let mut c = config();
        c.ca_pem = "nothing".into();
        assert!(matches!(c.validate(), Err(TransportError::Config(m)) if m.contains("CA")));
        let mut c = config();
        c.key_pem = "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n".into();
        assert!(c.validate().is_err());
        let c = config().with_server_name("not a name!");
        assert!(matches!(c.validate(), Err(TransportError::Config(m)) if m.contains("server name")));
        let mut c = config();
        c.cert_pem = c.ca_pem.clone(); // a CA certificate has no device id
        assert!(matches!(c.validate(), Err(TransportError::Proto(_))));
    }

    #[test]
    fn mismatched_key_is_refused() {
        let mut c = config();
        let other = Ca::generate("other").expect("CA");
        c.key_pem = other.key_pem();
        assert!(c.validate().is_err());
    }
}
