//! [`PkiDir`]: the on-disk layout `ngtt pki` writes and `ngtt serve` reads.
//!
//! ```text
//! DIR/ca.pem  DIR/ca.key  DIR/server.pem  DIR/server.key  DIR/devices/ID.pem  DIR/devices/ID.key
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use ngtt_proto::Environment;

use crate::ca::{check_device_id, Ca, CertifiedKey};
use crate::error::{PkiError, Result};

/// The names every server certificate is valid for.
pub const DEFAULT_SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A PKI directory.
#[derive(Clone, Debug)]
pub struct PkiDir {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_owned(),
        source,
    }
}

fn write(path: &Path, contents: &str, secret: bool) -> Result<()> {
    fs::write(path, contents).map_err(io(path))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(io(path))
}

impl PkiDir {
    /// The PKI directory at `root` (nothing is read or written yet).
    pub fn new(root: impl Into<PathBuf>) -> PkiDir {
        PkiDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `DIR/ca.pem`.
    pub fn ca_cert(&self) -> PathBuf {
        self.root.join("ca.pem")
    }
    /// `DIR/ca.key`.
    pub fn ca_key(&self) -> PathBuf {
        self.root.join("ca.key")
    }
    /// `DIR/server.pem`.
    pub fn server_cert(&self) -> PathBuf {
        self.root.join("server.pem")
    }
    /// `DIR/server.key`.
    pub fn server_key(&self) -> PathBuf {
        self.root.join("server.key")
    }
    /// `DIR/devices/ID.pem`.
    pub fn device_cert(&self, id: &str) -> PathBuf {
        self.root.join("devices").join(format!("{id}.pem"))
    }
    /// `DIR/devices/ID.key`.
    pub fn device_key(&self, id: &str) -> PathBuf {
        self.root.join("devices").join(format!("{id}.key"))
    }

    /// Creates a CA and a server certificate valid for loopback and `server_names`.
    ///
    /// Refuses to replace an existing CA key unless `force`: devices already issued would stop
    /// being trusted.
    pub fn init(&self, server_names: &[String], force: bool) -> Result<Ca> {
        if self.ca_key().exists() && !force {
            return Err(PkiError::AlreadyExists(self.ca_key()));
        }
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let ca = Ca::generate("NGTT development CA")?;
        let server = ca.issue_server(server_names)?;
        write(&self.ca_cert(), ca.cert_pem(), false)?;
        write(&self.ca_key(), &ca.key_pem(), true)?;
        write(&self.server_cert(), &server.cert_pem, false)?;
        write(&self.server_key(), &server.key_pem, true)?;
        Ok(ca)
    }

    /// The CA stored in the directory.
    pub fn ca(&self) -> Result<Ca> {
        Ca::from_pem(&read(&self.ca_cert())?, &read(&self.ca_key())?)
    }

    /// Issues a device certificate signed by the directory's CA and writes it under `devices/`.
    pub fn issue_device(&self, id: &str, environment: Environment) -> Result<CertifiedKey> {
        check_device_id(id)?;
        let device = self.ca()?.issue_device(id, environment)?;
        let devices = self.root.join("devices");
        fs::create_dir_all(&devices).map_err(io(&devices))?;
        write(&self.device_cert(id), &device.cert_pem, false)?;
        write(&self.device_key(id), &device.key_pem, true)?;
        Ok(device)
    }

    /// Reads a PEM file of the directory.
    pub fn read(&self, path: &Path) -> Result<String> {
        read(path)
    }
}
