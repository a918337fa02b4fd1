//! `ngtt serve`'s start-up limits as an operator meets them: `--max-connections` clamped (with
//! one warning) to a low open-file limit, the open-file soft limit raised to the hard one, and
//! the warning of `--trust-proxy-header`.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

/// `ngtt pki init` into `dir`.
fn pki(dir: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["pki", "init", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .expect("ngtt pki init");
    assert!(status.success());
}

/// Runs `ngtt serve ARGS` under `sh -c 'ULIMIT && exec ngtt ...'` until it has printed its
/// three listening lines, stops it with SIGTERM, and returns what it logged.
fn serve_and_log(dir: &Path, ulimit: &str, args: &[&str]) -> String {
    let script = format!("{ulimit} && exec \"$0\" \"$@\"");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_ngtt"))
        .args(["serve", "--pki"])
        .arg(dir.join("pki"))
        .arg("--db")
        .arg(dir.join("db"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ngtt serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut listening = 0;
    while listening < 3 {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("ngtt serve exited early"))
            .expect("stdout");
        if line.contains("listening on") {
            listening += 1;
        }
    }
    // SIGTERM: a graceful stop, after which every line is logged.
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    if !sent {
        let _ = child.kill();
    }
    let _ = child.wait();
    let mut logged = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logged)
        .expect("stderr");
    logged
}

#[test]
fn max_connections_beyond_the_open_file_limit_is_clamped_with_one_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki(&dir.path().join("pki"));
    // `ulimit -n` sets the soft and the hard limit: nothing to raise to.
    let logged = serve_and_log(
        dir.path(),
        "ulimit -n 300",
        &["--max-connections", "1000", "--http-listen", "127.0.0.1:0"],
    );
    assert_eq!(
        logged.matches("do not fit the open-file limit").count(),
        1,
        "{logged}"
    );
    // 300 - 128 reserved = 172: a quarter (43) for the HTTP API, 129 for NGTT.
    assert!(logged.contains("max_connections=129"), "{logged}");
    assert!(logged.contains("http_max_connections=43"), "{logged}");
}

#[test]
fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki(&dir.path().join("pki"));
    // Soft 300 (too few for 1 000 connections), hard 2 000 (enough): raised, no warning.
    let logged = serve_and_log(
        dir.path(),
        "ulimit -Sn 300 && ulimit -Hn 2000",
        &[
            "--max-connections",
            "1000",
            "--http-listen",
            "127.0.0.1:0",
            "--http-max-connections",
            "100",
        ],
    );
    assert!(!logged.contains("do not fit"), "{logged}");
}

#[test]
fn trusting_the_proxy_header_warns_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki(&dir.path().join("pki"));
    let logged = serve_and_log(
        dir.path(),
        "true",
        &["--trust-proxy-header", "--http-listen", "0.0.0.0:0"],
    );
    assert!(
        logged.contains("X-SSL-Client-Certificate header on a non-loopback address"),
        "{logged}"
    );
    let logged = serve_and_log(
        dir.path(),
        "true",
        &["--trust-proxy-header", "--http-listen", "127.0.0.1:0"],
    );
    assert!(
        logged.contains("trusts the X-SSL-Client-Certificate header"),
        "{logged}"
    );
    assert!(!logged.contains("non-loopback"), "{logged}");
}
