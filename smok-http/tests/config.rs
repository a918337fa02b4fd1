//! Building clients: base URLs per environment, overrides, and configuration errors.

use ngtt_pki::Ca;
use ngtt_proto::Environment;
use smok_http::{header_form, AuthMode, HttpClient, HttpConfig, HttpError};

fn config_for(environment: Environment) -> (Ca, HttpConfig) {
    let ca = Ca::generate("CA").expect("CA");
    let cert = ca.issue_device("7", environment).expect("cert");
    let config = HttpConfig::new(cert.cert_pem, cert.key_pem).with_ca_pem(ca.cert_pem());
    (ca, config)
}

fn config_error(result: Result<HttpClient, HttpError>) -> String {
    match result {
        Err(HttpError::Config(reason)) => reason,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn base_url_per_environment() {
    let (_, production) = config_for(Environment::Production);
    let client = HttpClient::new(production).expect("client");
    assert_eq!(client.base_url().as_str(), "https://api.smok.co/");
    assert_eq!(client.identity().environment, Environment::Production);

    let (_, staging) = config_for(Environment::Staging);
    assert_eq!(
        HttpClient::new(staging).expect("client").base_url().as_str(),
        "https://api.test.smok-serwis.pl/"
    );

    let (_, local) = config_for(Environment::LocalDevelopment);
    let reason = config_error(HttpClient::new(local.clone()));
    assert!(reason.contains("no default server"), "{reason}");
    let client = HttpClient::new(local.with_base_url("https://127.0.0.1:8443/api")).expect("client");
    assert_eq!(client.base_url().as_str(), "https://127.0.0.1:8443/api");
}

#[test]
fn configuration_errors() {
    let (_, config) = config_for(Environment::Production);
    let reason = config_error(HttpClient::new(config.clone().with_base_url("ftp://x")));
    assert!(reason.contains("base URL"), "{reason}");
    let reason = config_error(HttpClient::new(
        config.clone().with_base_url("http://127.0.0.1:1"),
    ));
    assert!(reason.contains("plain HTTP"), "{reason}");
    // Header mode over plain HTTP needs no CA.
    let cert = Ca::generate("CA")
        .unwrap()
        .issue_device("7", Environment::Production)
        .unwrap();
    let plain = HttpConfig::new(cert.cert_pem.clone(), cert.key_pem.clone())
        .with_auth(AuthMode::ProxyHeader)
        .with_base_url("http://127.0.0.1:1");
    assert!(HttpClient::new(plain).is_ok());
    let reason = config_error(HttpClient::new(HttpConfig::new(
        cert.cert_pem.clone(),
        cert.key_pem,
    )));
    assert!(reason.contains("no CA"), "{reason}");
    let reason = config_error(HttpClient::new(HttpConfig::new("junk", "junk")));
    assert!(reason.contains("device certificate"), "{reason}");
    assert!(!format!("{config:?}").contains("PRIVATE KEY"));
    assert!(!header_form(&cert.cert_pem).contains('\n'));
}
