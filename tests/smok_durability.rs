//! Durability of `smok-client`'s SQLite store: a device process killed with `kill -9` while it
//! uploads pathpoint samples, sensor writes and log records, restarted without network (and
//! killed again), then restarted with the server back: every sample, sensor write and log
//! record recorded before a kill is on the server. No sample or sensor write is stored twice;
//! a log record only within the documented window (docs/delivery-guarantees.md, "Logs"): it
//! was still in the device's store when the device was killed with the server up. Both modes
//! (HTTP uploads; NGTT DATA_STREAM and LOGS confirmed by a PING echo).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ngtt_proto::payload::Sample;
use ngtt_server::storage::SeriesQuery;
use ngtt_testkit::smok::{start_server, vacant_addr, Mode, T0};
use ngtt_testkit::TestPki;
use ngtt_testkit::{init_logging, TestServer, WAIT};
use smok_client::store::{LogStore, SqliteStore};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

const ID: &str = "durable-1";

/// A device process recording values `from..from + count`.
fn spawn(
    pki: &TestPki,
    mode: Mode,
    ngtt: SocketAddr,
    http: SocketAddr,
    from: u64,
    count: u64,
    drain: bool,
) -> Child {
    let dir = pki.dir();
    let cert = pki.device(ID);
    std::fs::write(dir.join("device.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("device.key"), &cert.key_pem).unwrap();
    std::fs::write(dir.join("ca.pem"), pki.ca_pem()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smok_durable_device"));
    cmd.env("SMOK_CERT", dir.join("device.pem"))
        .env("SMOK_KEY", dir.join("device.key"))
        .env("SMOK_CA", dir.join("ca.pem"))
        .env("SMOK_HTTP", format!("https://{http}"))
        .env("SMOK_STORE", dir.join("device-store.db"))
        .env("SMOK_FROM", from.to_string())
        .env("SMOK_COUNT", count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if mode == Mode::Ngtt {
        cmd.env("SMOK_NGTT", ngtt.to_string());
    }
    if drain {
        cmd.env("SMOK_DRAIN", "1");
    }
    cmd.spawn().expect("the device process starts")
}

/// Reads the child's lines until `stop` says so; returns the values it reported recorded.
async fn follow(child: &mut Child, mut stop: impl FnMut(&str) -> bool) -> BTreeSet<u64> {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut recorded = BTreeSet::new();
    timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if let Some(k) = line.strip_prefix("recorded ") {
                recorded.insert(k.parse().expect("a number"));
            }
            if stop(&line) {
                return;
            }
        }
        panic!("the device process ended early");
    })
    .await
    .expect("the device process got there in time");
    recorded
}

async fn kill9(child: &mut Child) {
    let pid = child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let _ = child.wait().await;
}

fn server_samples(server: &TestServer) -> Vec<u64> {
    let query = SeriesQuery {
        path: Some("W1".into()),
        limit: 1_000_000,
        ..SeriesQuery::default()
    };
    let series = server.handle.storage().read_series(ID, &query).unwrap();
    series
        .into_iter()
        .flat_map(|s| s.values)
        .map(|v| match v {
            Sample::Value { ts, .. } => ts - T0,
            Sample::Error { ts, .. } => panic!("an error sample at {ts}"),
        })
        .collect()
}

/// The values of the log records the device store at `path` still holds (of a dead device).
fn stored_logs(path: &Path) -> BTreeSet<u64> {
    let store = SqliteStore::open(path).expect("the device's store opens");
    let pending = store.pending_logs(usize::MAX).expect("log records");
    pending.into_iter().map(|p| p.item.when / 1000 - T0).collect()
}

/// How often the server stored the log record of each value.
fn server_logs(server: &TestServer) -> BTreeMap<u64, usize> {
    let logs = server.handle.storage().read_logs(ID, 1_000_000).unwrap();
    let mut counts = BTreeMap::new();
    for log in logs {
        let k = log.when_us / 1000 - T0;
        assert_eq!(log.message, format!("record {k}"));
        *counts.entry(k).or_insert(0) += 1;
    }
    counts
}

async fn killed_mid_upload_then_offline_then_online(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let (ngtt, http) = (vacant_addr(), vacant_addr());
    let db = pki.dir().join("ngtt.db");

    // 1. Online: killed while uploading.
    let server = start_server(&pki, db.clone(), ngtt, http).await;
    let mut child = spawn(&pki, mode, ngtt, http, 0, 400, false);
    let mut recorded = follow(&mut child, |l| l == "recorded 200").await;
    kill9(&mut child).await;
    // Only these may reach the server twice: maybe read already, not known to be.
    let store = pki.dir().join("device-store.db");
    let window = stored_logs(&store);
    server.stop().await;

    // 2. Offline: restarted, records more, killed again.
    let mut child = spawn(&pki, mode, ngtt, http, 1000, 50, false);
    recorded.extend(follow(&mut child, |l| l == "recorded 1049").await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    kill9(&mut child).await;
    let kept = stored_logs(&store);
    assert!(
        (1000..1050).all(|k| kept.contains(&k)),
        "log records made offline are in the store after kill -9: {kept:?}"
    );

    // 3. Online again: restarted, uploads what the store kept, and says when it is empty.
    let server = start_server(&pki, db.clone(), ngtt, http).await;
    let mut child = spawn(&pki, mode, ngtt, http, 2000, 0, true);
    follow(&mut child, |l| l == "drained").await;
    let _ = timeout(WAIT, child.wait()).await;

    let stored = server_samples(&server);
    let unique: BTreeSet<u64> = stored.iter().copied().collect();
    assert_eq!(unique.len(), stored.len(), "a sample stored twice");
    let missing: Vec<_> = recorded.difference(&unique).collect();
    assert!(
        missing.is_empty(),
        "recorded before a kill, missing on the server: {missing:?}"
    );
    // Only values the device recorded (one more than it printed may have been committed).
    assert!(
        unique.iter().all(|k| *k < 400 || (1000..1050).contains(k)),
        "{unique:?}"
    );

    let writes = server
        .handle
        .storage()
        .list_sensor_writes(ID, None, 100_000)
        .unwrap();
    let stamps: Vec<u64> = writes.iter().map(|w| w.timestamp_ms as u64 - T0).collect();
    let unique_writes: BTreeSet<u64> = stamps.iter().copied().collect();
    assert_eq!(unique_writes.len(), stamps.len(), "a sensor write stored twice");
    let missing: Vec<_> = recorded.difference(&unique_writes).collect();
    assert!(
        missing.is_empty(),
        "sensor writes missing on the server: {missing:?}"
    );

    let logs = server_logs(&server);
    let missing: Vec<_> = recorded.iter().filter(|k| !logs.contains_key(k)).collect();
    assert!(
        missing.is_empty(),
        "log records missing on the server: {missing:?}"
    );
    assert!(
        logs.keys().all(|k| *k < 400 || (1000..1050).contains(k)),
        "{logs:?}"
    );
    let twice: Vec<_> = logs.iter().filter(|(_, n)| **n > 1).collect();
    tracing::info!(
        records = logs.len(),
        window = window.len(),
        twice = twice.len(),
        "log records on the server"
    );
    assert!(
        twice.iter().all(|(k, n)| **n == 2 && window.contains(k)),
        "log records stored twice outside the window {window:?}: {twice:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http() {
    killed_mid_upload_then_offline_then_online(Mode::Http).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ngtt() {
    killed_mid_upload_then_offline_then_online(Mode::Ngtt).await
}
