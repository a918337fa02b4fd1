//! `ngtt pki`, `ngtt serve` and `ngtt order` as real processes: the printed ports, the order
//! commands against the admin API, SIGTERM, and a `kill -9` that loses nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ngtt_proto::{DeviceIdentity, Environment};
use ngtt_testkit::cli::{ok, output as ngtt, stderr, Serve};
use serde_json::Value;

fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "ngtt serve did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn init_pki(dir: &Path) -> std::path::PathBuf {
    let pki = dir.join("pki");
    ok(ngtt(&["pki", "init", "--dir", pki.to_str().unwrap()]));
    pki
}

#[test]
fn pki_init_and_device() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let p = pki.to_str().unwrap();
    let printed = ok(ngtt(&[
        "pki",
        "init",
        "--dir",
        p,
        "--server-name",
        "ngtt.example.com",
    ]));
    let files: Vec<&str> = printed.lines().collect();
    assert_eq!(files.len(), 4, "{printed}");
    for (file, name) in files.iter().zip(["ca.pem", "ca.key", "server.pem", "server.key"]) {
        assert!(file.ends_with(name) && Path::new(file).exists(), "{file}");
    }
    let again = ngtt(&["pki", "init", "--dir", p]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    ok(ngtt(&["pki", "init", "--dir", p, "--force"]));

    let printed = ok(ngtt(&["pki", "device", "--dir", p, "--id", "dev-1"]));
    let files: Vec<&str> = printed.lines().collect();
    assert_eq!(files.len(), 2, "{printed}");
    let identity = DeviceIdentity::from_pem(&std::fs::read(files[0]).unwrap()).unwrap();
    assert_eq!(
        identity,
        DeviceIdentity::new("dev-1", Environment::LocalDevelopment)
    );
    let printed = ok(ngtt(&["pki", "device", "--dir", p, "--id", "prod", "--env", "0"]));
    let cert = printed.lines().next().unwrap();
    let identity = DeviceIdentity::from_pem(&std::fs::read(cert).unwrap()).unwrap();
    assert_eq!(identity.environment, Environment::Production);
    assert_eq!(
        ngtt(&["pki", "device", "--dir", p, "--id", "x", "--env", "3"])
            .status
            .code(),
        Some(2)
    );
}

#[tokio::test]
async fn serve_and_order_commands() {
    let dir = tempfile::tempdir().unwrap();
    let pki = init_pki(dir.path());
    let serve = Serve::start_with(&pki, &dir.path().join("ngtt.db"), &["--max-inflight", "2"]).await;
    for addr in [serve.ngtt, serve.admin, serve.http] {
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
        assert!(std::net::TcpStream::connect(addr).is_ok(), "{addr}");
    }

    let sections = r#"[{"orders": [{"type": "write", "path": "W1", "value": 5}]}]"#;
    let id = ok(serve.admin_cmd(&["order", "send", "--device", "dev1", "--json", sections]));
    let id = id.trim();
    assert!(id.parse::<i64>().is_ok(), "{id:?}");

    let file = dir.path().join("orders.json");
    std::fs::write(
        &file,
        r#"[{"orders": [{"type": "read", "path": "W2"}], "disposition": 1}]"#,
    )
    .unwrap();
    let second = ok(serve.admin_cmd(&[
        "order",
        "send",
        "--device",
        "dev1",
        "--file",
        file.to_str().unwrap(),
    ]));

    let status = ok(serve.admin_cmd(&["order", "status", id]));
    assert_eq!(status.lines().count(), 1);
    let order: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(order["id"].to_string(), id);
    assert_eq!(order["device"], "dev1");
    assert_eq!(order["state"], "queued");
    assert_eq!(order["deliveries"], 0);

    let list = ok(serve.admin_cmd(&["order", "list", "--device", "dev1"]));
    let ids: Vec<String> = list
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids, [id, second.trim()]);
    let none = ok(serve.admin_cmd(&["order", "list", "--device", "dev1", "--state", "confirmed"]));
    assert_eq!(none, "");

    for (args, needle) in [
        (vec!["order", "status", "999999"], "no order 999999"),
        (
            vec!["order", "send", "--device", "dev1", "--json", "{}"],
            "list of sections",
        ),
        (
            vec!["order", "list", "--device", "dev1", "--state", "x"],
            "unknown order state",
        ),
    ] {
        let out = serve.admin_cmd(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.starts_with("ngtt: ") && err.contains(needle), "{err}");
    }
    // Several devices: one batch request, one line per order, in the order given.
    let fleet = dir.path().join("fleet.txt");
    std::fs::write(&fleet, "# the fleet\nf2\n\nf3\n").unwrap();
    let queued = ok(serve.admin_cmd(&[
        "order",
        "send",
        "--device",
        "f1",
        "--devices-file",
        fleet.to_str().unwrap(),
        "--json",
        sections,
    ]));
    let queued: Vec<Value> = queued.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let named: Vec<&str> = queued.iter().map(|q| q["device"].as_str().unwrap()).collect();
    assert_eq!(named, ["f1", "f2", "f3"]);
    for q in &queued {
        let status = ok(serve.admin_cmd(&["order", "status", &q["id"].to_string()]));
        let order: Value = serde_json::from_str(&status).unwrap();
        assert_eq!(
            (&order["device"], &order["state"]),
            (&q["device"], &"queued".into())
        );
    }
    let refused = serve.admin_cmd(&[
        "order", "send", "--device", "f1", "--device", "f\u{1b}", "--json", sections,
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("order 1: invalid device id"),
        "{}",
        stderr(&refused)
    );
    let none = ngtt(&["order", "send", "--json", sections]);
    assert_eq!(none.status.code(), Some(2), "a device is required");

    let both = ngtt(&["order", "send", "--device", "d", "--json", "[]", "--file", "x"]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "--json and --file exclude each other"
    );

    assert_eq!(serve.stop().await.code(), Some(0), "SIGTERM: graceful exit 0");
}

#[tokio::test]
async fn kill_9_loses_no_queued_order() {
    let dir = tempfile::tempdir().unwrap();
    let pki = init_pki(dir.path());
    let db = dir.path().join("ngtt.db");
    let serve = Serve::start(&pki, &db).await;
    let sections = r#"[{"orders": [{"type": "sysctl", "op_type": "reboot", "op_args": ""}]}]"#;
    let id = ok(serve.admin_cmd(&["order", "send", "--device", "d", "--json", sections]));
    serve.kill_9().await;

    let serve = Serve::start(&pki, &db).await;
    let status = ok(serve.admin_cmd(&["order", "status", id.trim()]));
    let order: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(order["state"], "queued");
    assert_eq!(order["sections"][0]["orders"][0]["op_type"], "reboot");
    assert_eq!(serve.stop().await.code(), Some(0));
}

#[tokio::test]
async fn admin_token_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let pki = init_pki(dir.path());
    let serve = Serve::start_with_token_env(&pki, &dir.path().join("ngtt.db"), &[], "s3cret").await;
    let admin = serve.admin_url("");
    let admin = admin.as_str();
    let refused = ngtt(&["order", "list", "--admin", admin, "--device", "d"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("token"), "{}", stderr(&refused));
    ok(ngtt(&[
        "order",
        "list",
        "--admin",
        admin,
        "--device",
        "d",
        "--admin-token",
        "s3cret",
    ]));
    let deprecated = ngtt(&[
        "order",
        "list",
        "--admin",
        admin,
        "--device",
        "d",
        "--admin-token",
        "s3cret",
    ]);
    assert!(
        stderr(&deprecated).contains("warning: --admin-token"),
        "{}",
        stderr(&deprecated)
    );
    let with_env = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["order", "list", "--admin", admin, "--device", "d"])
        .env("NGTT_ADMIN_TOKEN", "s3cret")
        .output()
        .unwrap();
    ok(with_env);
    assert_eq!(serve.stop().await.code(), Some(0));
}

#[tokio::test]
async fn first_start_generates_a_private_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = init_pki(dir.path());
    let db = dir.path().join("ngtt.db");
    // No token given: the admin API still needs one, generated beside the database.
    let serve = Serve::start(&pki, &db).await;
    let token = std::fs::read_to_string(&serve.token_file).expect("the token file");
    assert!(token.trim().len() >= 32, "{token:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&serve.token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let admin = serve.admin_url("");
    let refused = ngtt(&["order", "list", "--admin", &admin, "--device", "d"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("401"), "{}", stderr(&refused));
    let with_file_env = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["order", "list", "--admin", &admin, "--device", "d"])
        .env("NGTT_ADMIN_TOKEN_FILE", &serve.token_file)
        .env_remove("NGTT_ADMIN_TOKEN")
        .output()
        .unwrap();
    ok(with_file_env);
    // Run from the database's directory, the CLI finds ./ngtt.db.admin-token by itself.
    let from_dir = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["order", "list", "--admin", &admin, "--device", "d"])
        .current_dir(dir.path())
        .env_remove("NGTT_ADMIN_TOKEN")
        .env_remove("NGTT_ADMIN_TOKEN_FILE")
        .output()
        .unwrap();
    ok(from_dir);
    assert_eq!(serve.stop().await.code(), Some(0));
    // A restart keeps the token.
    let again = Serve::start(&pki, &db).await;
    assert_eq!(std::fs::read_to_string(&again.token_file).unwrap(), token);
    assert_eq!(again.stop().await.code(), Some(0));

    let missing = ngtt(&["serve", "--pki", dir.path().join("nope").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("ca.pem"), "{}", stderr(&missing));
}

/// `ngtt serve` with a fresh PKI and `args` exits with status 2 (a usage error), naming
/// `needle` on stderr.
fn serve_refuses(args: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pki = init_pki(dir.path());
    let mut all = vec!["serve", "--pki", pki.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = ngtt(&all);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(needle), "{}", stderr(&out));
}

#[test]
fn http_plain_requires_trusting_the_proxy_header() {
    serve_refuses(
        &["--http-listen", "127.0.0.1:0", "--http-plain"],
        "--trust-proxy-header",
    );
}

#[test]
fn serve_without_the_http_api_prints_two_lines() {
    let dir = tempfile::tempdir().unwrap();
    let pki = init_pki(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["serve", "--pki", pki.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0", "--no-http", "--db"])
        .arg(dir.path().join("ngtt.db"))
        .env_remove("NGTT_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ngtt serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed: Vec<String> = (0..2)
        .map(|_| lines.next().expect("a line").expect("readable"))
        .collect();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    assert_eq!(wait(&mut child).code(), Some(0));
    printed.extend(lines.map(|l| l.expect("readable")));
    let lines = printed;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("ngtt listening on "), "{lines:?}");
    assert!(lines[1].starts_with("ngtt admin listening on "), "{lines:?}");
}

#[test]
fn a_ping_answer_delay_beyond_the_clients_patience_is_refused() {
    serve_refuses(&["--ping-answer-delay", "61"], "--ping-answer-delay");
}
