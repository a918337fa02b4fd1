//! Running the published Python client (`smok` 0.21.0) as a device against `ngtt serve`:
//! [`crate::smok_client_installed`], [`PlainHttpServe`] (the server as the client's local
//! development environment needs it: plain HTTP, `--trust-proxy-header`) and [`run_script`]
//! (a script of `tests/python/` that prints one JSON line per step, built on
//! `tests/python/device_harness.py`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::cli::Serve;

/// `ngtt serve --http-plain --trust-proxy-header` on loopback ports chosen by the system, as
/// the published client's environment 2 (local development) needs it ([`Serve`] with those
/// flags). Killed when dropped.
pub struct PlainHttpServe {
    serve: Serve,
    /// The admin API.
    pub admin: SocketAddr,
    /// The device HTTP API (plain HTTP).
    pub http: SocketAddr,
    /// The admin API's bearer token (from the file beside the database).
    pub token: String,
}

impl PlainHttpServe {
    /// Starts `ngtt serve` on the PKI directory `pki` and database `db`; returns once it
    /// printed its addresses.
    pub async fn start(pki: &Path, db: &Path) -> PlainHttpServe {
        let serve = Serve::start_with(pki, db, &["--http-plain", "--trust-proxy-header"]).await;
        PlainHttpServe {
            admin: serve.admin,
            http: serve.http,
            token: serve.token(),
            serve,
        }
    }

    /// The base URL a device is given.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// The admin API's URL for `path` (starting with `/`).
    pub fn admin_url(&self, path: &str) -> String {
        self.serve.admin_url(path)
    }

    /// Stops the server (its state is in the database, committed).
    pub async fn stop(self) {
        self.serve.stop().await;
    }
}

/// Runs `python3 SCRIPT ARGS...` and returns the JSON lines it printed; panics with its output
/// when it fails or outlives `timeout`.
pub async fn run_script(script: &Path, args: &[&str], timeout: Duration) -> Vec<serde_json::Value> {
    let child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 starts");
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within {timeout:?}", script.display()))
        .expect("the script's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        script.display(),
        output.status
    );
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}
