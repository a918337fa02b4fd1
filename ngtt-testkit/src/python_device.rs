//! Running the published Python client (`smok` 0.21.0) as a device against `ngtt serve`:
//! [`crate::smok_client_installed`], [`PlainHttpServe`] (the server as the client's local
//! development environment needs it: plain HTTP, `--trust-proxy-header`) and [`run_script`]
//! (a script of `tests/python/` that prints one JSON line per step, built on
//! `tests/python/device_harness.py`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `ngtt serve --http-plain --trust-proxy-header` on loopback ports chosen by the system, as
/// the published client's environment 2 (local development) needs it. Killed when dropped.
pub struct PlainHttpServe {
    child: Child,
    /// The admin API.
    pub admin: SocketAddr,
    /// The device HTTP API (plain HTTP).
    pub http: SocketAddr,
    /// The admin API's bearer token (from the file beside the database).
    pub token: String,
}

impl PlainHttpServe {
    /// Starts `ngtt` (the binary at `ngtt`) on the PKI directory `pki` and database `db`;
    /// returns once it printed its addresses.
    pub async fn start(ngtt: &Path, pki: &Path, db: &Path) -> PlainHttpServe {
        let any = "127.0.0.1:0";
        let mut command = Command::new(ngtt);
        command
            .arg("serve")
            .arg("--pki")
            .arg(pki)
            .arg("--db")
            .arg(db)
            .args(["--listen", any, "--admin-listen", any, "--http-listen", any])
            .args(["--http-plain", "--trust-proxy-header"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if std::env::var_os("RUST_LOG").is_none() {
            command.stderr(Stdio::null());
        }
        let mut child = command.spawn().expect("ngtt serve starts");
        let stdout = child.stdout.take().expect("ngtt serve's stdout");
        let addresses = async {
            let mut lines = BufReader::new(stdout).lines();
            let (mut admin, mut http) = (None, None);
            while admin.is_none() || http.is_none() {
                let line = lines
                    .next_line()
                    .await
                    .ok()
                    .flatten()
                    .expect("ngtt serve exited early");
                if let Some((name, addr)) = line.split_once(" listening on ") {
                    let addr: SocketAddr = addr.parse().expect("a socket address");
                    match name {
                        "ngtt admin" => admin = Some(addr),
                        "ngtt http" => http = Some(addr),
                        _ => {}
                    }
                }
            }
            (
                admin.unwrap_or_else(|| unreachable!()),
                http.unwrap_or_else(|| unreachable!()),
            )
        };
        let (admin, http) = tokio::time::timeout(Duration::from_secs(20), addresses)
            .await
            .expect("ngtt serve prints its addresses in time");
        let token_file = ngtt_server::default_admin_token_file(db);
        let token = std::fs::read_to_string(&token_file)
            .expect("the admin token file")
            .trim()
            .to_owned();
        PlainHttpServe {
            child,
            admin,
            http,
            token,
        }
    }

    /// The base URL a device is given.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// The admin API's URL for `path` (starting with `/`).
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// Stops the server (it is killed: its state is in the database, committed).
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
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
