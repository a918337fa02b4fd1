//! `ngtt serve` with two `--listen`, `--tls-max-record` and `--fetch-grace`; `ngtt device`
//! sending a log record with `exception_text`/`exception_traceback` to the second listener and
//! receiving its order; `ngtt logs list` showing the traceback decoded.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ngtt_proto::payload::{Level, LogRecord};
use ngtt_testkit::cli::{admin_output, ok, output as ngtt};
use serde_json::{json, Value};

/// Kills the child when dropped (a failing test leaves no server behind).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_listeners_and_decoded_tracebacks() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let p = pki.to_str().unwrap();
    ok(ngtt(&["pki", "init", "--dir", p]));
    let files = ok(ngtt(&["pki", "device", "--dir", p, "--id", "dev1"]));
    let mut files = files.lines();
    let (cert, key) = (files.next().unwrap().to_owned(), files.next().unwrap().to_owned());

    let db = dir.path().join("ngtt.db");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["serve", "--pki", p, "--db", db.to_str().unwrap(), "--no-http"])
        .args(["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0"])
        .args(["--tls-max-record", "1024", "--fetch-grace", "0.2"])
        .env_remove("NGTT_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start ngtt serve");
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line").expect("readable");
    let (first, second, third) = (next(), next(), next());
    let _serve = Killed(serve);
    let listeners: Vec<&str> = [&first, &second]
        .iter()
        .map(|l| l.strip_prefix("ngtt listening on ").expect(l))
        .collect();
    assert_ne!(listeners[0], listeners[1]);
    let tf = format!("{}.admin-token", db.display());
    let admin = format!(
        "http://{}",
        third.strip_prefix("ngtt admin listening on ").expect(&third)
    );

    let sections = r#"[{"orders": [{"type": "read", "path": "W1"}]}]"#;
    let id = ok(admin_output(
        &["order", "send", "--device", "dev1", "--json", sections],
        &admin,
        &tf,
    ));

    // A device on the second listener: its order arrives (printed), its log record is stored.
    let doc = json!({"frames": [{"name": "poll", "filename": "bus.rs", "line_no": 9, "locals": {}, "globals": {}}],
                     "formatted_traceback": "bus timeout"});
    let record = LogRecord::new("bus", 1_700_000_000_000_000, Level::ERROR, "poll failed").with_exception(
        "bus timeout\n\nCaused by:\n    0: no answer",
        doc.to_string().as_bytes(),
    );
    let mut device = Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["device", "--server", listeners[1], "--server-name", "localhost"])
        .args(["--ca", &format!("{p}/ca.pem"), "--cert", &cert, "--key", &key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start ngtt device");
    let mut stdin = device.stdin.take().unwrap();
    writeln!(stdin, "{}", serde_json::to_string(&[&record]).unwrap()).unwrap();
    stdin.flush().unwrap();
    let mut out = BufReader::new(device.stdout.take().unwrap()).lines();
    let mut device = Killed(device);
    let mut printed = Vec::new();
    while printed.len() < 2 {
        let line = out.next().expect("a line from ngtt device").unwrap();
        printed.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    assert!(printed.iter().any(|l| l["logs"] == "queued"), "{printed:?}");
    let order = printed
        .iter()
        .find(|l| l.get("sections").is_some())
        .expect("the order");
    assert_eq!(order["sections"][0]["orders"][0]["path"], "W1");

    let shown = || ok(admin_output(&["logs", "list", "--device", "dev1"], &admin, &tf));
    wait_for("the log record", || !shown().is_empty());
    let logs: Vec<Value> = shown()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["message"], "poll failed");
    assert_eq!(
        logs[0]["exception_text"],
        "bus timeout\n\nCaused by:\n    0: no answer"
    );
    assert_eq!(logs[0]["exception_traceback"], doc);
    drop(stdin);
    let status = device.0.wait().unwrap();
    assert!(status.success());
    let status = ok(admin_output(&["order", "status", id.trim()], &admin, &tf));
    let state: Value = serde_json::from_str(&status).unwrap();
    assert!(state["deliveries"].as_i64().unwrap() >= 1, "{state}");
}
