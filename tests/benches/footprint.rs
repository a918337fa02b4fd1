//! What a device costs to run, `smok-client` against the published Python client (issue 9,
//! "Measure"): each as its own process, a device with 1 000 registered pathpoints and 50
//! sensors polling one in-process `ngtt-server` over plain HTTP (the Python client's local
//! development environment), first idle, then executing one read order a second. For each
//! phase: CPU seconds per minute (user + system, from `/proc/PID/stat`) and resident memory at
//! its end (`VmRSS`), with the peak (`VmHWM`).
//!
//! Both clients poll every 5 s (the Python client's 60 s communicator cycle is a module
//! constant; the footprint script sets it, as `poll_interval` does for ours) so that a window
//! of a few dozen seconds sees several cycles; orders arrive in batches at each poll.
//!
//! `cargo bench -p ngtt-e2e --bench footprint` (FOOTPRINT_SECS sets the window, default 30 s;
//! it takes about 2 × that plus the boots). Skipped when the Python client is not installed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ngtt_server::storage::sensors::Sensor;
use ngtt_server::{Server, ServerConfig, TlsPems};
use ngtt_testkit::smok_client_installed;
use ngtt_testkit::TestPki;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const PATHPOINTS: usize = 1_000;
const SENSORS: usize = 50;
const POLL_SECS: &str = "5";

/// CPU ticks (user + system) and memory of a process.
#[derive(Clone, Copy, Debug)]
struct Usage {
    ticks: u64,
    rss_kib: u64,
    anon_kib: u64,
    hwm_kib: u64,
}

fn usage(pid: u32) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Usage {
        ticks,
        rss_kib: kib("VmRSS:"),
        anon_kib: kib("RssAnon:"),
        hwm_kib: kib("VmHWM:"),
    }
}

fn ticks_per_second() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(100.0)
}

async fn wait_ready(child: &mut Child, what: &str) {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("ready") {
                return true;
            }
            eprintln!("{what}: {line}");
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "{what} did not become ready");
    // Keep draining its output so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") || !smok_client_installed() {
        return;
    }
    let window = Duration::from_secs(
        std::env::var("FOOTPRINT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    );
    let pki = TestPki::new();
    let tls = TlsPems {
        device_ca: pki.ca_pem().to_owned(),
        server_cert: pki.server.cert_pem.clone(),
        server_key: pki.server.key_pem.clone(),
    };
    let mut config = ServerConfig::new(tls, pki.scratch("ngtt.db"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    config.http_plain = true;
    config.trust_proxy_header = true;
    let server = Server::bind(config).await.expect("server");
    let base = format!("http://{}", server.http_addr().expect("HTTP API"));
    let handle = server.handle();
    tokio::spawn(server.run());

    let mut children = Vec::new();
    for (id, python) in [("rust-device", false), ("python-device", true)] {
        pki.device(id);
        let sensors: Vec<Sensor> = (0..SENSORS)
            .map(|k| Sensor {
                fqts: format!("sensor n{k}"),
                path: format!("W{k}"),
                sensor_type: "std.Number10".into(),
            })
            .collect();
        handle.storage().put_sensors(id, &sensors, true).expect("sensors");
        let (cert, key) = pki.device_files(id);
        let mut cmd = if python {
            let mut cmd = Command::new("python3");
            cmd.arg(repo().join("python/footprint_device.py"))
                .arg(&base)
                .arg(&cert)
                .arg(&key)
                .arg(POLL_SECS)
                .arg(PATHPOINTS.to_string())
                .env("PYTHONPATH", repo().join("python"));
            cmd
        } else {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_smok_footprint_device"));
            cmd.env("SMOK_CERT", &cert)
                .env("SMOK_KEY", &key)
                .env("SMOK_HTTP", &base)
                .env("SMOK_POLL_SECS", POLL_SECS)
                .env("SMOK_PATHPOINTS", PATHPOINTS.to_string());
            cmd
        };
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("device process");
        wait_ready(&mut child, id).await;
        children.push((id, child));
    }
    tokio::time::sleep(Duration::from_secs(10)).await; // boot tails: registrations, first polls
    let hz = ticks_per_second();
    let per_minute = |a: Usage, b: Usage| (b.ticks - a.ticks) as f64 / hz * 60.0 / window.as_secs_f64();
    let pids: Vec<u32> = children.iter().map(|(_, c)| c.id().expect("running")).collect();

    let start: Vec<Usage> = pids.iter().map(|p| usage(*p)).collect();
    tokio::time::sleep(window).await;
    let idle: Vec<Usage> = pids.iter().map(|p| usage(*p)).collect();

    let began = Instant::now();
    let mut k = 0u64;
    while began.elapsed() < window {
        for (id, _) in &children {
            let path = format!("W{}", k * 37 % PATHPOINTS as u64);
            let sections = json!([{"orders": [{"type": "read", "path": path}]}]);
            let bytes = minijson::to_vec(&minijson::Value::from(sections)).expect("MiniJSON");
            handle.queue_order(id, bytes).await.expect("queued");
        }
        k += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let loaded: Vec<Usage> = pids.iter().map(|p| usage(*p)).collect();
    let orders_left = |id: &str| {
        handle
            .storage()
            .list_orders(id, Some(ngtt_server::OrderState::Queued), 10_000)
            .map_or(0, |o| o.len())
    };

    let tick = 60.0 / hz / window.as_secs_f64(); // one clock tick, as CPU seconds a minute
    println!(
        "device with {PATHPOINTS} pathpoints and {SENSORS} sensors, polling every {POLL_SECS} s; windows of {} s",
        window.as_secs()
    );
    println!(
        "{:<14} {:>13} {:>10} {:>13} {:>10} {:>12} {:>10}",
        "", "idle CPU/min", "idle RSS", "load CPU/min", "load RSS", "of it anon", "peak RSS"
    );
    for (i, (id, _)) in children.iter().enumerate() {
        println!(
            "{:<14} {:>11.3} s {:>6} KiB {:>11.3} s {:>6} KiB {:>8} KiB {:>6} KiB  ({} orders not fetched yet)",
            id,
            per_minute(start[i], idle[i]),
            idle[i].rss_kib,
            per_minute(idle[i], loaded[i]),
            loaded[i].rss_kib,
            loaded[i].anon_kib,
            loaded[i].hwm_kib,
            orders_left(id)
        );
    }
    // CPU is counted in clock ticks: a figure under one tick is taken as one, so the CPU
    // ratios are lower bounds.
    let cpu_ratio = |rust: f64, python: f64| python / rust.max(tick);
    println!(
        "Python / Rust: idle CPU >= {:.0}x, load CPU >= {:.0}x, RSS {:.1}x idle and {:.1}x under load, anonymous memory {:.1}x",
        cpu_ratio(per_minute(start[0], idle[0]), per_minute(start[1], idle[1])),
        cpu_ratio(per_minute(idle[0], loaded[0]), per_minute(idle[1], loaded[1])),
        idle[1].rss_kib as f64 / idle[0].rss_kib.max(1) as f64,
        loaded[1].rss_kib as f64 / loaded[0].rss_kib.max(1) as f64,
        loaded[1].anon_kib as f64 / loaded[0].anon_kib.max(1) as f64,
    );
    println!("(CPU in clock ticks of 1/{hz} s: one tick is {tick:.3} s a minute in these windows)");
    handle.shutdown();
}
