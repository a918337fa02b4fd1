//! `ngtt bench fleet` as a real process: a small fleet against its own `ngtt serve`, every
//! phase run, the JSON report complete and plausible; the MQTT side when Mosquitto is here.

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
    let mut args = vec![
        "bench",
        "fleet",
        "--devices",
        &devices,
        "--per-process",
        "8",
        "--orders",
        "10",
        "--rate",
        "50",
        "--idle-secs",
        "1",
        "--storm-orders",
        "5",
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
    // PING + echo: two 8-byte frames in two TLS records of 22 bytes of overhead each = 60.
    assert_eq!(
        num(&report, &["keepalive", "bytes_per_exchange"]),
        60.0,
        "{report:#}"
    );
    assert_eq!(num(&report, &["keepalive", "bytes_per_idle_hour"]), 7200.0);

    assert_eq!(num(&report, &["order_latency", "orders"]), 10.0);
    assert_eq!(num(&report, &["order_latency", "lost"]), 0.0, "{report:#}");
    let (p50, p99) = (
        num(&report, &["order_latency", "p50_ms"]),
        num(&report, &["order_latency", "p99_ms"]),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= num(&report, &["order_latency", "max_ms"]));

    assert_eq!(num(&report, &["fanout", "orders"]), DEVICES as f64);
    assert_eq!(num(&report, &["fanout", "lost"]), 0.0, "{report:#}");
    assert!(num(&report, &["fanout", "orders_per_sec"]) > 0.0);

    // Killed with SIGKILL and restarted: every device back, every committed order delivered.
    assert_eq!(num(&report, &["storm", "back"]), DEVICES as f64, "{report:#}");
    assert_eq!(num(&report, &["storm", "orders"]), 5.0);
    assert_eq!(num(&report, &["storm", "lost"]), 0.0, "{report:#}");
    assert!(num(&report, &["storm", "back_secs"]) > 0.0);
    assert!(report["storm"].get("listen_drops").is_some());
    assert!(num(&report, &["orders_duplicated"]) >= 0.0);

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
fn fleet_bench_refuses_a_fleet_out_of_bounds() {
    let out = ngtt(&["bench", "fleet", "--devices", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ngtt(&["bench", "fleet", "--devices", "100001"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ngtt(&["bench", "fleet", "--admin", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2), "--admin needs --server");
    for prefix in ["", "a b", "x/y", &"p".repeat(33)] {
        let out = ngtt(&["bench", "fleet", "--id-prefix", prefix]);
        assert_eq!(out.status.code(), Some(2), "--id-prefix {prefix:?}");
    }
}
