//! `ngtt bench fleet --compare`: three configurations back to back with the same load
//! generator — one node on SQLite, one node on PostgreSQL, two nodes on one PostgreSQL schema
//! with twice the devices — and one table with their ratios and the verdict on issue 11's goals.

use std::io::Write;

use serde::Serialize;

use super::phases::{self, Setup};
use super::report::Report;
use super::FleetArgs;
use crate::error::CliError;

/// What "served again" may take once a device has reconnected (issue 11: the devices' backoff
/// plus 5 s).
pub const RECOVERY_GOAL_SECS: f64 = 5.0;

/// One configuration's report.
#[derive(Debug, Serialize)]
pub struct Configuration {
    /// What was run.
    pub label: &'static str,
    /// Its report.
    pub report: Report,
}

/// Issue 11's goals, from one comparison.
#[derive(Debug, Default, Serialize)]
pub struct Verdict {
    /// Devices connected to two PostgreSQL nodes against one.
    pub devices_two_over_one: f64,
    /// Two nodes held twice the devices one held, every device asked for connected.
    pub twice_the_devices: bool,
    /// Two nodes: paced order p99 queued through the device's node, ms.
    pub same_node_p99_ms: f64,
    /// Two nodes: paced order p99 queued through another node, ms.
    pub cross_node_p99_ms: f64,
    /// Their ratio.
    pub cross_over_same_p99: f64,
    /// Cross-node p99 within 2× of same-node.
    pub cross_within_2x: bool,
    /// Whether a node was killed (not with `--no-kill`).
    pub recovery_measured: bool,
    /// Seconds from the kill until the killed node's last device was served again.
    pub recovery_secs: f64,
    /// The longest a device waited, once reconnected (after its own backoff), to be served.
    pub recovery_after_reconnect_secs: f64,
    /// The devices' longest backoff delay, ms.
    pub backoff_max_ms: u64,
    /// Every device of the killed node served again, no order lost, each within
    /// [`RECOVERY_GOAL_SECS`] of its reconnection.
    pub recovery_within_goal: bool,
}

impl Verdict {
    /// The verdict from the PostgreSQL one-node and two-node reports.
    pub fn of(one: &Report, two: &Report) -> Verdict {
        let mut v = Verdict {
            devices_two_over_one: two.connect.connected as f64 / one.connect.connected.max(1) as f64,
            twice_the_devices: one.connect.connected == one.devices
                && two.connect.connected == two.devices
                && two.connect.connected >= 2 * one.connect.connected,
            ..Verdict::default()
        };
        if let (Some(same), Some(cross)) = (&two.order_latency, &two.order_latency_cross) {
            v.same_node_p99_ms = same.p99_ms;
            v.cross_node_p99_ms = cross.p99_ms;
            v.cross_over_same_p99 = cross.p99_ms / same.p99_ms.max(1e-9);
            v.cross_within_2x = same.lost == 0 && cross.lost == 0 && v.cross_over_same_p99 <= 2.0;
        }
        if let Some(k) = &two.killed_node {
            v.recovery_measured = true;
            v.recovery_secs = k.served_secs;
            v.recovery_after_reconnect_secs = k.served_after_reconnect_secs;
            v.backoff_max_ms = k.backoff_max_ms;
            v.recovery_within_goal =
                k.served == k.devices && k.lost == 0 && k.served_after_reconnect_secs <= RECOVERY_GOAL_SECS;
        }
        v
    }
}

/// The three configurations and the verdict.
#[derive(Debug, Serialize)]
pub struct Comparison {
    /// SQLite one node, PostgreSQL one node, PostgreSQL two nodes.
    pub configurations: Vec<Configuration>,
    /// Issue 11's goals.
    pub verdict: Verdict,
}

/// `url` with its `schema` parameter (default `ngtt_bench`) followed by `_<suffix>`.
pub fn schema_suffixed(url: &str, suffix: &str) -> Result<String, CliError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<String> = Vec::new();
    let mut found = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("schema", name)) => {
                found = true;
                pairs.push(format!("schema={name}_{suffix}"));
            }
            _ => pairs.push(pair.to_owned()),
        }
    }
    if !found {
        pairs.push(format!("schema=ngtt_bench_{suffix}"));
    }
    let text = format!("{base}?{}", pairs.join("&"));
    ngtt_server::PostgresUrl::parse(&text).map_err(|e| CliError::Bench(format!("--db: {e}")))?;
    Ok(text)
}

/// Runs the three configurations, one after the other.
pub async fn run(args: &FleetArgs) -> Result<Comparison, CliError> {
    let url = args
        .db
        .as_deref()
        .ok_or_else(|| CliError::Bench("--compare needs a PostgreSQL --db".into()))?;
    let devices = args.devices as usize;
    let setups = [
        ("1 node SQLite", None, 1, devices),
        ("1 node PostgreSQL", Some(schema_suffixed(url, "n1")?), 1, devices),
        (
            "2 nodes PostgreSQL",
            Some(schema_suffixed(url, "n2")?),
            2,
            2 * devices,
        ),
    ];
    let mut configurations = Vec::new();
    for (label, postgres, nodes, devices) in setups {
        eprintln!("ngtt bench fleet --compare: {label}, {devices} devices");
        let setup = Setup {
            postgres,
            nodes,
            devices,
        };
        let report = phases::run(args, &setup).await?;
        configurations.push(Configuration { label, report });
    }
    let verdict = Verdict::of(&configurations[1].report, &configurations[2].report);
    Ok(Comparison {
        configurations,
        verdict,
    })
}

/// Every order the report's phases count as lost (not delivered within their waits).
fn orders_lost(r: &Report) -> usize {
    r.order_latency.as_ref().map_or(0, |l| l.lost)
        + r.order_latency_cross.as_ref().map_or(0, |l| l.lost)
        + r.fanout.as_ref().map_or(0, |f| f.lost)
        + r.storm.as_ref().map_or(0, |s| s.lost)
        + r.killed_node.as_ref().map_or(0, |k| k.lost)
}

/// One figure of each configuration (when measured) and how it is shown.
type Figure = (&'static str, fn(&Report) -> Option<f64>, fn(f64) -> String);

const FIGURES: [Figure; 14] = [
    (
        "devices connected",
        |r| Some(r.connect.connected as f64),
        |v| format!("{v:.0}"),
    ),
    (
        "connect rate",
        |r| Some(r.connect.per_sec),
        |v| format!("{v:.0}/s"),
    ),
    (
        "server RSS per connection",
        |r| {
            r.server_rss
                .as_ref()
                .map(|s| s.per_connection_bytes as f64 / 1024.0)
        },
        |v| format!("{v:.1} KiB"),
    ),
    (
        "server CPU per idle minute",
        |r| r.idle_cpu.as_ref().map(|c| c.cpu_secs_per_minute),
        |v| format!("{v:.2} s"),
    ),
    (
        "order p50, same node",
        |r| r.order_latency.as_ref().map(|l| l.p50_ms),
        ms,
    ),
    (
        "order p99, same node",
        |r| r.order_latency.as_ref().map(|l| l.p99_ms),
        ms,
    ),
    (
        "order p99, cross node",
        |r| r.order_latency_cross.as_ref().map(|l| l.p99_ms),
        ms,
    ),
    (
        "fan-out",
        |r| r.fanout.as_ref().map(|f| f.orders_per_sec),
        |v| format!("{v:.0}/s"),
    ),
    (
        "confirmed uploads",
        |r| r.uploads.as_ref().map(|u| u.per_sec),
        |v| format!("{v:.0}/s"),
    ),
    (
        "storm: all back after restart",
        |r| r.storm.as_ref().map(|s| s.back_secs),
        |v| format!("{v:.2} s"),
    ),
    (
        "killed node: all served again",
        |r| r.killed_node.as_ref().map(|k| k.served_secs),
        |v| format!("{v:.2} s"),
    ),
    (
        "orders lost (within a phase's wait)",
        |r| Some(orders_lost(r) as f64),
        |v| format!("{v:.0}"),
    ),
    (
        "orders delivered twice",
        |r| Some(r.orders_duplicated as f64),
        |v| format!("{v:.0}"),
    ),
    (
        "orders never delivered (end of run)",
        |r| Some(r.orders_undelivered as f64),
        |v| format!("{v:.0}"),
    ),
];

fn ms(v: f64) -> String {
    format!("{v:.2} ms")
}

/// `a / b`, shown as a ratio, when both are there and `b` is not zero.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}×", a / b),
        _ => "-".into(),
    }
}

impl Comparison {
    /// Writes the comparison as one JSON document.
    pub fn write_json(&self, out: &mut dyn Write) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| CliError::Bench(e.to_string()))?;
        writeln!(out, "{text}").map_err(CliError::write)
    }

    /// Writes one row per figure, one column per configuration, then the ratios (PostgreSQL
    /// one node against SQLite, two nodes against one) and the verdict.
    pub fn write_table(&self, out: &mut dyn Write) -> Result<(), CliError> {
        let w = |out: &mut dyn Write, cells: &[String]| {
            let mut line = format!("{:<40}", cells[0]);
            for cell in &cells[1..] {
                line.push_str(&format!("{cell:>20}"));
            }
            writeln!(out, "{}", line.trim_end()).map_err(CliError::write)
        };
        let mut header = vec![String::new()];
        header.extend(self.configurations.iter().map(|c| c.label.to_owned()));
        header.extend(["PG 1 ÷ SQLite".to_owned(), "PG 2 ÷ PG 1".to_owned()]);
        w(out, &header)?;
        for (name, get, show) in FIGURES {
            let values: Vec<Option<f64>> = self.configurations.iter().map(|c| get(&c.report)).collect();
            let mut cells = vec![name.to_owned()];
            cells.extend(values.iter().map(|v| v.map_or_else(|| "-".into(), show)));
            if let [sqlite, pg1, pg2] = values[..] {
                cells.extend([ratio(pg1, sqlite), ratio(pg2, pg1)]);
            }
            w(out, &cells)?;
        }
        let v = &self.verdict;
        let yes = |ok: bool| if ok { "met" } else { "NOT met" };
        let recovery = if v.recovery_measured {
            yes(v.recovery_within_goal)
        } else {
            "not measured (--no-kill)"
        };
        writeln!(
            out,
            "\ngoal: two nodes hold twice the devices of one: {:.2}× — {}\n\
             goal: cross-node order p99 within 2× of same-node: {:.2} / {:.2} ms = {:.2}× — {}\n\
             goal: recovery after a node is killed ≤ backoff + {RECOVERY_GOAL_SECS} s: served {:.2} s \
             after the kill, ≤ {:.2} s after reconnecting (backoff ≤ {} ms) — {}",
            v.devices_two_over_one,
            yes(v.twice_the_devices),
            v.cross_node_p99_ms,
            v.same_node_p99_ms,
            v.cross_over_same_p99,
            yes(v.cross_within_2x),
            v.recovery_secs,
            v.recovery_after_reconnect_secs,
            v.backoff_max_ms,
            recovery,
        )
        .map_err(CliError::write)
    }
}

#[cfg(test)]
mod tests {
    use super::super::report::{KilledNode, Latency};
    use super::*;

    #[test]
    fn the_schema_gets_a_suffix_or_a_default() {
        let url = "postgres://postgres@127.0.0.1/test?schema=cmp&pool_size=4";
        assert_eq!(
            schema_suffixed(url, "n2").unwrap(),
            "postgres://postgres@127.0.0.1/test?schema=cmp_n2&pool_size=4"
        );
        assert_eq!(
            schema_suffixed("postgres://h/db", "n1").unwrap(),
            "postgres://h/db?schema=ngtt_bench_n1"
        );
        assert!(schema_suffixed(&format!("postgres://h/db?schema={}", "s".repeat(62)), "n1").is_err());
    }

    fn latency(p99_ms: f64) -> Option<Latency> {
        Some(Latency {
            p99_ms,
            ..Latency::default()
        })
    }

    #[test]
    fn the_verdict_reads_the_goals_from_the_reports() {
        let mut one = Report {
            devices: 10,
            ..Report::default()
        };
        one.connect.connected = 10;
        let mut two = Report {
            devices: 20,
            order_latency: latency(10.0),
            order_latency_cross: latency(15.0),
            killed_node: Some(KilledNode {
                devices: 10,
                served: 10,
                served_secs: 6.5,
                served_after_reconnect_secs: 4.9,
                ..KilledNode::default()
            }),
            ..Report::default()
        };
        two.connect.connected = 20;
        let v = Verdict::of(&one, &two);
        assert!(v.twice_the_devices && v.cross_within_2x && v.recovery_within_goal);
        assert!(v.recovery_measured);
        assert_eq!((v.devices_two_over_one, v.cross_over_same_p99), (2.0, 1.5));
        two.connect.connected = 19;
        two.order_latency_cross = latency(21.0);
        two.killed_node.as_mut().unwrap().lost = 1;
        let v = Verdict::of(&one, &two);
        assert!(!v.twice_the_devices && !v.cross_within_2x && !v.recovery_within_goal);
        two.killed_node = None;
        assert!(!Verdict::of(&one, &two).recovery_measured);
    }
}
