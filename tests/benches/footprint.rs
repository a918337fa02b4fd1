//! What a device costs to run, `smok-client` against the published Python client (issue 9,
//! "Measure"): each as its own process, a device with 1 000 registered pathpoints and 50
//! sensors polling one in-process `ngtt-server` over plain HTTP (the Python client's local
//! development environment), first idle, then executing one read order a second. For each
//! phase: CPU seconds per minute (user + system of every thread, from the process's CPU-time
//! clock, nanosecond resolution) and memory at its end from `/proc/PID/smaps_rollup`: resident
//! (`Rss`, shared pages included), proportional (`Pss`, shared pages divided among their
//! users), anonymous (`Anonymous`: heap and stacks), with the peak (`VmHWM`) and the threads.
//!
//! Both clients poll every `FOOTPRINT_POLL_SECS` (default 60 s, the default of both: the Python
//! client's communicator cycle is a module constant that the footprint script sets, ours is
//! `poll_interval`); orders arrive in batches at each poll. A shorter interval (5 s) weighs
//! the cost of one poll more heavily.
//!
//! Our device is `tests/src/bin/smok_footprint_device.rs` built as a device would ship it:
//! the `device` profile (size-optimised, LTO, stripped) and linked statically (see
//! [`device_binary`]); `FOOTPRINT_DEVICE=PATH` runs another build of it instead.
//!
//! With `FOOTPRINT_RESOURCES=1` (issue 10, "Measure"), the server first gets, for each device,
//! 20 predicates of the statistic both devices register (`footprint.threshold`: reads one
//! pathpoint, compares it with a limit), 10 macros with an occurrence every minute through the
//! whole run (each writes one pathpoint) and 5 BAOBs of 1 KiB; each device is ready only once
//! it holds them all, and the report adds the macro occurrences each device completed.
//!
//! `cargo bench -p ngtt-e2e --bench footprint` (FOOTPRINT_SECS sets each window, default five
//! poll intervals and at least 60 s; it takes about 2 × that plus the boots and, the first
//! time, the device build).
//! Skipped when the Python client is not installed. `FOOTPRINT_RUST_ONLY=1` runs our device
//! alone (no ratio printed): for profiling it, also where the Python client cannot run (it
//! waits for an hour of host uptime before its first BAOB sync).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ngtt_server::storage::baob::{BaobCommit, VersionRule, Writer};
use ngtt_server::storage::macros::{CommandValue, MacroCommand, MacroRecord, Occurrence};
use ngtt_server::storage::predicates::Predicate;
use ngtt_server::storage::sensors::Sensor;
use ngtt_server::storage::Storage;
use ngtt_server::{Server, ServerConfig, TlsPems};
use ngtt_testkit::smok_client_installed;
use ngtt_testkit::TestPki;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const PATHPOINTS: usize = 1_000;
const SENSORS: usize = 50;
/// Predicates, macros and BAOBs of each device with `FOOTPRINT_RESOURCES=1`.
const PREDICATES: usize = 20;
const MACROS: usize = 10;
const BAOBS: usize = 5;
/// The statistic both devices register.
const STATISTIC: &str = "footprint.threshold";

/// The flags that link the device binary statically (glibc), without position independence:
/// no dynamic loader, only the parts of the C library it calls, nothing to relocate at start.
const STATIC_LINK: [&str; 4] = [
    "-C",
    "target-feature=+crt-static",
    "-C",
    "relocation-model=static",
];

/// CPU time and memory of a process.
#[derive(Clone, Copy, Debug)]
struct Usage {
    cpu: Duration,
    rss_kib: u64,
    pss_kib: u64,
    anon_kib: u64,
    hwm_kib: u64,
    threads: u64,
}

/// The CPU time of every thread of `pid`, living or gone (its process CPU-time clock).
fn cpu_time(pid: u32) -> Duration {
    let mut clock: libc::clockid_t = 0;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both pointers are to live locals of the types the functions take.
    let ok = unsafe {
        libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) == 0
            && libc::clock_gettime(clock, &mut ts) == 0
    };
    assert!(ok, "no CPU clock for process {pid}");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The value in KiB of `key` in a `/proc` file of `key: value kB` lines.
fn kib(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn usage(pid: u32) -> Usage {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    Usage {
        cpu: cpu_time(pid),
        rss_kib: kib(&rollup, "Rss:"),
        pss_kib: kib(&rollup, "Pss:"),
        anon_kib: kib(&rollup, "Anonymous:"),
        hwm_kib: kib(&status, "VmHWM:"),
        threads: kib(&status, "Threads:"),
    }
}

/// Builds the device program with the `device` profile, linked statically, and returns its
/// path (or `FOOTPRINT_DEVICE`, when set).
fn device_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FOOTPRINT_DEVICE") {
        return path.into();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "rustc",
            "--profile",
            "device",
            "-p",
            "ngtt-e2e",
            "--bin",
            "smok_footprint_device",
        ])
        .args(["--message-format", "json-render-diagnostics", "--"])
        .args(STATIC_LINK)
        .current_dir(repo())
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "the device program did not build");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == "smok_footprint_device")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the device executable")
}

/// Gives `device` [`PREDICATES`] predicates, [`MACROS`] macros with an occurrence a minute
/// (each macro at its own second) from now until `span` from now, and [`BAOBS`] BAOBs.
fn put_resources(storage: &dyn Storage, device: &str, span: Duration) {
    for k in 0..PREDICATES {
        let predicate = Predicate {
            predicate_id: format!("p{k}"),
            online: true,
            statistic: STATISTIC.into(),
            configuration: json!({"path": format!("W{k}"), "limit": 100}),
            verbose_name: format!("threshold {k}"),
            group: "B".into(),
            silencing: Vec::new(),
        };
        storage.put_predicate(device, &predicate).expect("predicate");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    for k in 0..MACROS {
        let occurrences = (0..=span.as_secs() / 60)
            .map(|j| Occurrence {
                timestamp: (now + 60 * j + 6 * k as u64) as f64,
                completed: false,
                completed_at_ms: None,
            })
            .collect();
        let record = MacroRecord {
            macro_id: format!("m{k}"),
            commands: vec![MacroCommand {
                path: format!("W{}", PATHPOINTS - 1 - k),
                value: CommandValue::Int(k as i64),
            }],
            occurrences,
        };
        let created = storage.put_macro(device, &record, MACROS).expect("macro");
        assert_eq!(created, Some(true), "macro {k} created");
    }
    for k in 0..BAOBS {
        let contents = vec![b'a' + k as u8; 1024];
        let commit = BaobCommit {
            key: &format!("settings-{k}"),
            rule: VersionRule::Next,
            by: Writer::Admin,
            staged: None,
            tail: &contents,
            max_keys: BAOBS,
        };
        storage.commit_baob(device, &commit).expect("BAOB");
    }
}

/// How many occurrences of `device`'s macros the server has as completed.
fn completed_occurrences(storage: &dyn Storage, device: &str) -> usize {
    let macros = storage.macros(device, None).expect("macros");
    macros
        .iter()
        .flat_map(|m| &m.occurrences)
        .filter(|o| o.completed)
        .count()
}

async fn wait_ready(child: &mut Child, what: &str) {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(300), async {
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
    let env_secs = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    let poll_secs = env_secs("FOOTPRINT_POLL_SECS").unwrap_or(60).max(1);
    let window = Duration::from_secs(env_secs("FOOTPRINT_SECS").unwrap_or((5 * poll_secs).max(60)));
    let resources = std::env::var("FOOTPRINT_RESOURCES").is_ok_and(|v| v == "1");
    let rust_only = std::env::var("FOOTPRINT_RUST_ONLY").is_ok_and(|v| v == "1");
    let device = device_binary();
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
    let clients: &[(&str, bool)] = if rust_only {
        &[("rust-device", false)]
    } else {
        &[("rust-device", false), ("python-device", true)]
    };
    for &(id, python) in clients {
        pki.device(id);
        let sensors: Vec<Sensor> = (0..SENSORS)
            .map(|k| Sensor {
                fqts: format!("sensor n{k}"),
                path: format!("W{k}"),
                sensor_type: "std.Number10".into(),
            })
            .collect();
        handle.storage().put_sensors(id, &sensors, true).expect("sensors");
        if resources {
            // Boots (up to a few minutes each), the settling, both windows, and a margin.
            put_resources(&*handle.storage(), id, 2 * window + Duration::from_secs(600));
        }
        let (cert, key) = pki.device_files(id);
        let mut cmd = if python {
            let mut cmd = Command::new("python3");
            cmd.arg(repo().join("python/footprint_device.py"))
                .arg(&base)
                .arg(&cert)
                .arg(&key)
                .arg(poll_secs.to_string())
                .arg(PATHPOINTS.to_string())
                .env("PYTHONPATH", repo().join("python"));
            if resources {
                cmd.args([PREDICATES, MACROS, BAOBS].map(|n| n.to_string()));
            }
            cmd
        } else {
            let mut cmd = Command::new(&device);
            cmd.env("SMOK_CERT", &cert)
                .env("SMOK_KEY", &key)
                .env("SMOK_HTTP", &base)
                .env("SMOK_POLL_SECS", poll_secs.to_string())
                .env("SMOK_PATHPOINTS", PATHPOINTS.to_string());
            if resources {
                cmd.env("SMOK_EXPECT_PREDICATES", PREDICATES.to_string())
                    .env("SMOK_EXPECT_BAOBS", BAOBS.to_string());
            }
            cmd
        };
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("device process");
        wait_ready(&mut child, id).await;
        eprintln!("{id}: ready, process {}", child.id().unwrap_or(0));
        children.push((id, child));
    }
    tokio::time::sleep(Duration::from_secs(10)).await; // boot tails: registrations, first polls
    let per_minute = |a: Usage, b: Usage| (b.cpu - a.cpu).as_secs_f64() * 60.0 / window.as_secs_f64();
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

    println!(
        "device with {PATHPOINTS} pathpoints and {SENSORS} sensors, polling every {poll_secs} s; windows of {} s; our device: {}",
        window.as_secs(),
        device.display()
    );
    if resources {
        println!(
            "and on each {PREDICATES} predicates of {STATISTIC}, {MACROS} macros with an occurrence a minute, {BAOBS} BAOBs"
        );
    }
    println!(
        "{:<14} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "",
        "idle CPU/min",
        "load CPU/min",
        "idle RSS",
        "load RSS",
        "load PSS",
        "anonymous",
        "peak RSS",
        "threads"
    );
    for (i, (id, _)) in children.iter().enumerate() {
        println!(
            "{:<14} {:>10.4} s {:>10.4} s {:>6} KiB {:>6} KiB {:>6} KiB {:>6} KiB {:>6} KiB {:>8}  ({} orders not fetched yet)",
            id,
            per_minute(start[i], idle[i]),
            per_minute(idle[i], loaded[i]),
            idle[i].rss_kib,
            loaded[i].rss_kib,
            loaded[i].pss_kib,
            loaded[i].anon_kib,
            loaded[i].hwm_kib,
            loaded[i].threads,
            orders_left(id)
        );
    }
    if resources {
        for (id, _) in &children {
            let done = completed_occurrences(&*handle.storage(), id);
            println!("{id}: {done} macro occurrences reported completed");
        }
    }
    let ratio = |rust: f64, python: f64| python / rust.max(f64::MIN_POSITIVE);
    let kib_ratio = |rust: u64, python: u64| ratio(rust as f64, python as f64);
    if rust_only {
        handle.shutdown();
        return;
    }
    println!(
        "Python / Rust: CPU {:.1}x idle and {:.1}x under load; RSS {:.1}x idle and {:.1}x under load; PSS {:.1}x; anonymous {:.1}x; peak RSS {:.1}x",
        ratio(per_minute(start[0], idle[0]), per_minute(start[1], idle[1])),
        ratio(per_minute(idle[0], loaded[0]), per_minute(idle[1], loaded[1])),
        kib_ratio(idle[0].rss_kib, idle[1].rss_kib),
        kib_ratio(loaded[0].rss_kib, loaded[1].rss_kib),
        kib_ratio(loaded[0].pss_kib, loaded[1].pss_kib),
        kib_ratio(loaded[0].anon_kib, loaded[1].anon_kib),
        kib_ratio(loaded[0].hwm_kib, loaded[1].hwm_kib),
    );
    handle.shutdown();
}
