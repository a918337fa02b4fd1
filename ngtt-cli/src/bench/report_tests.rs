//! The human-readable table of a fleet report.

use super::*;

fn table(report: &Report) -> String {
    let mut out = Vec::new();
    report.write_table(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn columns_are_as_wide_as_their_widest_cell_and_lines_end_without_spaces() {
    let report = Report {
        devices: 19_900,
        processes: 3,
        idle_cpu: Some(IdleCpu {
            settle_secs: 100,
            window_secs: 60.0,
            cpu_secs_per_minute: 0.51,
            bytes_per_device_hour: Some(3600.0),
            host_steal_percent: Some(1.2),
        }),
        order_latency: Some(Latency {
            orders: 1000,
            rate_per_sec: 100.0,
            p50_ms: 4.67,
            p99_ms: 22.86,
            max_ms: 30.0,
            lost: 0,
            host_steal_percent: Some(36.4),
        }),
        ..Report::default()
    };
    let text = table(&report);
    assert!(
        text.contains("0.510 s (60 s after 100 s, host steal 1 %)"),
        "{text}"
    );
    assert!(text.contains("4.67 / 22.86 ms, host steal 36 %"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().all(|l| !l.ends_with(' ')), "{text}");
    // Right-aligned values: every line that has one (a label alone has no run of spaces) ends
    // in the same column; a label never runs into its value.
    let end = lines[1].chars().count();
    assert!(
        lines
            .iter()
            .all(|l| l.chars().count() == end || !l.contains("  ")),
        "{text}"
    );
    let label = "server CPU per idle minute (after settling)";
    let row = lines.iter().find(|l| l.starts_with(label)).unwrap();
    assert!(row[label.len()..].starts_with("  "), "{text}");
}

#[test]
fn a_report_without_the_steal_shows_no_note() {
    let report = Report {
        order_latency: Some(Latency {
            orders: 10,
            p50_ms: 1.0,
            p99_ms: 2.0,
            ..Latency::default()
        }),
        ..Report::default()
    };
    let text = table(&report);
    assert!(text.contains("1.00 / 2.00 ms\n"), "{text}");
    assert!(!text.contains("steal"), "{text}");
}
