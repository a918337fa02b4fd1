//! Device identity from the client certificate (NGTT.md §1).
//!
//! A device certificate carries two private X.509 v3 extensions whose values (the extnValue
//! OCTET STRING contents) are small DER values:
//!
//! * [`DEVICE_ID_OID`] — the device id, a UTF8String, PrintableString or IA5String
//!   (`0C 01 31` is device `"1"`);
//! * [`ENVIRONMENT_OID`] — the environment, an INTEGER 0, 1 or 2 (`02 01 02` is local
//!   development).
//!
//! **Decisions** (the spec only says a certificate without a device id is refused):
//! a certificate without the environment extension is refused too
//! ([`IdentityError::MissingEnvironment`]), because the environment decides which server a device
//! talks to and guessing "production" would be the dangerous default; an empty device id, an
//! extension present twice, and non-DER encodings are refused as malformed. Validity dates and
//! signatures are *not* checked here: that is the TLS layer's job.

use std::fmt;
use std::str::FromStr;

use x509_parser::pem::Pem;

use crate::der::{self, TAG_IA5_STRING, TAG_INTEGER, TAG_PRINTABLE_STRING, TAG_UTF8_STRING};
use crate::error::{IdentityError, ProtoError};

/// Dotted OID of the device id extension.
pub const DEVICE_ID_OID: &str = "1.3.6.1.4.1.55338.0.0";
/// Arcs of [`DEVICE_ID_OID`] (the form certificate generators such as `rcgen` take).
pub const DEVICE_ID_OID_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 55338, 0, 0];
/// Longest device id accepted, in bytes: ids are repeated in every log line and index row,
/// and the published tooling issues short ones.
pub const MAX_DEVICE_ID_LEN: usize = 255;
/// Dotted OID of the environment extension.
pub const ENVIRONMENT_OID: &str = "1.3.6.1.4.1.55338.0.1";
/// Arcs of [`ENVIRONMENT_OID`].
pub const ENVIRONMENT_OID_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 55338, 0, 1];

/// The deployment a device belongs to, from its certificate's environment extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// 0: production, default server `api.smok.co`.
    Production = 0,
    /// 1: staging, default server `api.test.smok-serwis.pl`.
    Staging = 1,
    /// 2: local development, no default server.
    LocalDevelopment = 2,
}

impl Environment {
    /// All environments, in numeric order.
    pub const ALL: [Environment; 3] = [
        Environment::Production,
        Environment::Staging,
        Environment::LocalDevelopment,
    ];

    /// The environment numbered `n`, if any.
    pub const fn from_i64(n: i64) -> Option<Environment> {
        match n {
            0 => Some(Environment::Production),
            1 => Some(Environment::Staging),
            2 => Some(Environment::LocalDevelopment),
            _ => None,
        }
    }

    /// The environment's number.
    pub const fn as_i64(self) -> i64 {
        self as i64
    }

    /// The default server host of this environment; `None` for local development.
    pub const fn default_host(self) -> Option<&'static str> {
        match self {
            Environment::Production => Some("api.smok.co"),
            Environment::Staging => Some("api.test.smok-serwis.pl"),
            Environment::LocalDevelopment => None,
        }
    }

    /// Lower-case name: `production`, `staging` or `local_development`.
    pub const fn name(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::LocalDevelopment => "local_development",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Environment {
    type Err = ProtoError;

    /// Parses a name (ASCII case-insensitive, `-` accepted for `_`) or a number (`0`, `1`, `2`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().replace('-', "_");
        Environment::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(&t))
            .or_else(|| t.parse().ok().and_then(Environment::from_i64))
            .ok_or_else(|| ProtoError::InvalidName {
                what: "environment",
                name: s.to_owned(),
            })
    }
}

/// Who a peer is, according to its client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceIdentity {
    /// The device id (extension [`DEVICE_ID_OID`]).
    pub device_id: String,
    /// The environment (extension [`ENVIRONMENT_OID`]).
    pub environment: Environment,
}

impl DeviceIdentity {
    /// An identity from its parts.
    pub fn new(device_id: impl Into<String>, environment: Environment) -> DeviceIdentity {
        DeviceIdentity {
            device_id: device_id.into(),
            environment,
        }
    }

    /// Reads the identity from a DER-encoded X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<DeviceIdentity, IdentityError> {
        let (rest, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| IdentityError::InvalidCertificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(IdentityError::InvalidCertificate(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let extension = |arcs: &[u64], oid: &'static str| {
            let mut found = cert
                .iter_extensions()
                .filter(|ext| ext.oid.iter().is_some_and(|it| it.eq(arcs.iter().copied())));
            let first = found.next();
            if found.next().is_some() {
                return Err(IdentityError::DuplicateExtension { oid });
            }
            Ok(first.map(|ext| ext.value))
        };
        let id_value = extension(DEVICE_ID_OID_ARCS, DEVICE_ID_OID)?;
        let env_value = extension(ENVIRONMENT_OID_ARCS, ENVIRONMENT_OID)?;
        let device_id = decode_device_id_ext(id_value.ok_or(IdentityError::MissingDeviceId)?)?;
        let environment = decode_environment_ext(env_value.ok_or(IdentityError::MissingEnvironment)?)?;
        Ok(DeviceIdentity {
            device_id,
            environment,
        })
    }

    /// Reads the identity from the first `CERTIFICATE` block of PEM text.
    ///
    /// Text before, between and after PEM blocks (e.g. `openssl x509 -text` output) is ignored.
    pub fn from_pem(pem: &[u8]) -> Result<DeviceIdentity, IdentityError> {
        for block in Pem::iter_from_buffer(pem) {
            let block = block.map_err(|e| IdentityError::InvalidPem(e.to_string()))?;
            if block.label == "CERTIFICATE" {
                return DeviceIdentity::from_der(&block.contents);
            }
        }
        Err(IdentityError::NoCertificateInPem)
    }

    /// Reads the identity from a certificate file's bytes, DER (starting with a SEQUENCE tag,
    /// `0x30`) or PEM (anything else).
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<DeviceIdentity, IdentityError> {
        if bytes.first() == Some(&0x30) {
            DeviceIdentity::from_der(bytes)
        } else {
            DeviceIdentity::from_pem(bytes)
        }
    }

    /// The default server host for this device's environment.
    pub fn default_host(&self) -> Option<&'static str> {
        self.environment.default_host()
    }
}

impl fmt::Display for DeviceIdentity {
    /// `device "1" (local_development)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device {:?} ({})", self.device_id, self.environment)
    }
}

/// The DER value of the device id extension: a UTF8String (`0C len bytes`).
pub fn encode_device_id_ext(device_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(device_id.len() + 6);
    der::write_tlv(TAG_UTF8_STRING, device_id.as_bytes(), &mut out);
    out
}

/// The DER value of the environment extension: an INTEGER (`02 01 0N`).
pub fn encode_environment_ext(environment: Environment) -> Vec<u8> {
    let mut out = Vec::with_capacity(3);
    der::write_tlv(TAG_INTEGER, &[environment as u8], &mut out);
    out
}

/// Decodes the device id extension value: a non-empty UTF8String, PrintableString or IA5String
/// of at most [`MAX_DEVICE_ID_LEN`] bytes, without control or invisible formatting characters
/// (nor backslashes), so that an id is safe in a log line and a file name.
pub fn decode_device_id_ext(value: &[u8]) -> Result<String, IdentityError> {
    let (tag, contents) = der::read_tlv(value).map_err(|e| IdentityError::MalformedDeviceId(e.describe()))?;
    let valid = match tag {
        TAG_UTF8_STRING => std::str::from_utf8(contents).is_ok(),
        TAG_PRINTABLE_STRING => contents.iter().all(|&b| is_printable_string_char(b)),
        TAG_IA5_STRING => contents.is_ascii(),
        tag => return Err(IdentityError::UnsupportedDeviceIdType { tag }),
    };
    if !valid {
        return Err(IdentityError::MalformedDeviceId(
            "invalid characters for the string type",
        ));
    }
    match std::str::from_utf8(contents) {
        Ok("") => Err(IdentityError::MalformedDeviceId("empty device id")),
        Ok(id) if id.len() > MAX_DEVICE_ID_LEN => Err(IdentityError::DeviceIdTooLong { len: id.len() }),
        Ok(id) if id.chars().any(crate::escape::needs_escape) => {
            Err(IdentityError::UnprintableDeviceId(crate::Escaped(id).to_string()))
        }
        Ok(id) => Ok(id.to_owned()),
        Err(_) => Err(IdentityError::MalformedDeviceId("invalid UTF-8")),
    }
}

/// Decodes the environment extension value: a DER INTEGER 0, 1 or 2.
pub fn decode_environment_ext(value: &[u8]) -> Result<Environment, IdentityError> {
    let (tag, contents) =
        der::read_tlv(value).map_err(|e| IdentityError::MalformedEnvironment(e.describe()))?;
    if tag != TAG_INTEGER {
        return Err(IdentityError::MalformedEnvironment("not a DER INTEGER"));
    }
    let n = der::integer_value(contents).map_err(IdentityError::MalformedEnvironment)?;
    Environment::from_i64(n).ok_or(IdentityError::UnknownEnvironment(n))
}

/// Whether `b` may appear in an ASN.1 PrintableString.
fn is_printable_string_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments() {
        for e in Environment::ALL {
            assert_eq!(Environment::from_i64(e.as_i64()), Some(e));
            assert_eq!(e.name().parse::<Environment>().ok(), Some(e));
            assert_eq!(e.as_i64().to_string().parse::<Environment>().ok(), Some(e));
        }
        assert_eq!(Environment::from_i64(3), None);
        assert_eq!(Environment::from_i64(-1), None);
        assert_eq!(Environment::Production.default_host(), Some("api.smok.co"));
        assert_eq!(
            Environment::Staging.default_host(),
            Some("api.test.smok-serwis.pl")
        );
        assert_eq!(Environment::LocalDevelopment.default_host(), None);
        assert_eq!(
            "Local-Development".parse::<Environment>().ok(),
            Some(Environment::LocalDevelopment)
        );
        assert!("prod".parse::<Environment>().is_err());
    }

    #[test]
    fn extension_values_round_trip() {
        assert_eq!(encode_device_id_ext("1"), [0x0C, 0x01, 0x31]);
        assert_eq!(
            encode_environment_ext(Environment::LocalDevelopment),
            [0x02, 0x01, 0x02]
        );
        assert_eq!(
            encode_environment_ext(Environment::Production),
            [0x02, 0x01, 0x00]
        );
        for id in [
            "1",
            "zażółć",
            &"x".repeat(127),
            &"y".repeat(128),
            &"z".repeat(MAX_DEVICE_ID_LEN),
        ] {
            assert_eq!(decode_device_id_ext(&encode_device_id_ext(id)).as_deref(), Ok(id));
        }
        assert_eq!(
            decode_device_id_ext(&encode_device_id_ext(&"z".repeat(60 * 1024))),
            Err(IdentityError::DeviceIdTooLong { len: 60 * 1024 })
        );
        for forged in ["dev\nINFO forged", "dev\x1b[31m", "a\u{202e}b", "a\\b", "t\tb"] {
            assert!(
                matches!(
                    decode_device_id_ext(&encode_device_id_ext(forged)),
                    Err(IdentityError::UnprintableDeviceId(ref shown)) if !shown.contains(['\n', '\x1b'])
                ),
                "{forged:?}"
            );
        }
        for e in Environment::ALL {
            assert_eq!(decode_environment_ext(&encode_environment_ext(e)), Ok(e));
        }
    }

    #[test]
    fn device_id_string_types() {
        assert_eq!(
            decode_device_id_ext(&[0x13, 0x02, b'A', b'1']).as_deref(),
            Ok("A1")
        );
        assert_eq!(
            decode_device_id_ext(&[0x16, 0x02, b'a', b'@']).as_deref(),
            Ok("a@")
        );
        assert!(matches!(
            decode_device_id_ext(&[0x13, 0x01, b'@']),
            Err(IdentityError::MalformedDeviceId(_))
        ));
        assert!(matches!(
            decode_device_id_ext(&[0x16, 0x01, 0xC3]),
            Err(IdentityError::MalformedDeviceId(_))
        ));
        assert!(matches!(
            decode_device_id_ext(&[0x0C, 0x02, 0xC3, 0x28]),
            Err(IdentityError::MalformedDeviceId(_))
        ));
        assert_eq!(
            decode_device_id_ext(&[0x04, 0x01, b'1']),
            Err(IdentityError::UnsupportedDeviceIdType { tag: 0x04 })
        );
        assert_eq!(
            decode_device_id_ext(&[0x0C, 0x00]),
            Err(IdentityError::MalformedDeviceId("empty device id"))
        );
        assert!(matches!(
            decode_device_id_ext(&[]),
            Err(IdentityError::MalformedDeviceId(_))
        ));
    }

    #[test]
    fn environment_values() {
        assert_eq!(
            decode_environment_ext(&[0x02, 0x01, 0x03]),
            Err(IdentityError::UnknownEnvironment(3))
        );
        assert_eq!(
            decode_environment_ext(&[0x02, 0x01, 0xFF]),
            Err(IdentityError::UnknownEnvironment(-1))
        );
        for bad in [
            &[0x0A, 0x01, 0x02][..],
            &[0x02, 0x00],
            &[0x02, 0x02, 0x00, 0x02],
            &[0x02, 0x01],
            &[0x02, 0x01, 0x02, 0x00],
        ] {
            assert!(
                matches!(
                    decode_environment_ext(bad),
                    Err(IdentityError::MalformedEnvironment(_))
                ),
                "{bad:02X?}"
            );
        }
    }
}
