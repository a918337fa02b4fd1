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
    /// The bench's own nodes' database: `"sqlite"` or `"postgres"` (`""` for a running server).
    pub database: &'static str,
    /// Server nodes (more than one on one PostgreSQL schema).
    pub nodes: usize,
    /// Seconds the workers took to issue every device's key and certificate (in parallel).
    pub certificates_secs: f64,
    /// The initial connection of the whole fleet.
    pub connect: Connect,
    /// Devices connected to each node at the end of the connection phase.
    pub connected_per_node: Vec<usize>,
    /// Server memory, when its process can be read.
    pub server_rss: Option<Rss>,
    /// Server CPU while the fleet idles, when its process can be read.
    pub idle_cpu: Option<IdleCpu>,
    /// Bytes on the wire per keepalive exchange and per idle hour.
    pub keepalive: Option<Keepalive>,
    /// Paced orders, one at a time, while the fleet is connected, queued through the admin API
    /// of the node the device is connected to (all of them with one node).
    pub order_latency: Option<Latency>,
    /// With several nodes, every other paced order is queued through another node than the
    /// device's: cross-node latency.
    pub order_latency_cross: Option<Latency>,
    /// One order to each device at once.
    pub fanout: Option<Fanout>,
    /// Uploads confirmed per second, every device uploading.
    pub uploads: Option<UploadRate>,
    /// With several nodes: one killed with SIGKILL, its devices served again by the others.
    pub killed_node: Option<KilledNode>,
    /// The server killed with SIGKILL and restarted.
    pub storm: Option<Storm>,
    /// Orders delivered more than once over the whole run.
    pub orders_duplicated: u64,
    /// Orders queued during the run and still not delivered at its end (a phase's `lost` counts
    /// those not delivered within that phase's wait; an order late for it is not in here).
    pub orders_undelivered: u64,
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
    /// Share of the host's CPU time the hypervisor took during the phase, % (`/proc/stat`
    /// steal).
    pub host_steal_percent: Option<f64>,
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
    /// Seconds the fleet idled, every keepalive answered, before the window (`--settle-secs`).
    pub settle_secs: u64,
    /// Seconds measured.
    pub window_secs: f64,
    /// CPU seconds (user + system) per minute.
    pub cpu_secs_per_minute: f64,
    /// Bytes on the wire in the window (TLS records, both directions, every device) per
    /// connected device, scaled to an hour: the keepalive traffic as the fleet paced it.
    pub bytes_per_device_hour: Option<f64>,
    /// Share of the host's CPU time the hypervisor took in the window, % (`/proc/stat` steal).
    pub host_steal_percent: Option<f64>,
}

/// Keepalive traffic of an idle fleet.
#[derive(Debug, Default, Serialize)]
pub struct Keepalive {
    /// Keepalives answered during the measurement.
    pub exchanges: u64,
    /// Bytes on the wire (TLS records, both directions) per exchange, in a round where every
    /// device pings at once (with held answers, the devices' own pings that fall in the round
    /// add to it: [`IdleCpu::bytes_per_device_hour`] measures the paced traffic itself).
    pub bytes_per_exchange: f64,
    /// Seconds between an idle device's exchanges: 30, or the server's longer answer delay.
    pub period_secs: f64,
    /// One exchange per period: bytes per device per idle hour.
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
    /// Share of the host's CPU time the hypervisor took during the phase, % (`/proc/stat`
    /// steal): with more than a few per cent, the tail measured the machine's neighbours.
    pub host_steal_percent: Option<f64>,
}

/// Fan-out of one order to each device.
#[derive(Debug, Default, Serialize)]
pub struct Fanout {
    /// Orders queued (one per device).
    pub orders: usize,
    /// Orders per admin request: 1, one `POST /v1/devices/{id}/orders` each (64 in flight),
    /// else `POST /v1/orders` batches of that many (4 in flight).
    pub batch: usize,
    /// Seconds to queue them all through the admin API.
    pub queue_secs: f64,
    /// Seconds from the first request until the last ORDER_CONFIRM was written.
    pub secs: f64,
    /// Orders confirmed per second over that time.
    pub orders_per_sec: f64,
    /// Orders that never arrived within the timeout.
    pub lost: usize,
    /// Share of the host's CPU time the hypervisor took during the fan-out, % (`/proc/stat`
    /// steal).
    pub host_steal_percent: Option<f64>,
}

/// Confirmed uploads: each device sends its uploads (DATA_STREAM, one series of
/// [`super::upload::SAMPLES_PER_UPLOAD`] samples), several in flight, counted when confirmed.
#[derive(Debug, Default, Serialize)]
pub struct UploadRate {
    /// Devices uploading.
    pub devices: usize,
    /// Uploads each.
    pub per_device: u32,
    /// Uploads in flight at once per device.
    pub in_flight: u32,
    /// Samples per upload.
    pub samples_per_upload: u64,
    /// Uploads confirmed (DATA_STREAM_CONFIRM).
    pub confirmed: u64,
    /// Uploads rejected (DATA_STREAM_REJECT).
    pub rejected: u64,
    /// Seconds from the request until the last device had all its uploads answered.
    pub secs: f64,
    /// Uploads confirmed per second over that time.
    pub per_sec: f64,
    /// Devices that did not have all their uploads answered within the timeout.
    pub devices_incomplete: usize,
    /// Share of the host's CPU time the hypervisor took during the phase, % (`/proc/stat`
    /// steal).
    pub host_steal_percent: Option<f64>,
}

/// One node of several killed with SIGKILL: how long until its devices are served again.
/// Times are from the kill to the slowest of its devices.
#[derive(Debug, Default, Serialize)]
pub struct KilledNode {
    /// The node killed (0-based).
    pub node: usize,
    /// Its devices: those connected to it right before the kill.
    pub devices: usize,
    /// The devices' backoff: its first delay, ms (a device tries the other nodes first, at
    /// once, and waits only when all failed in a row).
    pub backoff_first_ms: u64,
    /// The devices' longest backoff delay, ms.
    pub backoff_max_ms: u64,
    /// The nodes' `--lease-ttl` (their default): how long a cut-off node's devices stay its (a
    /// killed node's lock frees them at once).
    pub lease_ttl_secs: f64,
    /// Devices connected to a survivor within the timeout.
    pub reconnected: usize,
    /// Seconds until the last of them was.
    pub reconnected_secs: f64,
    /// Devices that had their upload (sent after the kill) confirmed.
    pub uploads_confirmed: usize,
    /// Seconds until the last of those uploads was confirmed.
    pub uploads_secs: f64,
    /// Orders queued through a survivor right after the kill (one per device).
    pub orders: usize,
    /// Seconds from the kill until the survivors' admin APIs had committed them all.
    pub queue_secs: f64,
    /// Seconds until the last of them was delivered.
    pub orders_secs: f64,
    /// Devices served again: reconnected, upload confirmed and order delivered.
    pub served: usize,
    /// Seconds until the last device was served again.
    pub served_secs: f64,
    /// Seconds until half of the devices were.
    pub served_p50_secs: f64,
    /// The longest time a device waited, once reconnected, to be served again (the recovery
    /// beyond the devices' own reconnection and backoff).
    pub served_after_reconnect_secs: f64,
    /// Those orders never delivered within the timeout.
    pub lost: usize,
    /// Those orders delivered more than once.
    pub duplicated: u64,
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
    /// Share of the host's CPU time the hypervisor took from the restart until every device
    /// was back, % (`/proc/stat` steal).
    pub host_steal_percent: Option<f64>,
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

/// `a / b / c`.
fn join(values: &[usize]) -> String {
    let shown: Vec<String> = values.iter().map(ToString::to_string).collect();
    shown.join(" / ")
}

/// `, host steal N %` when the share of stolen CPU time is known, else nothing.
fn steal(percent: Option<f64>) -> String {
    percent
        .map(|p| format!(", host steal {p:.0} %"))
        .unwrap_or_default()
}

/// `N in S s`, with the host's steal.
fn connected(c: &Connect) -> String {
    format!(
        "{} in {:.2} s{}",
        c.connected,
        c.secs,
        steal(c.host_steal_percent)
    )
}

/// `CPU s (window s after settle s)`, with the host's steal.
fn idle(c: &IdleCpu) -> String {
    format!(
        "{:.3} s ({:.0} s after {} s{})",
        c.cpu_secs_per_minute,
        c.window_secs,
        c.settle_secs,
        steal(c.host_steal_percent)
    )
}

/// `p50 / p99 ms`, with the host's steal.
fn percentiles(l: &Latency) -> String {
    format!(
        "{:.2} / {:.2} ms{}",
        l.p50_ms,
        l.p99_ms,
        steal(l.host_steal_percent)
    )
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
                "server nodes (database)".into(),
                format!("{} ({})", self.nodes, self.database),
                String::new(),
            ),
            (
                "connected per node".into(),
                join(&self.connected_per_node),
                String::new(),
            ),
            (
                "certificates issued in".into(),
                format!("{:.2} s", self.certificates_secs),
                String::new(),
            ),
            (
                "connected / connect time".into(),
                connected(&self.connect),
                opt(mqtt, |m| connected(&m.connect)),
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
                "server CPU per idle minute (after settling)".into(),
                opt(self.idle_cpu.as_ref(), idle),
                opt(mqtt.and_then(|m| m.idle_cpu.as_ref()), idle),
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
                "bytes per device per idle hour (idle window)".into(),
                opt(
                    self.idle_cpu.as_ref().and_then(|c| c.bytes_per_device_hour),
                    |b| format!("{b:.0} B"),
                ),
                opt(
                    mqtt.and_then(|m| m.idle_cpu.as_ref())
                        .and_then(|c| c.bytes_per_device_hour),
                    |b| format!("{b:.0} B"),
                ),
            ),
            (
                "bytes per device per idle hour (exchange x period)".into(),
                opt(self.keepalive.as_ref(), |k| {
                    format!("{:.0} B (one per {:.0} s)", k.bytes_per_idle_hour, k.period_secs)
                }),
                opt(mqtt.and_then(|m| m.keepalive.as_ref()), |k| {
                    format!("{:.0} B", k.bytes_per_idle_hour)
                }),
            ),
        ];
        if let Some(l) = &self.order_latency {
            let which = if self.order_latency_cross.is_some() {
                ", same node"
            } else {
                ""
            };
            rows.push((
                format!(
                    "order latency p50 / p99 ({} at {:.0}/s{which})",
                    l.orders, l.rate_per_sec
                ),
                percentiles(l),
                String::new(),
            ));
            rows.push(("paced orders lost".into(), l.lost.to_string(), String::new()));
        }
        if let Some(l) = &self.order_latency_cross {
            rows.push((
                format!("order latency p50 / p99 ({}, cross node)", l.orders),
                percentiles(l),
                String::new(),
            ));
            rows.push(("cross-node orders lost".into(), l.lost.to_string(), String::new()));
        }
        if let Some(f) = &self.fanout {
            rows.push((
                format!("fan-out, {} orders ({} per request)", f.orders, f.batch),
                format!(
                    "{:.0} orders/s ({:.2} s{})",
                    f.orders_per_sec,
                    f.secs,
                    steal(f.host_steal_percent)
                ),
                String::new(),
            ));
            rows.push(("fan-out orders lost".into(), f.lost.to_string(), String::new()));
        }
        if let Some(u) = &self.uploads {
            rows.push((
                format!(
                    "confirmed uploads ({} × {}, {} in flight)",
                    u.devices, u.per_device, u.in_flight
                ),
                format!(
                    "{:.0} uploads/s ({:.2} s{})",
                    u.per_sec,
                    u.secs,
                    steal(u.host_steal_percent)
                ),
                String::new(),
            ));
            rows.push((
                "uploads rejected / devices incomplete".into(),
                format!("{} / {}", u.rejected, u.devices_incomplete),
                String::new(),
            ));
        }
        if let Some(k) = &self.killed_node {
            let mut row = |what: &str, value: String| {
                rows.push((format!("node {} killed: {what}", k.node), value, String::new()))
            };
            row(
                "devices on survivors",
                format!(
                    "{} of {} in {:.2} s",
                    k.reconnected, k.devices, k.reconnected_secs
                ),
            );
            row(
                "an upload confirmed",
                format!("{} in {:.2} s", k.uploads_confirmed, k.uploads_secs),
            );
            row(
                "orders queued on survivors",
                format!("{} in {:.2} s", k.orders, k.queue_secs),
            );
            row(
                "an order delivered",
                format!("{} in {:.2} s", k.orders - k.lost, k.orders_secs),
            );
            row(
                "served again, half / all",
                format!("{:.2} / {:.2} s ({})", k.served_p50_secs, k.served_secs, k.served),
            );
            row(
                "served once reconnected",
                format!("within {:.2} s", k.served_after_reconnect_secs),
            );
            row("orders lost / twice", format!("{} / {}", k.lost, k.duplicated));
            row(
                "backoff, lease TTL",
                format!(
                    "{}–{} ms, {:.0} s",
                    k.backoff_first_ms, k.backoff_max_ms, k.lease_ttl_secs
                ),
            );
        }
        if let Some(s) = &self.storm {
            rows.push((
                "storm: all back after restart".into(),
                format!(
                    "{} in {:.2} s{}",
                    s.back,
                    s.back_secs,
                    steal(s.host_steal_percent)
                ),
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
        rows.push((
            "orders never delivered (end of run)".into(),
            self.orders_undelivered.to_string(),
            String::new(),
        ));
        let header = ("", "NGTT", if mqtt.is_some() { "MQTT (Mosquitto)" } else { "" });
        // Each column as wide as its widest cell (values grow a note, such as the host's steal).
        let width = |cell: fn(&(String, String, String)) -> &str, head: &str| {
            rows.iter()
                .map(|r| cell(r).chars().count())
                .chain([head.chars().count()])
                .max()
                .unwrap_or(0)
        };
        let wa = width(|r| &r.0, header.0) + 2;
        let wb = width(|r| &r.1, header.1);
        let wc = width(|r| &r.2, header.2) + 2;
        let write = |out: &mut dyn Write, a: &str, b: &str, c: &str| {
            let line = if mqtt.is_some() {
                format!("{a:<wa$}{b:>wb$}{c:>wc$}")
            } else {
                format!("{a:<wa$}{b:>wb$}")
            };
            writeln!(out, "{}", line.trim_end()).map_err(CliError::write)
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

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
