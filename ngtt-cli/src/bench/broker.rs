//! The MQTT side of the comparison: a Mosquitto broker of our own, started with TLS and
//! required client certificates (the fleet's PKI) on a free loopback port.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ngtt_pki::PkiDir;
use tokio::process::{Child, Command};

use crate::error::CliError;

/// A running Mosquitto.
pub struct Broker {
    child: Child,
    /// Where it listens (TLS).
    pub addr: SocketAddr,
}

/// The Mosquitto executable, if installed (`MOSQUITTO` overrides the search in `PATH` and
/// `/usr/sbin`).
pub fn find_mosquitto() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("MOSQUITTO") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("mosquitto"))
        .find(|p| p.is_file())
}

/// The name of the user running the bench: Mosquitto started as root otherwise drops to the
/// `mosquitto` user, which cannot read the temporary PKI.
fn current_user() -> String {
    std::process::Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "root".to_owned())
}

/// The broker's configuration: one TLS listener requiring a certificate from the device CA,
/// the certificate's CN as the user name, no persistence, errors only in the log.
fn config(pki: &PkiDir, port: u16) -> String {
    format!(
        "user {}\n\
         per_listener_settings false\n\
         allow_anonymous true\n\
         persistence false\n\
         log_dest stderr\n\
         log_type error\n\
         connection_messages false\n\
         max_keepalive 65535\n\
         listener {port} 127.0.0.1\n\
         cafile {}\n\
         certfile {}\n\
         keyfile {}\n\
         require_certificate true\n\
         use_identity_as_username true\n",
        current_user(),
        pki.ca_cert().display(),
        pki.server_cert().display(),
        pki.server_key().display(),
    )
}

impl Broker {
    /// Starts `mosquitto` with a configuration in `dir` and waits until it accepts connections.
    pub async fn start(mosquitto: &Path, pki: &PkiDir, dir: &Path) -> Result<Broker, CliError> {
        let io = |context| move |source| CliError::Io { context, source };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(io("finding a free port"))?
            .port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, config(pki, port)).map_err(io("writing mosquitto.conf"))?;
        // Its log (errors only, and the disconnections of a fleet that simply exits) goes to a
        // file, shown when it fails to start.
        let log_path = dir.join("mosquitto.log");
        let log = std::fs::File::create(&log_path).map_err(io("creating mosquitto.log"))?;
        let mut child = Command::new(mosquitto)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(io("starting mosquitto"))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(Broker { child, addr });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(CliError::Bench(format!(
                    "mosquitto exited ({status}): {}",
                    log.trim()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.start_kill();
        Err(CliError::Bench("mosquitto did not start listening".into()))
    }

    /// The broker's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the broker.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
