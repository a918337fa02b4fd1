//! The demo's measurements and the table it prints.

use std::fmt::Write;
use std::time::Duration;

/// What was measured for one transport.
#[derive(Debug, Default)]
pub struct Measured {
    /// Order delivery latencies (queued → arrived at the device), one per delivered order.
    pub latencies: Vec<Duration>,
    /// Orders queued for this transport's devices.
    pub orders_queued: usize,
    /// Orders that never arrived.
    pub orders_lost: usize,
    /// Bytes on the wire per order (both directions, TLS included).
    pub bytes_per_order: f64,
    /// Bytes on the wire per idle device and minute, at the default intervals.
    pub bytes_per_idle_minute: f64,
    /// Uploads confirmed / made.
    pub uploads: (usize, usize),
    /// Log records stored / sent.
    pub logs: (usize, usize),
    /// What went wrong, one line each.
    pub problems: Vec<String>,
}

impl Measured {
    fn median(&self) -> Option<Duration> {
        let mut l = self.latencies.clone();
        l.sort();
        l.get(l.len().saturating_sub(1) / 2).copied()
    }

    fn worst(&self) -> Option<Duration> {
        self.latencies.iter().max().copied()
    }

    /// Every order arrived and every upload was confirmed.
    pub fn ok(&self) -> bool {
        self.orders_lost == 0 && self.uploads.0 == self.uploads.1 && self.problems.is_empty()
    }
}

fn latency(d: Option<Duration>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d < Duration::from_millis(10) => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        Some(d) if d < Duration::from_secs(1) => format!("{:.0} ms", d.as_secs_f64() * 1e3),
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
    }
}

fn bytes(b: f64) -> String {
    if b >= 10_000.0 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
}

/// The table, one column per transport.
pub fn table(ngtt: &Measured, http: &Measured) -> String {
    let rows: [(&str, String, String); 7] = [
        (
            "order latency, median",
            latency(ngtt.median()),
            latency(http.median()),
        ),
        (
            "order latency, worst",
            latency(ngtt.worst()),
            latency(http.worst()),
        ),
        (
            "bytes on the wire per order",
            bytes(ngtt.bytes_per_order),
            bytes(http.bytes_per_order),
        ),
        (
            "bytes per idle minute",
            bytes(ngtt.bytes_per_idle_minute),
            bytes(http.bytes_per_idle_minute),
        ),
        (
            "orders lost",
            format!("{} of {}", ngtt.orders_lost, ngtt.orders_queued),
            format!("{} of {}", http.orders_lost, http.orders_queued),
        ),
        (
            "uploads confirmed",
            format!("{} of {}", ngtt.uploads.0, ngtt.uploads.1),
            format!("{} of {}", http.uploads.0, http.uploads.1),
        ),
        (
            "log records stored",
            format!("{} of {}", ngtt.logs.0, ngtt.logs.1),
            format!("{} of {}", http.logs.0, http.logs.1),
        ),
    ];
    let mut out = String::new();
    let _ = writeln!(out, "{:<30}{:>14}{:>16}", "", "NGTT", "HTTP polling");
    for (name, a, b) in rows {
        let _ = writeln!(out, "{name:<30}{a:>14}{b:>16}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_worst() {
        let m = Measured {
            latencies: vec![
                Duration::from_millis(3),
                Duration::from_millis(1),
                Duration::from_millis(2),
            ],
            ..Measured::default()
        };
        assert_eq!(m.median(), Some(Duration::from_millis(2)));
        assert_eq!(m.worst(), Some(Duration::from_millis(3)));
        assert_eq!(latency(Some(Duration::from_micros(3100))), "3.1 ms");
        assert_eq!(latency(Some(Duration::from_millis(1500))), "1.50 s");
        assert_eq!(bytes(12_345.0), "12.3 kB");
        assert!(table(&m, &Measured::default()).contains("order latency, median"));
    }
}
