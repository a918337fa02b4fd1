//! TLS setup from the PEM held in [`Config`]: rustls (ring provider), mutual authentication,
//! built by `ngtt_net::tls` as the server's and the HTTP client's are.

use std::sync::Arc;

use ngtt_net::tls::{self, PemIdentity};
use ngtt_proto::DeviceIdentity;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use crate::config::Config;
use crate::error::TransportError;

/// Everything [`Config`] yields once checked: the rustls client configuration, the name to
/// verify for each configured server and the device's identity.
#[derive(Debug, Clone)]
pub(crate) struct TlsSetup {
    pub client: Arc<ClientConfig>,
    pub server_names: Vec<ServerName<'static>>,
    pub identity: DeviceIdentity,
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
        let roots = tls::roots([self.ca_pem.as_str()], "CA certificates")?;
        let device = PemIdentity {
            cert_pem: &self.cert_pem,
            key_pem: &self.key_pem,
            name: "device",
        };
        let client = tls::client_config(roots, Some(device))?;
        if self.servers.is_empty() {
            return Err(TransportError::Config("no server address".into()));
        }
        let server_names = (0..self.servers.len())
            .map(|i| {
                let name = self.server_name_of(i).unwrap_or_default().to_owned();
                ServerName::try_from(name.clone())
                    .map_err(|e| TransportError::Config(format!("server name {name:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TlsSetup {
            client: Arc::new(client),
            server_names,
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
        assert!(matches!(setup.server_names[..], [ServerName::IpAddress(_)]));
    }

    #[test]
    fn bad_inputs_are_config_errors() {
        let mut c = config();
        c.ca_pem = "nothing".into();
        assert!(matches!(c.validate(), Err(TransportError::Tls(e)) if e.to_string().contains("CA")));
        let mut c = config();
        c.key_pem = "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n".into();
        assert!(c.validate().is_err());
        let c = config().with_server_name("not a name!");
        assert!(matches!(c.validate(), Err(TransportError::Config(m)) if m.contains("server name")));
        let mut c = config();
        c.servers.clear();
        assert!(matches!(c.validate(), Err(TransportError::Config(m)) if m.contains("no server")));
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
