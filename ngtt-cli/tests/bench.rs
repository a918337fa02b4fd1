//! `ngtt bench fleet` as a real process: a small fleet against its own `ngtt serve`, every
//! phase run, the JSON report complete and plausible; the MQTT side when Mosquitto is here;
//! two nodes on PostgreSQL (skipped without one, unless NGTT_REQUIRE_POSTGRES=1).

use ngtt_testkit::cli::{ok, output as ngtt};
use serde_json::Value;

const DEVICES: u64 = 20;

/// `report[path...]` as a number, failing the test with the report when it is missing.
fn num(report: &Value, path: &[&str]) -> f64 {
    let mut v = report;
    for key in path {
        v = v.get(key).unwrap_or_else(|| panic!("no {path:?} in {report:#}"));
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {report:#}"))
}

fn mosquitto_installed() -> bool {
    std::env::var_os("MOSQUITTO").is_some()
        || [
            "/usr/sbin/mosquitto",
            "/usr/bin/mosquitto",
            "/usr/local/sbin/mosquitto",
        ]
        .iter()
        .any(|p| std::path::Path::new(p).is_file())
}

#[test]
fn fleet_bench_reports_every_phase() {
    let mqtt = mosquitto_installed();
    if !mqtt {
        eprintln!("mosquitto is not installed: the MQTT side of `ngtt bench fleet` is not tested");
    }
    let devices = DEVICES.to_string();
    let dir = tempfile::tempdir().unwrap();
    let paced_log = dir.path().join("paced.csv");
    let paced_log_arg = paced_log.to_str().unwrap();
    let mut args = vec![
        "bench",
        "fleet",
        "--devices",
        &devices,
        "--per-process",
        "8",
        "--orders",
        "10",
        "--paced-log",
        paced_log_arg,
        "--rate",
        "50",
        "--idle-secs",
        "1",
        "--settle-secs",
        "1",
        // Answers at once: held ones would add 90 s before the idle window.
        "--ping-answer-delay",
        "0",
        "--storm-orders",
        "5",
        "--uploads",
        "3",
        "--timeout",
        "60",
        // Devices `bench-t1-N`: no order is lost only if the orders are queued for them.
        "--id-prefix",
        "bench-t1",
        "--json",
    ];
    if mqtt {
        args.push("--mqtt");
    }
    let report: Value = serde_json::from_str(&ok(ngtt(&args))).expect("the report is JSON");

    assert_eq!(num(&report, &["devices"]), DEVICES as f64);
    assert_eq!(num(&report, &["processes"]), 3.0, "20 devices, 8 per process");
    assert_eq!(report["server"], "local");
    assert_eq!(num(&report, &["connect", "connected"]), DEVICES as f64);
    assert!(num(&report, &["connect", "per_sec"]) > 0.0);
    // Our own server: its memory and CPU are read from /proc.
    let rss = num(&report, &["server_rss", "connected_bytes"]);
    assert!(
        rss >= num(&report, &["server_rss", "idle_bytes"]) && rss > 1e6,
        "{report:#}"
    );
    assert!(num(&report, &["server_rss", "per_connection_bytes"]) < 10e6);
    assert!(num(&report, &["idle_cpu", "cpu_secs_per_minute"]) >= 0.0);
    // The window comes after the settle period, not right after the handshakes (issue 11).
    assert_eq!(num(&report, &["idle_cpu", "settle_secs"]), 1.0, "{report:#}");
    assert!(num(&report, &["idle_cpu", "window_secs"]) >= 1.0, "{report:#}");
    // PING + echo: two 8-byte frames in two TLS records of 22 bytes of overhead each = 60.
    assert_eq!(
        num(&report, &["keepalive", "bytes_per_exchange"]),
        60.0,
        "{report:#}"
    );
    // Answered at once: the device's own pace, one exchange per 30 s.
    assert_eq!(num(&report, &["keepalive", "period_secs"]), 30.0, "{report:#}");
    assert_eq!(num(&report, &["keepalive", "bytes_per_idle_hour"]), 7200.0);

    assert_eq!(num(&report, &["order_latency", "orders"]), 10.0);
    assert_eq!(num(&report, &["order_latency", "lost"]), 0.0, "{report:#}");
    let (p50, p99) = (
        num(&report, &["order_latency", "p50_ms"]),
        num(&report, &["order_latency", "p99_ms"]),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= num(&report, &["order_latency", "max_ms"]));
    // One line per paced order: sent, its 201, its receipt; the slowest receipt is the max.
    let log = std::fs::read_to_string(&paced_log).unwrap();
    let mut lines = log.lines();
    assert_eq!(lines.next(), Some("sent_unix_ns,admin_ms,device_ms"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|f| f.parse::<f64>().expect(l)).collect())
        .collect();
    assert_eq!(rows.len(), 10, "{log}");
    assert!(
        rows.windows(2).all(|w| w[0][0] < w[1][0]),
        "in the order sent: {log}"
    );
    assert!(
        rows.iter().all(|r| r.len() == 3 && r[1] > 0.0 && r[2] > 0.0),
        "{log}"
    );
    let slowest = rows.iter().map(|r| r[2]).fold(0.0, f64::max);
    let max = num(&report, &["order_latency", "max_ms"]);
    assert!((slowest - max).abs() < 0.01, "{slowest} vs {max}");

    assert_eq!(num(&report, &["fanout", "orders"]), DEVICES as f64);
    assert_eq!(num(&report, &["fanout", "lost"]), 0.0, "{report:#}");
    assert!(num(&report, &["fanout", "orders_per_sec"]) > 0.0);
    // The machine's share in the time-based figures: the CPU time the hypervisor took. A phase
    // shorter than one clock tick of /proc/stat (10 ms; fan-out to 20 devices takes ~8) has no
    // figure (null); the idle window of at least a second always has one.
    for phase in [
        "connect",
        "idle_cpu",
        "order_latency",
        "fanout",
        "uploads",
        "storm",
    ] {
        let steal = report[phase]
            .get("host_steal_percent")
            .unwrap_or_else(|| panic!("no {phase}.host_steal_percent in {report:#}"));
        match steal.as_f64() {
            Some(steal) => assert!((0.0..=100.0).contains(&steal), "{phase}: {report:#}"),
            None => assert!(
                steal.is_null() && phase != "idle_cpu",
                "{phase}.host_steal_percent is not a number in {report:#}"
            ),
        }
    }

    assert_eq!(report["database"], "sqlite");
    assert_eq!(report["connected_per_node"], serde_json::json!([DEVICES]));
    assert!(
        report["order_latency_cross"].is_null(),
        "one node: no cross-node orders"
    );
    assert_eq!(
        num(&report, &["uploads", "confirmed"]),
        3.0 * DEVICES as f64,
        "{report:#}"
    );
    assert_eq!(num(&report, &["uploads", "devices_incomplete"]), 0.0);
    assert!(report["killed_node"].is_null());

    // Killed with SIGKILL and restarted: every device back, every committed order delivered.
    assert_eq!(num(&report, &["storm", "back"]), DEVICES as f64, "{report:#}");
    assert_eq!(num(&report, &["storm", "orders"]), 5.0);
    assert_eq!(num(&report, &["storm", "lost"]), 0.0, "{report:#}");
    assert!(num(&report, &["storm", "back_secs"]) > 0.0);
    assert!(report["storm"].get("listen_drops").is_some());
    assert!(num(&report, &["orders_duplicated"]) >= 0.0);
    assert_eq!(num(&report, &["orders_undelivered"]), 0.0, "{report:#}");

    if mqtt {
        assert_eq!(
            num(&report, &["mqtt", "connect", "connected"]),
            DEVICES as f64,
            "{report:#}"
        );
        assert!(num(&report, &["mqtt", "broker_rss", "connected_bytes"]) > 0.0);
        // PINGREQ + PINGRESP: two 2-byte packets in two TLS records = 48.
        assert_eq!(
            num(&report, &["mqtt", "keepalive", "bytes_per_exchange"]),
            48.0,
            "{report:#}"
        );
        assert!(report["mqtt_skipped"].is_null());
    }
}

#[test]
fn fleet_bench_on_two_postgresql_nodes_measures_uploads_and_a_killed_node() {
    let Some(db) = ngtt_testkit::postgres::TestDatabase::create("bench_nodes") else {
        return;
    };
    let url = db.url();
    let args = [
        "bench",
        "fleet",
        "--nodes",
        "2",
        "--db",
        &url,
        "--devices",
        "10",
        "--per-process",
        "5",
        "--orders",
        "10",
        "--rate",
        "50",
        "--idle-secs",
        "1",
        "--settle-secs",
        "0",
        "--ping-answer-delay",
        "0",
        "--uploads",
        "4",
        "--upload-window",
        "2",
        "--timeout",
        "60",
        "--id-prefix",
        "bench-t2",
        "--json",
    ];
    let report: Value = serde_json::from_str(&ok(ngtt(&args))).expect("the report is JSON");

    assert_eq!(num(&report, &["nodes"]), 2.0, "{report:#}");
    assert_eq!(report["database"], "postgres");
    assert_eq!(num(&report, &["connect", "connected"]), 10.0, "{report:#}");
    // Each device at its home node first: five on each.
    assert_eq!(
        report["connected_per_node"],
        serde_json::json!([5, 5]),
        "{report:#}"
    );

    // Paced orders: half through the device's node, half through the other one.
    assert_eq!(num(&report, &["order_latency", "orders"]), 5.0, "{report:#}");
    assert_eq!(num(&report, &["order_latency", "lost"]), 0.0, "{report:#}");
    assert_eq!(num(&report, &["order_latency_cross", "orders"]), 5.0);
    assert_eq!(num(&report, &["order_latency_cross", "lost"]), 0.0, "{report:#}");
    assert!(num(&report, &["order_latency_cross", "p99_ms"]) > 0.0);
    assert_eq!(num(&report, &["fanout", "lost"]), 0.0, "{report:#}");

    // Every device's 4 uploads confirmed, none rejected.
    assert_eq!(num(&report, &["uploads", "confirmed"]), 40.0, "{report:#}");
    assert_eq!(num(&report, &["uploads", "rejected"]), 0.0);
    assert_eq!(num(&report, &["uploads", "devices_incomplete"]), 0.0);
    assert!(num(&report, &["uploads", "per_sec"]) > 0.0);

    // Node 0 killed: the five devices connected to it on node 1, each with an upload confirmed and the order
    // queued through node 1 delivered; none lost. No storm with several nodes.
    let field = |name: &str| num(&report, &["killed_node", name]);
    assert_eq!(field("devices"), 5.0, "{report:#}");
    for all in ["reconnected", "uploads_confirmed", "orders", "served"] {
        assert_eq!(field(all), 5.0, "{all}: {report:#}");
    }
    assert_eq!(field("lost"), 0.0, "{report:#}");
    let (back, served) = (field("reconnected_secs"), field("served_secs"));
    assert!(0.0 < back && back <= served, "{report:#}");
    assert!(field("served_after_reconnect_secs") <= served);
    assert!(field("backoff_max_ms") > 0.0 && field("lease_ttl_secs") > 0.0);
    assert!(report["storm"].is_null());
    assert_eq!(num(&report, &["orders_undelivered"]), 0.0, "{report:#}");
}

#[test]
fn fleet_bench_refuses_a_fleet_out_of_bounds() {
    let out = ngtt(&["bench", "fleet", "--devices", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ngtt(&["bench", "fleet", "--devices", "100001"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ngtt(&["bench", "fleet", "--admin", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2), "--admin needs --server");
    let out = ngtt(&["bench", "fleet", "--nodes", "2"]);
    assert_eq!(out.status.code(), Some(2), "--nodes needs --db");
    let out = ngtt(&["bench", "fleet", "--nodes", "9", "--db", "postgres://h/db"]);
    assert_eq!(out.status.code(), Some(2), "at most 8 nodes");
    let out = ngtt(&["bench", "fleet", "--compare", "--db", "/tmp/x.db"]);
    assert!(!out.status.success(), "--compare needs PostgreSQL");
    for prefix in ["", "a b", "x/y", &"p".repeat(33)] {
        let out = ngtt(&["bench", "fleet", "--id-prefix", prefix]);
        assert_eq!(out.status.code(), Some(2), "--id-prefix {prefix:?}");
    }
}
