//! [`TestPki`]: a throw-away PKI for tests, in memory and written to a temporary directory laid
//! out as `ngtt pki` writes it.

use std::path::{Path, PathBuf};

use ngtt_pki::{Ca, CertifiedKey, DeviceCertOptions, PkiDir};
use ngtt_proto::Environment;

/// A CA with a server certificate for loopback, and device certificates on demand.
pub struct TestPki {
    dir: tempfile::TempDir,
    pki: PkiDir,
    ca: Ca,
    /// The server's certificate and key.
    pub server: CertifiedKey,
}

impl TestPki {
    /// A fresh PKI in a new temporary directory.
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("temporary directory");
        let pki = PkiDir::new(dir.path().join("pki"));
        let ca = pki.init(&[], false).expect("PKI init");
        let server = CertifiedKey {
            cert_pem: std::fs::read_to_string(pki.server_cert()).expect("server.pem"),
            key_pem: std::fs::read_to_string(pki.server_key()).expect("server.key"),
        };
        TestPki { dir, pki, ca, server }
    }

    /// The server's TLS material: this CA for devices, the server certificate and key.
    pub fn tls_pems(&self) -> ngtt_server::TlsPems {
        ngtt_server::TlsPems {
            device_ca: self.ca_pem().to_owned(),
            server_cert: self.server.cert_pem.clone(),
            server_key: self.server.key_pem.clone(),
        }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The CA itself, to issue odd certificates.
    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    /// The PKI directory (what `ngtt serve --pki` takes).
    pub fn dir(&self) -> &Path {
        self.pki.root()
    }

    /// A scratch directory next to the PKI, removed with it (databases, logs).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Issues device `id` (environment 2) and writes it under `devices/`.
    pub fn device(&self, id: &str) -> CertifiedKey {
        self.pki
            .issue_device(id, Environment::LocalDevelopment)
            .expect("device certificate")
    }

    /// Paths of device `id`'s certificate and key (after [`TestPki::device`]).
    pub fn device_files(&self, id: &str) -> (PathBuf, PathBuf) {
        (self.pki.device_cert(id), self.pki.device_key(id))
    }

    /// A device certificate made exactly as `options` say (for refusal tests).
    pub fn odd_device(&self, options: &DeviceCertOptions) -> CertifiedKey {
        self.ca.issue_device_with(options).expect("device certificate")
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}
