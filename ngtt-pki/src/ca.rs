//! [`Ca`]: a certificate authority that issues server and device certificates.

use ngtt_proto::{
    encode_device_id_ext, encode_environment_ext, Environment, DEVICE_ID_OID_ARCS, ENVIRONMENT_OID_ARCS,
};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::error::{PkiError, Result};

/// A certificate and its private key, both PEM.
#[derive(Clone, Debug)]
pub struct CertifiedKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
}

/// How to make a device certificate; [`Default`] is a valid, ordinary one.
///
/// The knobs exist so that tests can make the certificates a server must refuse.
#[derive(Clone, Debug)]
pub struct DeviceCertOptions {
    /// The device id extension; `None` leaves it out.
    pub device_id: Option<String>,
    /// The environment extension; `None` leaves it out.
    pub environment: Option<Environment>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl Default for DeviceCertOptions {
    fn default() -> Self {
        let now = OffsetDateTime::now_utc();
        DeviceCertOptions {
            device_id: None,
            environment: Some(Environment::LocalDevelopment),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(3650),
        }
    }
}

/// A certificate authority: its certificate and key.
pub struct Ca {
    cert: rcgen::Certificate,
    cert_pem: String,
    key: KeyPair,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

fn validity(params: &mut CertificateParams, years: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365 * years);
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "NGTT development PKI");
    dn.push(DnType::CommonName, common_name);
    dn
}

impl Ca {
    /// A new CA with a fresh ECDSA P-256 key, valid for ten years.
    pub fn generate(common_name: &str) -> Result<Ca> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, 10);
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            cert,
            key,
        })
    }

    /// The CA stored as PEM (certificate and key), to issue more certificates.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca> {
        let key = KeyPair::from_pem(key_pem)?;
        let params = CertificateParams::from_ca_cert_pem(cert_pem)?;
        // Re-signing gives an issuer with the same name and key: what issued certificates refer to.
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            cert,
            cert_pem: cert_pem.to_owned(),
            key,
        })
    }

    /// The CA certificate, PEM (what peers put in their trust store).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key, PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A server certificate valid for `localhost`, `127.0.0.1`, `::1` and each of `names` (DNS
    /// names or IP addresses), for two years.
    pub fn issue_server(&self, names: &[String]) -> Result<CertifiedKey> {
        let mut all: Vec<String> = crate::DEFAULT_SERVER_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect();
        all.extend(
            names
                .iter()
                .filter(|n| !all.contains(n))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        for n in &all {
            params
                .subject_alt_names
                .push(match n.parse::<std::net::IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName(n.clone().try_into()?),
                });
        }
        params.distinguished_name = name(&all[0]);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, 2);
        self.sign(params)
    }

    /// A device certificate for device `id` in `environment`, valid for ten years.
    pub fn issue_device(&self, id: &str, environment: Environment) -> Result<CertifiedKey> {
        self.issue_device_with(&DeviceCertOptions {
            device_id: Some(id.to_owned()),
            environment: Some(environment),
            ..DeviceCertOptions::default()
        })
    }

    /// A device certificate made exactly as `options` say, valid or not.
    pub fn issue_device_with(&self, options: &DeviceCertOptions) -> Result<CertifiedKey> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&format!(
            "device {}",
            options.device_id.as_deref().unwrap_or("(none)")
        ));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = options.not_before;
        params.not_after = options.not_after;
        if let Some(id) = &options.device_id {
            params.custom_extensions.push(CustomExtension::from_oid_content(
                DEVICE_ID_OID_ARCS,
                encode_device_id_ext(id),
            ));
        }
        if let Some(env) = options.environment {
            params.custom_extensions.push(CustomExtension::from_oid_content(
                ENVIRONMENT_OID_ARCS,
                encode_environment_ext(env),
            ));
        }
        self.sign(params)
    }

    fn sign(&self, mut params: CertificateParams) -> Result<CertifiedKey> {
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Checks that `id` is safe as a file name and certificate field.
pub(crate) fn check_device_id(id: &str) -> Result<()> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !id.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(PkiError::InvalidDeviceId(id.to_owned()))
    }
}
