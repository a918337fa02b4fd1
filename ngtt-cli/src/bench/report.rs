//! `ngtt bench fleet`'s report: the figures as JSON (`--json`) or as a table.

use std::io::Write;

use serde::Serialize;

use crate::error::CliError;

/// Everything one run measured. A phase that did not run is `null` in JSON.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Simulated devices.
    pub devices: usize,
    /// Worker processes they were spread over.
    pub processes: usize,
    /// `"local"` (started by the bench) or `"external"`.
    pub server: &'static str,
    /// Seconds the workers took to issue every device's key and certificate (in parallel).
    pub certificates_secs: f64,
    /// The initial connection of the whole fleet.
    pub connect: Connect,
    /// Server memory, when its process can be read.
    pub server_rss: Option<Rss>,
    /// Server CPU while the fleet idles, when its process can be read.
    pub idle_cpu: Option<IdleCpu>,
    /// Bytes on the wire per keepalive exchange and per idle hour.
    pub keepalive: Option<Keepalive>,
    /// Paced orders, one at a time, while the fleet is connected.
    pub order_latency: Option<Latency>,
    /// One order to each device at once.
    pub fanout: Option<Fanout>,
    /// The server killed with SIGKILL and restarted.
    pub storm: Option<Storm>,
    /// Orders delivered more than once over the whole run.
    pub orders_duplicated: u64,
    /// Server memory with the fleet connected at the end of the run and once every device has
    /// left: whether the server gives memory back.
    pub left: Option<Left>,
    /// The same idle fleet against Mosquitto.
    pub mqtt: Option<Mqtt>,
    /// Why the MQTT comparison did not run, when asked for and impossible.
    pub mqtt_skipped: Option<String>,
}

/// The fleet's connection.
#[derive(Debug, Default, Serialize)]
pub struct Connect {
    /// Devices connected at the end of the phase.
    pub connected: usize,
    /// Seconds from "go" until the last one was connected.
    pub secs: f64,
    /// Connections per second.
    pub per_sec: f64,
}

/// Resident memory of the server (or broker).
#[derive(Debug, Default, Serialize)]
pub struct Rss {
    /// Before any device connected, bytes.
    pub idle_bytes: u64,
    /// With the fleet connected, bytes.
    pub connected_bytes: u64,
    /// The difference divided by the devices connected, bytes.
    pub per_connection_bytes: u64,
}

/// Server memory before and after the whole fleet disconnected.
#[derive(Debug, Default, Serialize)]
pub struct Left {
    /// With the fleet connected (at the end of the run, after the storm if there was one).
    pub connected_bytes: u64,
    /// Seconds after the last device disconnected.
    pub after_secs: f64,
    /// Then.
    pub left_bytes: u64,
}

/// CPU of the server while the fleet is connected and idle.
#[derive(Debug, Default, Serialize)]
pub struct IdleCpu {
    /// Seconds measured.
    pub window_secs: f64,
    /// CPU seconds (user + system) per minute.
    pub cpu_secs_per_minute: f64,
}

/// Keepalive traffic of an idle fleet.
#[derive(Debug, Default, Serialize)]
pub struct Keepalive {
    /// Keepalives answered during the measurement.
    pub exchanges: u64,
    /// Bytes on the wire (TLS records, both directions) per exchange.
    pub bytes_per_exchange: f64,
    /// One exchange every 30 s: bytes per device per idle hour.
    pub bytes_per_idle_hour: f64,
}

/// Paced order latency.
#[derive(Debug, Default, Serialize)]
pub struct Latency {
    /// Orders sent.
    pub orders: usize,
    /// Orders per second offered.
    pub rate_per_sec: f64,
    /// Median, admin request sent → ORDER_CONFIRM written by the device, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// Orders that never arrived within the timeout.
    pub lost: usize,
}

/// Fan-out of one order to each device.
#[derive(Debug, Default, Serialize)]
pub struct Fanout {
    /// Orders queued (one per device).
    pub orders: usize,
    /// Seconds to queue them all through the admin API (64 requests in flight).
    pub queue_secs: f64,
    /// Seconds from the first request until the last ORDER_CONFIRM was written.
    pub secs: f64,
    /// Orders confirmed per second over that time.
    pub orders_per_sec: f64,
    /// Orders that never arrived within the timeout.
    pub lost: usize,
}

/// The reconnect storm.
#[derive(Debug, Default, Serialize)]
pub struct Storm {
    /// Orders queued (committed) right before the kill.
    pub orders: usize,
    /// Seconds from the restarted server's start until every device was connected again.
    pub back_secs: f64,
    /// Devices back within the timeout.
    pub back: usize,
    /// Connections made during the storm (more than the devices when some were refused).
    pub connections: usize,
    /// Orders queued before the kill that never arrived.
    pub lost: usize,
    /// `TcpExt ListenOverflows` grown during the storm (whole host).
    pub listen_overflows: Option<u64>,
    /// `TcpExt ListenDrops` grown during the storm (whole host).
    pub listen_drops: Option<u64>,
}

/// The same idle fleet against Mosquitto.
#[derive(Debug, Default, Serialize)]
pub struct Mqtt {
    /// Clients connected.
    pub connect: Connect,
    /// The broker's memory.
    pub broker_rss: Option<Rss>,
    /// The broker's CPU while the clients idle.
    pub idle_cpu: Option<IdleCpu>,
    /// PINGREQ/PINGRESP traffic.
    pub keepalive: Option<Keepalive>,
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn opt<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "-".to_owned(), show)
}

impl Report {
    /// Writes the report as one JSON document.
    pub fn write_json(&self, out: &mut dyn Write) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| CliError::Bench(e.to_string()))?;
        writeln!(out, "{text}").map_err(CliError::write)
    }

    /// Writes the report as a table, NGTT and (when measured) MQTT side by side.
    pub fn write_table(&self, out: &mut dyn Write) -> Result<(), CliError> {
        let mqtt = self.mqtt.as_ref();
        let mut rows: Vec<(String, String, String)> = vec![
            (
                "devices (worker processes)".into(),
                format!("{} ({})", self.devices, self.processes),
                opt(mqtt, |m| m.connect.connected.to_string()),
            ),
            (
                "certificates issued in".into(),
                format!("{:.2} s", self.certificates_secs),
                String::new(),
            ),
            (
                "connected / connect time".into(),
                format!("{} in {:.2} s", self.connect.connected, self.connect.secs),
                opt(mqtt, |m| {
                    format!("{} in {:.2} s", m.connect.connected, m.connect.secs)
                }),
            ),
            (
                "connect rate".into(),
                format!("{:.0} /s", self.connect.per_sec),
                opt(mqtt, |m| format!("{:.0} /s", m.connect.per_sec)),
            ),
            (
                "server RSS idle → connected".into(),
                opt(self.server_rss.as_ref(), |r| {
                    format!("{} → {}", mib(r.idle_bytes), mib(r.connected_bytes))
                }),
                opt(mqtt.and_then(|m| m.broker_rss.as_ref()), |r| {
                    format!("{} → {}", mib(r.idle_bytes), mib(r.connected_bytes))
                }),
            ),
            (
                "server RSS per connection".into(),
                opt(self.server_rss.as_ref(), |r| kib(r.per_connection_bytes)),
                opt(mqtt.and_then(|m| m.broker_rss.as_ref()), |r| {
                    kib(r.per_connection_bytes)
                }),
            ),
            (
                "server CPU per idle minute".into(),
                opt(self.idle_cpu.as_ref(), |c| {
                    format!("{:.3} s", c.cpu_secs_per_minute)
                }),
                opt(mqtt.and_then(|m| m.idle_cpu.as_ref()), |c| {
                    format!("{:.3} s", c.cpu_secs_per_minute)
                }),
            ),
            (
                "bytes per keepalive exchange".into(),
                opt(self.keepalive.as_ref(), |k| {
                    format!("{:.0} B", k.bytes_per_exchange)
                }),
                opt(mqtt.and_then(|m| m.keepalive.as_ref()), |k| {
                    format!("{:.0} B", k.bytes_per_exchange)
                }),
            ),
            (
                "bytes per device per idle hour".into(),
                opt(self.keepalive.as_ref(), |k| {
                    format!("{:.0} B", k.bytes_per_idle_hour)
                }),
                opt(mqtt.and_then(|m| m.keepalive.as_ref()), |k| {
                    format!("{:.0} B", k.bytes_per_idle_hour)
                }),
            ),
        ];
        if let Some(l) = &self.order_latency {
            rows.push((
                format!(
                    "order latency p50 / p99 ({} at {:.0}/s)",
                    l.orders, l.rate_per_sec
                ),
                format!("{:.2} / {:.2} ms", l.p50_ms, l.p99_ms),
                String::new(),
            ));
            rows.push(("paced orders lost".into(), l.lost.to_string(), String::new()));
        }
        if let Some(f) = &self.fanout {
            rows.push((
                format!("fan-out, {} orders", f.orders),
                format!("{:.0} orders/s ({:.2} s)", f.orders_per_sec, f.secs),
                String::new(),
            ));
            rows.push(("fan-out orders lost".into(), f.lost.to_string(), String::new()));
        }
        if let Some(s) = &self.storm {
            rows.push((
                "storm: all back after restart".into(),
                format!("{} in {:.2} s", s.back, s.back_secs),
                String::new(),
            ));
            rows.push((
                "storm: orders lost".into(),
                format!("{} of {}", s.lost, s.orders),
                String::new(),
            ));
            rows.push((
                "storm: ListenOverflows / ListenDrops".into(),
                format!(
                    "{} / {}",
                    opt(s.listen_overflows, |n| n.to_string()),
                    opt(s.listen_drops, |n| n.to_string())
                ),
                String::new(),
            ));
        }
        if let Some(l) = &self.left {
            rows.push((
                format!("server RSS, all connected → {:.0} s after all left", l.after_secs),
                format!("{} → {}", mib(l.connected_bytes), mib(l.left_bytes)),
                String::new(),
            ));
        }
        rows.push((
            "orders delivered twice".into(),
            self.orders_duplicated.to_string(),
            String::new(),
        ));
        let header = ("", "NGTT", if mqtt.is_some() { "MQTT (Mosquitto)" } else { "" });
        let write = |out: &mut dyn Write, a: &str, b: &str, c: &str| {
            let c = if mqtt.is_some() { c } else { "" };
            writeln!(out, "{a:<42}{b:>28}{c:>24}").map_err(CliError::write)
        };
        write(out, header.0, header.1, header.2)?;
        for (a, b, c) in &rows {
            write(out, a, b, c)?;
        }
        if let Some(reason) = &self.mqtt_skipped {
            writeln!(out, "MQTT comparison skipped: {reason}").map_err(CliError::write)?;
        }
        Ok(())
    }
}
