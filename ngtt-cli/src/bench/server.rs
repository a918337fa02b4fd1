//! The server under test: an `ngtt serve` child on loopback that the bench starts (and kills
//! with SIGKILL and restarts for the reconnect storm), or a running one given by address.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::error::CliError;

/// Descriptors the bench's server keeps aside from device connections: its listeners, its
/// database files and up to 64 admin API connections of the bench.
const FD_RESERVE: usize = 96;

/// The environment variable through which the bench hands its own server's admin token.
const TOKEN_ENV: &str = "NGTT_ADMIN_TOKEN";

/// A server `ngtt serve` started by the bench.
pub struct LocalServer {
    child: Child,
    exe: PathBuf,
    pki: PathBuf,
    db: OsString,
    max_connections: usize,
    token: String,
    extra: Vec<String>,
    /// NGTT listen address.
    pub listen: SocketAddr,
    /// Admin API address.
    pub admin: SocketAddr,
}

impl LocalServer {
    /// Starts `ngtt serve` on free loopback ports with database `db` (a SQLite file or a
    /// PostgreSQL URL), and waits until it listens.
    /// `exe` is the `ngtt` executable to run (default: this one); `extra` are more arguments
    /// of `ngtt serve` (a node id).
    pub async fn start(
        exe: Option<&Path>,
        pki: &Path,
        db: OsString,
        max_connections: usize,
        token: String,
        extra: Vec<String>,
    ) -> Result<LocalServer, CliError> {
        let exe = match exe {
            Some(exe) => exe.to_owned(),
            None => std::env::current_exe().map_err(|source| CliError::Io {
                context: "finding the ngtt executable",
                source,
            })?,
        };
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let (child, listen, admin) =
            spawn(&exe, pki, &db, (any, any), max_connections, &token, &extra).await?;
        Ok(LocalServer {
            child,
            exe,
            pki: pki.to_owned(),
            db,
            max_connections,
            token,
            extra,
            listen,
            admin,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and waits for it to be gone.
    pub async fn kill9(&mut self) -> Result<(), CliError> {
        self.child.start_kill().map_err(|source| CliError::Io {
            context: "killing the server",
            source,
        })?;
        let _ = self.child.wait().await;
        Ok(())
    }

    /// Starts the server again on the same addresses and database.
    pub async fn restart(&mut self) -> Result<(), CliError> {
        // The listening socket may take a moment to be released after the kill.
        let mut last = None;
        for _ in 0..50 {
            match spawn(
                &self.exe,
                &self.pki,
                &self.db,
                (self.listen, self.admin),
                self.max_connections,
                &self.token,
                &self.extra,
            )
            .await
            {
                Ok((child, _, _)) => {
                    self.child = child;
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(last.unwrap_or_else(|| CliError::Bench("the server did not restart".into())))
    }

    /// Stops the server with SIGKILL (its database is a temporary file, or the given
    /// PostgreSQL schema).
    pub async fn stop(mut self) {
        let _ = self.kill9().await;
    }
}

async fn spawn(
    exe: &Path,
    pki: &Path,
    db: &OsStr,
    (listen, admin): (SocketAddr, SocketAddr),
    max_connections: usize,
    token: &str,
    extra: &[String],
) -> Result<(Child, SocketAddr, SocketAddr), CliError> {
    let mut child = Command::new(exe)
        .arg("serve")
        .arg("--pki")
        .arg(pki)
        .arg("--db")
        .arg(db)
        .args([
            "--listen",
            &listen.to_string(),
            "--admin-listen",
            &admin.to_string(),
        ])
        .args(["--no-http", "--max-connections", &max_connections.to_string()])
        // The default reserve (128) leaves 19 872 connections under an open-file limit of
        // 20 000; the bench's own needs beyond its devices are at most ADMIN_CONCURRENCY (64)
        // admin connections, so a smaller reserve lets 19 900 devices in.
        .args(["--fd-reserve", &FD_RESERVE.to_string()])
        .args(extra)
        .env(TOKEN_ENV, token)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| CliError::Io {
            context: "starting ngtt serve",
            source,
        })?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let (mut ngtt, mut admin_addr) = (None, None);
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line.strip_prefix("ngtt listening on ") {
                ngtt = addr.trim().parse().ok();
            } else if let Some(addr) = line.strip_prefix("ngtt admin listening on ") {
                admin_addr = addr.trim().parse().ok();
            }
            if ngtt.is_some() && admin_addr.is_some() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), read).await;
    match (ngtt, admin_addr) {
        (Some(ngtt), Some(admin)) => {
            // Keep reading stdout so that the server never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            Ok((child, ngtt, admin))
        }
        _ => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            Err(CliError::Bench("ngtt serve did not start listening".into()))
        }
    }
}
