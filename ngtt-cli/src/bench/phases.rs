//! The phases of `ngtt bench fleet`, in order: certificates, connection, memory, idle CPU,
//! keepalive bytes, paced order latency (same node and cross node), fan-out, confirmed uploads,
//! the reconnect storm (one node) or a killed node (several), and the MQTT comparison.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use ngtt_pki::{PkiDir, DEFAULT_SERVER_NAMES};

use super::broker::{self, Broker};
use super::device::KEEPALIVE;
use super::nodes::{Nodes, Start};
use super::proc::{cpu_total, rss_total, steal_since, HostCpu};
use super::report::{Connect, IdleCpu, Keepalive, KilledNode, Left, Mqtt, Report, Rss};
use super::workers::Fleet;
use super::{phase_kill, phase_orders, phase_uploads, FleetArgs};
use crate::error::CliError;

/// How long after the fleet left the server's memory is read again.
const LEFT_WAIT: Duration = Duration::from_secs(10);

/// Seconds in an hour, for the per-hour keepalive figures.
const SECS_PER_HOUR: f64 = 3600.0;

/// A fresh random admin token for the server the bench starts.
fn fresh_token() -> Result<String, CliError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| CliError::Io {
            context: "reading /dev/urandom",
            source,
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One configuration to measure: where the nodes keep their data, how many, how many devices.
#[derive(Clone, Debug)]
pub struct Setup {
    /// A PostgreSQL URL, or `None` for a SQLite file in a temporary directory.
    pub postgres: Option<String>,
    /// Nodes the bench starts (several only on PostgreSQL).
    pub nodes: usize,
    /// Simulated devices, spread over the nodes.
    pub devices: usize,
}

impl Setup {
    /// The configuration the command line asks for.
    pub fn of(args: &FleetArgs) -> Setup {
        Setup {
            postgres: args.db.clone(),
            nodes: args.nodes as usize,
            devices: args.devices as usize,
        }
    }
}

/// Runs every phase of one configuration and returns the report.
pub async fn run(args: &FleetArgs, setup: &Setup) -> Result<Report, CliError> {
    let size = setup.devices;
    let timeout = Duration::from_secs(args.timeout);
    let tmp = tempfile::tempdir().map_err(|source| CliError::Io {
        context: "making a temporary directory",
        source,
    })?;
    let pki_root = match &args.pki {
        Some(dir) => dir.clone(),
        None => {
            let root = tmp.path().join("pki");
            let names: Vec<String> = DEFAULT_SERVER_NAMES.iter().map(|n| n.to_string()).collect();
            PkiDir::new(&root).init(&names, false)?;
            root
        }
    };
    let mut nodes = match (&args.server, &args.admin) {
        (Some(server), Some(admin)) => {
            let token = crate::admin_token::client_token(
                args.admin_token_file.as_deref(),
                args.admin_token.as_deref(),
            )?;
            Nodes::external(*server, super::admin::Admin::new(admin, token)?, args.pid)
        }
        _ => {
            let db = match &setup.postgres {
                Some(url) => std::ffi::OsString::from(url),
                None => tmp.path().join("fleet.db").into_os_string(),
            };
            Nodes::start(Start {
                exe: args.server_exe.as_deref(),
                pki: &pki_root,
                db,
                nodes: setup.nodes,
                // After a kill, the survivors take the killed node's devices.
                max_connections: size + 100,
                token: fresh_token()?,
                lease_ttl: args.lease_ttl,
                ping_answer_delay: args.ping_answer_delay,
            })
            .await?
        }
    };
    let mut report = Report {
        devices: size,
        processes: size.div_ceil(args.per_process.max(1)),
        server: if nodes.is_local() { "local" } else { "external" },
        database: match (nodes.is_local(), &setup.postgres) {
            (false, _) => "",
            (true, Some(_)) => "postgres",
            (true, None) => "sqlite",
        },
        nodes: nodes.count(),
        ..Report::default()
    };
    let result = measure_ngtt(args, &mut report, &mut nodes, &pki_root, timeout).await;
    nodes.stop().await;
    result?;
    if args.mqtt {
        match broker::find_mosquitto() {
            Some(mosquitto) => {
                report.mqtt = Some(measure_mqtt(args, &mosquitto, &pki_root, tmp.path(), timeout).await?)
            }
            None => {
                report.mqtt_skipped = Some("mosquitto is not installed (set MOSQUITTO to its path)".into())
            }
        }
    }
    Ok(report)
}

/// Connects the fleet, waits until all are up; returns the figures.
async fn connect(fleet: &mut Fleet, timeout: Duration) -> Result<Connect, CliError> {
    let size = fleet.size;
    let started = Instant::now();
    let host_before = HostCpu::read();
    fleet.command("go").await?;
    fleet.wait(timeout, |f| f.up_count == size).await;
    let secs = started.elapsed().as_secs_f64();
    Ok(Connect {
        connected: fleet.up_count,
        secs,
        per_sec: fleet.up_count as f64 / secs.max(1e-9),
        host_steal_percent: steal_since(host_before),
    })
}

/// Resident memory before and after, per connection (all of `pids` together).
fn rss(pids: &[u32], idle: Option<u64>, connected: usize) -> Option<Rss> {
    let (idle, now) = (idle?, rss_total(pids)?);
    Some(Rss {
        idle_bytes: idle,
        connected_bytes: now,
        per_connection_bytes: now.saturating_sub(idle) / connected.max(1) as u64,
    })
}

/// CPU of `pids` together over `secs` of idleness (the fleet's events still taken in), after
/// `settle` seconds of it that are not measured.
async fn idle_cpu(fleet: &mut Fleet, pids: &[u32], settle: u64, secs: u64) -> Option<IdleCpu> {
    fleet.wait(Duration::from_secs(settle), |_| false).await;
    let before = cpu_total(pids)?;
    let host_before = HostCpu::read();
    let bytes_before = fleet.bytes().await.ok();
    let started = Instant::now();
    fleet.wait(Duration::from_secs(secs), |_| false).await;
    let window = started.elapsed().as_secs_f64();
    let after = cpu_total(pids)?;
    let host_steal_percent = steal_since(host_before);
    let bytes_after = fleet.bytes().await.ok();
    let devices = fleet.up_count.max(1) as f64;
    let bytes_per_device_hour = bytes_before.zip(bytes_after).map(|((o0, i0), (o1, i1))| {
        (o1.saturating_sub(o0) + i1.saturating_sub(i0)) as f64 / devices / window * SECS_PER_HOUR
    });
    Some(IdleCpu {
        settle_secs: settle,
        window_secs: window,
        cpu_secs_per_minute: (after - before) / window * 60.0,
        bytes_per_device_hour,
        host_steal_percent,
    })
}

/// How long after the keepalive phase the fleet keeps its steady pace, when the server holds
/// its answers `delay`. That phase's PINGs line the fleet up: every device's next one comes
/// [`KEEPALIVE`] later and, held longer than that, its answer `delay` after it; only then is
/// there one exchange per `delay`. A window opening earlier sees pings whose answers fall
/// outside it (half the traffic of the steady pace).
fn keepalive_warmup(delay: Duration) -> Duration {
    if delay > KEEPALIVE {
        KEEPALIVE + delay
    } else {
        Duration::ZERO
    }
}

/// Every device sends one keepalive; bytes on the wire per answered exchange. `delay` is how
/// long the server holds its answers: an idle device's keepalive period is the longer of it and
/// [`KEEPALIVE`].
async fn keepalive(fleet: &mut Fleet, delay: Duration) -> Result<Option<Keepalive>, CliError> {
    let period = delay.max(KEEPALIVE);
    // Let the connection's opening traffic (session tickets, FETCH_ORDERS) settle first.
    fleet.wait(Duration::from_secs(1), |_| false).await;
    let (out0, in0) = fleet.bytes().await?;
    let pongs0 = fleet.pongs;
    let want = pongs0 + fleet.up_count as u64;
    fleet.command("ping").await?;
    fleet
        .wait(period + Duration::from_secs(30), |f| f.pongs >= want)
        .await;
    let (out1, in1) = fleet.bytes().await?;
    let exchanges = fleet.pongs - pongs0;
    if exchanges == 0 {
        return Ok(None);
    }
    let per = ((out1 - out0) + (in1 - in0)) as f64 / exchanges as f64;
    let period = period.as_secs_f64();
    Ok(Some(Keepalive {
        exchanges,
        bytes_per_exchange: per,
        period_secs: period,
        bytes_per_idle_hour: per * SECS_PER_HOUR / period,
    }))
}

async fn measure_ngtt(
    args: &FleetArgs,
    report: &mut Report,
    nodes: &mut Nodes,
    pki: &Path,
    timeout: Duration,
) -> Result<(), CliError> {
    let size = report.devices;
    let pids = nodes.pids();
    let rss_idle = rss_total(&pids);
    let started = Instant::now();
    let mut fleet = Fleet::spawn(pki, &nodes.addrs, &args.id_prefix, size, args.per_process, false).await?;
    report.certificates_secs = started.elapsed().as_secs_f64();
    report.connect = connect(&mut fleet, timeout).await?;
    report.connected_per_node = (0..nodes.count())
        .map(|n| (0..size).filter(|d| fleet.up[*d] && fleet.node[*d] == n).count())
        .collect();
    // The connect time counts handshakes; the server's work for each new connection (device
    // record, lease, first order claim) trails them. Every device's keepalive answered tells
    // that each connection's session runs; the settle period lets the rest of the wave's
    // database work finish before idleness is measured.
    let delay = Duration::from_secs(args.ping_answer_delay);
    report.keepalive = keepalive(&mut fleet, delay).await?;
    let settle = args.settle_secs + keepalive_warmup(delay).as_secs();
    report.idle_cpu = idle_cpu(&mut fleet, &pids, settle, args.idle_secs).await;
    // Read once the fleet has idled: the memory a connected fleet holds, not the connection
    // wave's.
    report.server_rss = rss(&pids, rss_idle, report.connect.connected);
    let mut seq = 0u64;
    if args.orders > 0 {
        let (same, cross) = phase_orders::paced(&mut fleet, &nodes.admins, args, &mut seq).await?;
        report.order_latency = Some(same);
        report.order_latency_cross = cross;
    }
    if !args.no_fanout {
        let batch = args.fanout_batch as usize;
        let fanout = phase_orders::fanout(&mut fleet, &nodes.admins, &mut seq, batch, timeout);
        report.fanout = Some(fanout.await?);
    }
    if args.uploads > 0 {
        let rate = phase_uploads::uploads(&mut fleet, args.uploads, args.upload_window, timeout).await?;
        report.uploads = Some(rate);
    }
    if nodes.count() == 1 && !args.no_storm {
        let admin = nodes.admins[0].clone();
        if let Some(local) = nodes.local_mut(0) {
            let storm = phase_kill::storm(&mut fleet, &admin, local, args.storm_orders, &mut seq, timeout);
            report.storm = Some(storm.await?);
        }
    }
    if nodes.count() > 1 && nodes.is_local() && !args.no_kill {
        let ttl = args.lease_ttl.unwrap_or(ngtt_server::DEFAULT_LEASE_TTL);
        let killed = phase_kill::killed_node(&mut fleet, nodes, 0, &mut seq, timeout).await?;
        report.killed_node = Some(KilledNode {
            lease_ttl_secs: ttl.as_secs_f64(),
            ..killed
        });
    }
    // Orders late for their phase may still come: a last chance before counting them.
    fleet
        .wait(Duration::from_secs(5), |f| {
            (1..=seq).all(|s| f.receipts.contains_key(&s))
        })
        .await;
    report.orders_duplicated = fleet.receipts.values().map(|r| r.len() as u64 - 1).sum();
    report.orders_undelivered = (1..=seq).filter(|s| !fleet.receipts.contains_key(s)).count() as u64;
    // The storm restarted the server, a node may have been killed: the processes now.
    let pids = nodes.pids();
    let connected = rss_total(&pids);
    fleet.stop().await;
    tokio::time::sleep(LEFT_WAIT).await;
    report.left = connected
        .zip(rss_total(&pids))
        .map(|(connected_bytes, left_bytes)| Left {
            connected_bytes,
            after_secs: LEFT_WAIT.as_secs_f64(),
            left_bytes,
        });
    Ok(())
}

/// The same fleet, idle, against a Mosquitto of our own.
async fn measure_mqtt(
    args: &FleetArgs,
    mosquitto: &Path,
    pki: &Path,
    dir: &Path,
    timeout: Duration,
) -> Result<Mqtt, CliError> {
    let broker = Broker::start(mosquitto, &PkiDir::new(pki), dir).await?;
    let pids: Vec<u32> = broker.pid().into_iter().collect();
    let rss_idle = rss_total(&pids);
    let result = async {
        let mut fleet = Fleet::spawn(
            pki,
            &[broker.addr],
            &args.id_prefix,
            args.devices as usize,
            args.per_process,
            true,
        )
        .await?;
        let connect = connect(&mut fleet, timeout).await?;
        // The same settling as the NGTT fleet's, for the same idle window.
        let keepalive = keepalive(&mut fleet, Duration::ZERO).await?;
        let idle_cpu = idle_cpu(&mut fleet, &pids, args.settle_secs, args.idle_secs).await;
        let broker_rss = rss(&pids, rss_idle, connect.connected);
        fleet.stop().await;
        Ok(Mqtt {
            connect,
            broker_rss,
            idle_cpu,
            keepalive,
        })
    }
    .await;
    broker.stop().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_window_waits_for_the_steady_pace_of_held_answers() {
        let s = Duration::from_secs;
        assert_eq!(keepalive_warmup(Duration::ZERO), Duration::ZERO);
        assert_eq!(
            keepalive_warmup(s(30)),
            Duration::ZERO,
            "answered within the device's pace"
        );
        assert_eq!(keepalive_warmup(s(60)), s(90));
    }
}
