//! Device identity from real and generated certificates.

use ngtt_proto::{
    encode_device_id_ext, encode_environment_ext, DeviceIdentity, Environment, IdentityError, ProtoError,
    DEVICE_ID_OID_ARCS, ENVIRONMENT_OID_ARCS,
};
use rcgen::{CertificateParams, CustomExtension, KeyPair};

const FIXTURE: &[u8] = include_bytes!("fixtures/smok-dev-testing-device.crt");

/// A self-signed certificate with the given NGTT extension values, as DER.
fn cert_with(extensions: &[(&[u64], Vec<u8>)]) -> (Vec<u8>, String) {
    let mut params = CertificateParams::new(vec!["device.test".to_owned()]).expect("params");
    for (oid, value) in extensions {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(oid, value.clone()));
    }
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.der().to_vec(), cert.pem())
}

fn identity_of(extensions: &[(&[u64], Vec<u8>)]) -> Result<DeviceIdentity, IdentityError> {
    let (der, pem) = cert_with(extensions);
    let from_der = DeviceIdentity::from_der(&der);
    assert_eq!(
        DeviceIdentity::from_pem(pem.as_bytes()),
        from_der,
        "PEM and DER agree"
    );
    from_der
}

#[test]
fn real_fixture_is_device_1_in_local_development() {
    // The fixture is `openssl x509 -text` output followed by the PEM block; it is expired.
    let identity = DeviceIdentity::from_pem(FIXTURE).expect("fixture parses");
    assert_eq!(identity, DeviceIdentity::new("1", Environment::LocalDevelopment));
    assert_eq!(identity.default_host(), None);
    assert_eq!(identity.to_string(), "device \"1\" (local_development)");
    assert_eq!(DeviceIdentity::from_pem_or_der(FIXTURE), Ok(identity));
}

#[test]
fn generated_certificates_round_trip() {
    for env in Environment::ALL {
        for id in ["1", "device-42", "zażółć gęślą jaźń", &"x".repeat(255)] {
            let got = identity_of(&[
                (DEVICE_ID_OID_ARCS, encode_device_id_ext(id)),
                (ENVIRONMENT_OID_ARCS, encode_environment_ext(env)),
            ]);
            assert_eq!(got, Ok(DeviceIdentity::new(id, env)));
        }
    }
    let too_long = identity_of(&[
        (DEVICE_ID_OID_ARCS, encode_device_id_ext(&"x".repeat(256))),
        (
            ENVIRONMENT_OID_ARCS,
            encode_environment_ext(Environment::Production),
        ),
    ]);
    assert_eq!(too_long, Err(IdentityError::DeviceIdTooLong { len: 256 }));
    let (der, _) = cert_with(&[
        (DEVICE_ID_OID_ARCS, encode_device_id_ext("7")),
        (ENVIRONMENT_OID_ARCS, encode_environment_ext(Environment::Staging)),
    ]);
    let id = DeviceIdentity::from_pem_or_der(&der).expect("DER detected");
    assert_eq!(id.default_host(), Some("api.test.smok-serwis.pl"));
}

#[test]
fn printable_and_ia5_device_ids() {
    let env = (
        ENVIRONMENT_OID_ARCS,
        encode_environment_ext(Environment::Production),
    );
    let printable = identity_of(&[(DEVICE_ID_OID_ARCS, vec![0x13, 2, b'A', b'7']), env.clone()]);
    assert_eq!(printable.map(|i| i.device_id).as_deref(), Ok("A7"));
    let ia5 = identity_of(&[(DEVICE_ID_OID_ARCS, vec![0x16, 1, b'9']), env]);
    assert_eq!(ia5.map(|i| i.device_id).as_deref(), Ok("9"));
}

#[test]
fn missing_extensions() {
    let env = (
        ENVIRONMENT_OID_ARCS,
        encode_environment_ext(Environment::Production),
    );
    let id = (DEVICE_ID_OID_ARCS, encode_device_id_ext("1"));
    assert_eq!(identity_of(&[env]), Err(IdentityError::MissingDeviceId));
    assert_eq!(identity_of(&[id]), Err(IdentityError::MissingEnvironment));
    assert_eq!(identity_of(&[]), Err(IdentityError::MissingDeviceId));
}

#[test]
fn malformed_extensions() {
    let env = || (ENVIRONMENT_OID_ARCS, encode_environment_ext(Environment::Staging));
    let id = || (DEVICE_ID_OID_ARCS, encode_device_id_ext("1"));

    let octets = identity_of(&[(DEVICE_ID_OID_ARCS, vec![0x04, 1, b'1']), env()]);
    assert_eq!(octets, Err(IdentityError::UnsupportedDeviceIdType { tag: 0x04 }));
    let raw = identity_of(&[(DEVICE_ID_OID_ARCS, b"1".to_vec()), env()]);
    assert!(matches!(raw, Err(IdentityError::MalformedDeviceId(_))), "{raw:?}");
    let short = identity_of(&[(DEVICE_ID_OID_ARCS, vec![0x0C, 5, b'1']), env()]);
    assert!(
        matches!(short, Err(IdentityError::MalformedDeviceId(_))),
        "{short:?}"
    );
    let empty = identity_of(&[(DEVICE_ID_OID_ARCS, vec![0x0C, 0]), env()]);
    assert!(
        matches!(empty, Err(IdentityError::MalformedDeviceId(_))),
        "{empty:?}"
    );

    let env3 = identity_of(&[id(), (ENVIRONMENT_OID_ARCS, vec![0x02, 1, 3])]);
    assert_eq!(env3, Err(IdentityError::UnknownEnvironment(3)));
    let env_str = identity_of(&[id(), (ENVIRONMENT_OID_ARCS, encode_device_id_ext("2"))]);
    assert!(
        matches!(env_str, Err(IdentityError::MalformedEnvironment(_))),
        "{env_str:?}"
    );

    let twice = identity_of(&[id(), id(), env()]);
    assert!(
        matches!(twice, Err(IdentityError::DuplicateExtension { .. })),
        "{twice:?}"
    );
}

#[test]
fn not_a_certificate() {
    assert!(matches!(
        DeviceIdentity::from_der(b"\x30\x03\x02\x01\x00"),
        Err(IdentityError::InvalidCertificate(_))
    ));
    assert!(matches!(
        DeviceIdentity::from_der(&[]),
        Err(IdentityError::InvalidCertificate(_))
    ));
    assert_eq!(
        DeviceIdentity::from_pem(b"hello\n"),
        Err(IdentityError::NoCertificateInPem)
    );
    let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_eq!(
        DeviceIdentity::from_pem(key_only),
        Err(IdentityError::NoCertificateInPem)
    );
    let bad_b64 = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        DeviceIdentity::from_pem(bad_b64),
        Err(IdentityError::InvalidPem(_))
    ));
    let unterminated = b"-----BEGIN CERTIFICATE-----\nAAAA\n";
    assert!(matches!(
        DeviceIdentity::from_pem(unterminated),
        Err(IdentityError::InvalidPem(_))
    ));

    // Trailing garbage after a DER certificate is refused.
    let (mut der, _) = cert_with(&[]);
    der.push(0);
    assert!(matches!(
        DeviceIdentity::from_der(&der),
        Err(IdentityError::InvalidCertificate(_))
    ));

    // Identity errors convert into the crate error.
    let e: ProtoError = IdentityError::MissingDeviceId.into();
    assert!(e.to_string().contains("1.3.6.1.4.1.55338.0.0"), "{e}");
}
