//! The PKI makes what NGTT peers expect, on disk as `ngtt pki` documents.

use ngtt_pki::{Ca, DeviceCertOptions, PkiDir, PkiError};
use ngtt_proto::{DeviceIdentity, Environment, IdentityError};
use x509_parser::prelude::*;

fn parse(pem: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    pem.contents
}

#[test]
fn init_then_device_writes_the_documented_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = PkiDir::new(tmp.path().join("pki"));
    dir.init(&["ngtt.example".to_owned(), "10.0.0.7".to_owned()], false)
        .unwrap();
    for f in ["ca.pem", "ca.key", "server.pem", "server.key"] {
        assert!(dir.root().join(f).exists(), "{f}");
    }
    let server = parse(&std::fs::read_to_string(dir.server_cert()).unwrap());
    let (_, server) = X509Certificate::from_der(&server).unwrap();
    let san = server.subject_alternative_name().unwrap().unwrap();
    let names: Vec<String> = san.value.general_names.iter().map(|n| format!("{n}")).collect();
    let expected = [
        "DNSName(localhost)",
        "IPAddress(7f:00:00:01)",
        "IPAddress(00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:01)",
        "DNSName(ngtt.example)",
        "IPAddress(0a:00:00:07)",
    ];
    assert_eq!(names, expected);

    dir.issue_device("dev-7", Environment::Staging).unwrap();
    let pem = std::fs::read(dir.device_cert("dev-7")).unwrap();
    let id = DeviceIdentity::from_pem(&pem).unwrap();
    assert_eq!(
        (id.device_id.as_str(), id.environment),
        ("dev-7", Environment::Staging)
    );
    assert!(dir.device_key("dev-7").exists());

    // The device certificate names the stored CA as its issuer (TLS tests verify the chain).
    let ca = parse(&std::fs::read_to_string(dir.ca_cert()).unwrap());
    let (_, ca) = X509Certificate::from_der(&ca).unwrap();
    let dev = parse(std::str::from_utf8(&pem).unwrap());
    let (_, dev) = X509Certificate::from_der(&dev).unwrap();
    assert_eq!(dev.issuer(), ca.subject());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.ca_key()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn init_refuses_to_replace_a_ca_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = PkiDir::new(tmp.path());
    dir.init(&[], false).unwrap();
    let first = std::fs::read_to_string(dir.ca_cert()).unwrap();
    assert!(matches!(dir.init(&[], false), Err(PkiError::AlreadyExists(_))));
    dir.init(&[], true).unwrap();
    assert_ne!(std::fs::read_to_string(dir.ca_cert()).unwrap(), first);
}

#[test]
fn device_ids_must_be_safe_file_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = PkiDir::new(tmp.path());
    dir.init(&[], false).unwrap();
    for bad in ["", "../x", "a/b", ".hidden", "spa ce"] {
        assert!(
            matches!(
                dir.issue_device(bad, Environment::Production),
                Err(PkiError::InvalidDeviceId(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn certificates_a_server_must_refuse_can_be_made() {
    let ca = Ca::generate("test").unwrap();
    let no_id = ca.issue_device_with(&DeviceCertOptions::default()).unwrap();
    assert!(matches!(
        DeviceIdentity::from_pem(no_id.cert_pem.as_bytes()),
        Err(IdentityError::MissingDeviceId)
    ));
    let expired = ca
        .issue_device_with(&DeviceCertOptions {
            device_id: Some("old".into()),
            not_before: ::time::OffsetDateTime::now_utc() - ::time::Duration::days(30),
            not_after: ::time::OffsetDateTime::now_utc() - ::time::Duration::days(1),
            ..DeviceCertOptions::default()
        })
        .unwrap();
    let der = parse(&expired.cert_pem);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert!(!cert.validity().is_valid());
}
