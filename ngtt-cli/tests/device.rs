//! `ngtt device` end to end: the real binary against the scripted TLS test server of
//! `ngtt-testkit`, with certificates written to a temporary folder.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ngtt_proto::payload::{LogRecord, Order, PathpointSeries, Section};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{Conn, Next, ScriptedServer, TestPki, PATIENCE};
use serde_json::{json, Value as Json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A running `ngtt device` with its stdin and stdout lines.
struct Device {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Device {
    /// Starts `ngtt device` for `pki`'s device against `server`, with `extra` arguments before
    /// its `--server` (so that another `--server` there is tried first).
    fn start(pki: &TestPki, dir: &Path, server: &ScriptedServer, extra: &[&str]) -> Device {
        let device = pki.device("dev-1");
        for (name, pem) in [
            ("ca.pem", pki.ca_pem()),
            ("dev.pem", &device.cert_pem),
            ("dev.key", &device.key_pem),
        ] {
            std::fs::write(dir.join(name), pem).expect("write PEM");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_ngtt"))
            .arg("device")
            .args(extra)
            .args(["--server", &server.addr.to_string()])
            .arg("--ca")
            .arg(dir.join("ca.pem"))
            .arg("--cert")
            .arg(dir.join("dev.pem"))
            .arg("--key")
            .arg(dir.join("dev.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start ngtt device");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Device {
            stdin: child.stdin.take(),
            child,
            stdout,
        }
    }

    async fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write stdin");
        stdin.flush().await.expect("flush stdin");
    }

    async fn read_json(&mut self) -> Json {
        let line = tokio::time::timeout(PATIENCE, self.stdout.next_line())
            .await
            .expect("a line in time")
            .expect("read stdout")
            .expect("stdout open");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
    }

    /// Closes stdin and waits for a clean exit.
    async fn finish(mut self, conn: Conn) {
        drop(self.stdin.take());
        let (_, frames) = drain_until_closed(conn).await;
        assert!(frames.is_empty(), "{frames:?}");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("exit in time")
            .expect("wait");
        assert!(status.success(), "{status}");
        assert!(self.stdout.next_line().await.expect("read").is_none());
    }
}

/// Reads frames until the device closes TLS cleanly.
async fn drain_until_closed(mut conn: Conn) -> ((), Vec<Frame>) {
    let mut frames = Vec::new();
    loop {
        match conn.next(PATIENCE).await {
            Next::Frame(f) => frames.push(f),
            Next::Closed => return ((), frames),
            other => panic!("expected a clean close, got {other:?}"),
        }
    }
}

fn sections(path: &str) -> Vec<Section> {
    vec![Section::new([Order::write(path, 5), Order::wait(0.1)])]
}

#[tokio::test]
async fn prints_and_confirms_orders_uploads_and_logs() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ScriptedServer::start(&pki).await;
    let mut device = Device::start(&pki, dir.path(), &server, &[]);
    let mut conn = server.accept().await;
    assert_eq!(conn.recv().await, Frame::fetch_orders());

    conn.send(Frame::order(21, &sections("W1")).expect("encodes"))
        .await;
    let printed = device.read_json().await;
    assert_eq!(printed["tid"], 21);
    assert_eq!(
        printed["sections"][0]["orders"][0],
        json!({"type": "write", "path": "W1", "value": 5, "advise": 0})
    );
    assert_eq!(conn.recv().await, Frame::order_confirm(21));

    device
        .send_line(r#"[{"path":"W1","values":[[1700000000000,5]]}]"#)
        .await;
    let upload = conn.recv().await;
    assert_eq!(upload.kind, FrameType::DataStream);
    let series: Vec<PathpointSeries> = upload.payload_as().expect("series");
    assert_eq!(series[0].path, "W1");
    conn.send(Frame::data_stream_confirm(upload.tid)).await;
    assert_eq!(
        device.read_json().await,
        json!({"upload": "confirmed", "line": 1})
    );

    device.send_line(r#"[{"path":"rW2","values":[]}]"#).await;
    let upload = conn.recv().await;
    conn.send(
        Frame::data_stream_reject_because(upload.tid, "reparse pathpoints are not uploaded")
            .expect("encodes"),
    )
    .await;
    assert_eq!(
        device.read_json().await,
        json!({"upload": "rejected", "reason": "reparse pathpoints are not uploaded", "line": 2})
    );

    device
        .send_line(r#"[{"service":"boiler","message":"on"},{"service":"boiler","message":"off","level":30}]"#)
        .await;
    assert_eq!(device.read_json().await, json!({"logs": "queued", "count": 2}));
    let logs: Vec<LogRecord> = conn.recv().await.payload_as().expect("records");
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[1].level.0, 30);

    device.send_line("not json").await;
    assert_eq!(device.read_json().await["line"], 4);
    device.finish(conn).await;
}

#[tokio::test]
async fn exec_decides_between_confirm_and_reject() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ScriptedServer::start(&pki).await;
    // Confirms orders that write to W1, rejects the others.
    let script = r#"read order; case "$order" in *'"W1"'*) exit 0;; *) exit 3;; esac"#;
    let mut device = Device::start(&pki, dir.path(), &server, &["--exec", script]);
    let mut conn = server.accept().await;
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    conn.send(Frame::order(1, &sections("W1")).expect("encodes"))
        .await;
    conn.send(Frame::order(2, &sections("W9")).expect("encodes"))
        .await;
    assert_eq!(device.read_json().await["tid"], 1);
    assert_eq!(device.read_json().await["tid"], 2);
    assert_eq!(conn.recv().await, Frame::order_confirm(1));
    assert_eq!(conn.recv().await, Frame::order_reject(2));
    device.finish(conn).await;
}

#[tokio::test]
async fn no_orders_means_no_fetch_orders_and_eof_waits_for_uploads() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ScriptedServer::start(&pki).await;
    let mut device = Device::start(&pki, dir.path(), &server, &["--no-orders"]);
    let mut conn = server.accept().await;
    conn.expect_silence(Duration::from_millis(300)).await;
    device
        .send_line(r#"[{"path":"W1","values":[[1700000000000,1]]}]"#)
        .await;
    drop(device.stdin.take()); // end of input with the upload pending
    let upload = conn.recv().await;
    assert_eq!(upload.kind, FrameType::DataStream);
    conn.expect_silence(Duration::from_millis(200)).await;
    conn.send(Frame::data_stream_confirm(upload.tid)).await;
    assert_eq!(
        device.read_json().await,
        json!({"upload": "confirmed", "line": 1})
    );
    device.finish(conn).await;
}

#[tokio::test]
async fn a_repeated_server_moves_past_a_dead_node() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ScriptedServer::start(&pki).await;
    let dead = ngtt_testkit::smok::vacant_addr().to_string();
    let mut device = Device::start(&pki, dir.path(), &server, &["--server", &dead, "--no-orders"]);
    let mut conn = server.accept().await;
    device
        .send_line(r#"[{"path":"W1","values":[[1700000000000,1]]}]"#)
        .await;
    let upload = conn.recv().await;
    assert_eq!(upload.kind, FrameType::DataStream);
    conn.send(Frame::data_stream_confirm(upload.tid)).await;
    assert_eq!(
        device.read_json().await,
        json!({"upload": "confirmed", "line": 1})
    );
    device.finish(conn).await;
}

#[test]
fn help_shows_an_example() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(["device", "--help"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).expect("UTF-8");
    for needle in [
        "--server <ADDR>",
        "--server-name",
        "--no-orders",
        "--exec <CMD>",
        "Example:",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}
