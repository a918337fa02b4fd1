//! The real `ngtt` binary, for tests that run `ngtt pki` and `ngtt serve` as an operator would.
//!
//! The binary is looked for next to the test executable (`target/<profile>/ngtt` for
//! `target/<profile>/deps/<test>`), or at `$NGTT_BIN`; when missing it is built with
//! `cargo build -p ngtt-cli --bin ngtt` for the same profile and target directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// The `ngtt` binary, built first if needed.
pub fn ngtt_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NGTT_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in target/<profile>/deps");
    let binary = profile_dir.join(format!("ngtt{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        build(profile_dir);
    }
    assert!(binary.exists(), "{} was not built", binary.display());
    binary
}

fn build(profile_dir: &Path) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let target_dir = profile_dir.parent().expect("the target directory");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(workspace)
        .args(["build", "-p", "ngtt-cli", "--bin", "ngtt", "--target-dir"])
        .arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cargo.arg("--release");
        }
        Some(profile) => {
            cargo.args(["--profile", profile]);
        }
    }
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "building the ngtt binary failed: {status}");
}

/// Runs `ngtt ARGS` to completion, without an admin token from the environment, and returns
/// what it did (status, stdout, stderr) whatever the outcome.
pub fn output(args: &[&str]) -> std::process::Output {
    Command::new(ngtt_binary())
        .args(args)
        .env_remove("NGTT_ADMIN_TOKEN")
        .env_remove("NGTT_ADMIN_TOKEN_FILE")
        .output()
        .expect("ngtt runs")
}

/// Runs `ngtt ARGS --admin URL --admin-token-file FILE` like [`output`]: an admin command
/// against one server's admin API.
pub fn admin_output(args: &[&str], admin: &str, token_file: &str) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["--admin", admin, "--admin-token-file", token_file]);
    output(&all)
}

/// What a finished `ngtt` wrote on stdout.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

/// What a finished `ngtt` wrote on stderr.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("UTF-8")
}

/// The stdout of a finished `ngtt`, after checking that it succeeded.
pub fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}, stderr: {}",
        out.status,
        stderr(&out)
    );
    stdout(&out)
}

/// Runs `ngtt ARGS` to completion and returns its standard output's lines.
pub fn run(args: &[&str]) -> Vec<String> {
    let output = Command::new(ngtt_binary())
        .args(args)
        .output()
        .expect("ngtt runs");
    assert!(
        output.status.success(),
        "ngtt {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A running `ngtt serve` on loopback ports chosen by the system. Killed when dropped.
pub struct Serve {
    child: Child,
    /// `ngtt listening on`.
    pub ngtt: SocketAddr,
    /// `ngtt admin listening on`.
    pub admin: SocketAddr,
    /// `ngtt http listening on`.
    pub http: SocketAddr,
    /// The admin token file `ngtt serve` wrote (beside a SQLite database: `<db>.admin-token`).
    pub token_file: PathBuf,
}

impl Serve {
    /// `ngtt serve --pki PKI --db DB` with every listener on `127.0.0.1:0`; returns once the
    /// three "listening on" lines are printed. Logs go to the test's stderr when `RUST_LOG` is
    /// set.
    pub async fn start(pki: &Path, db: &Path) -> Serve {
        Serve::start_with(pki, db, &[]).await
    }

    /// Like [`Serve::start`], with `extra` arguments after the listeners (e.g. `--http-plain`).
    pub async fn start_with(pki: &Path, db: &Path, extra: &[&str]) -> Serve {
        let token_file = ngtt_server::default_admin_token_file(db);
        Serve::start_on(pki, db.as_os_str(), token_file, extra, None).await
    }

    /// Like [`Serve::start_with`], the admin token given in `NGTT_ADMIN_TOKEN` (which
    /// overrides the token file).
    pub async fn start_with_token_env(pki: &Path, db: &Path, extra: &[&str], token: &str) -> Serve {
        let token_file = ngtt_server::default_admin_token_file(db);
        Serve::start_on(pki, db.as_os_str(), token_file, extra, Some(token)).await
    }

    /// `ngtt serve --db URL` on a PostgreSQL database (e.g. a
    /// [`TestDatabase`](crate::postgres::TestDatabase)'s URL), its admin token in `token_file`.
    pub async fn start_postgres(pki: &Path, url: &str, token_file: &Path) -> Serve {
        Serve::start_postgres_with(pki, url, token_file, &[]).await
    }

    /// Like [`Serve::start_postgres`], with `extra` arguments (e.g. `--lease-ttl 3`): one node
    /// of several sharing the database. Nodes sharing `token_file` start one after the other
    /// (the first generates the token).
    pub async fn start_postgres_with(pki: &Path, url: &str, token_file: &Path, extra: &[&str]) -> Serve {
        let token_arg = token_file.to_str().expect("a UTF-8 path");
        let mut args = vec!["--admin-token-file", token_arg];
        args.extend_from_slice(extra);
        Serve::start_on(pki, url.as_ref(), token_file.to_owned(), &args, None).await
    }

    async fn start_on(
        pki: &Path,
        db: &std::ffi::OsStr,
        token_file: PathBuf,
        extra: &[&str],
        token_env: Option<&str>,
    ) -> Serve {
        let loopback = "127.0.0.1:0";
        let mut command = tokio::process::Command::new(ngtt_binary());
        command
            .arg("serve")
            .arg("--pki")
            .arg(pki)
            .arg("--db")
            .arg(db)
            .args([
                "--listen",
                loopback,
                "--admin-listen",
                loopback,
                "--http-listen",
                loopback,
            ])
            .args(extra)
            .env_remove("NGTT_ADMIN_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(token) = token_env {
            command.env("NGTT_ADMIN_TOKEN", token);
        }
        if std::env::var_os("RUST_LOG").is_none() {
            command.stderr(Stdio::null());
        }
        let mut child = command.spawn().expect("ngtt serve starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut ngtt, mut admin, mut http) = (None, None, None);
        let read = async {
            while ngtt.is_none() || admin.is_none() || http.is_none() {
                let line = lines
                    .next_line()
                    .await
                    .expect("stdout")
                    .expect("ngtt serve exited early");
                let addr = |prefix: &str| line.strip_prefix(prefix).map(|a| a.parse().expect("address"));
                if let Some(a) = addr("ngtt listening on ") {
                    ngtt = Some(a);
                } else if let Some(a) = addr("ngtt admin listening on ") {
                    admin = Some(a);
                } else if let Some(a) = addr("ngtt http listening on ") {
                    http = Some(a);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("ngtt serve prints its addresses");
        Serve {
            child,
            ngtt: ngtt.expect("NGTT address"),
            admin: admin.expect("admin address"),
            http: http.expect("HTTP address"),
            token_file,
        }
    }

    /// The admin API's bearer token.
    pub fn token(&self) -> String {
        std::fs::read_to_string(&self.token_file)
            .expect("the admin token file")
            .trim()
            .to_owned()
    }

    /// The token file as a command-line argument, for `--admin-token-file`.
    pub fn token_file_arg(&self) -> &str {
        self.token_file.to_str().expect("a UTF-8 path")
    }

    /// The admin API's URL for `path` (which starts with `/`).
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// Runs `ngtt ARGS` against this server's admin API (its URL and token file added), as
    /// [`admin_output`] does.
    pub fn admin_cmd(&self, args: &[&str]) -> std::process::Output {
        admin_output(args, &self.admin_url(""), self.token_file_arg())
    }

    /// Kills the server with SIGKILL (no shutdown at all) and waits until it is gone.
    pub async fn kill_9(mut self) {
        self.child.start_kill().expect("SIGKILL");
        tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("ngtt serve dies")
            .expect("exit status");
    }

    /// Sends SIGTERM (graceful shutdown) and waits for the exit status.
    pub async fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().expect("still running");
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !sent {
            let _ = self.child.start_kill();
        }
        tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("ngtt serve stops")
            .expect("exit status")
    }
}
