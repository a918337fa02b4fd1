//! The phases of `ngtt bench fleet`, in order: certificates, connection, memory, idle CPU,
//! keepalive bytes, paced order latency, fan-out, reconnect storm, and the MQTT comparison.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use ngtt_pki::{PkiDir, DEFAULT_SERVER_NAMES};

use super::admin::Admin;
use super::broker::{self, Broker};
use super::device::now_nanos;
use super::proc::{cpu_seconds, rss_bytes, ListenDrops};
use super::report::{Connect, Fanout, IdleCpu, Keepalive, Latency, Left, Mqtt, Report, Rss, Storm};
use super::server::LocalServer;
use super::workers::Fleet;
use super::FleetArgs;
use crate::error::CliError;

/// Admin requests in flight during the fan-out and before the storm.
const ADMIN_CONCURRENCY: usize = 64;

/// How long after the fleet left the server's memory is read again.
const LEFT_WAIT: Duration = Duration::from_secs(10);

/// Keepalive exchanges per idle hour (one every 30 s).
const EXCHANGES_PER_HOUR: f64 = 120.0;

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

/// The server under test.
enum Target {
    Local(Box<LocalServer>),
    External,
}

/// Runs every phase and returns the report.
pub async fn run(args: &FleetArgs) -> Result<Report, CliError> {
    let size = args.devices as usize;
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
    let (mut target, server, admin, pid) = match (&args.server, &args.admin) {
        (Some(server), Some(admin)) => {
            let token = crate::admin_token::client_token(
                args.admin_token_file.as_deref(),
                args.admin_token.as_deref(),
            )?;
            (Target::External, *server, Admin::new(admin, token)?, args.pid)
        }
        _ => {
            let db = match &args.db {
                Some(url) => std::ffi::OsString::from(url),
                None => tmp.path().join("fleet.db").into_os_string(),
            };
            let local = LocalServer::start(
                args.server_exe.as_deref(),
                &pki_root,
                db,
                size + 100,
                fresh_token()?,
            )
            .await?;
            let admin = Admin::new(&format!("http://{}", local.admin), Some(local.token().to_owned()))?;
            let (listen, pid) = (local.listen, local.pid());
            (Target::Local(Box::new(local)), listen, admin, pid)
        }
    };
    let mut report = Report {
        devices: size,
        processes: size.div_ceil(args.per_process.max(1)),
        server: if matches!(target, Target::Local(_)) {
            "local"
        } else {
            "external"
        },
        ..Report::default()
    };
    let result = measure_ngtt(
        args,
        &mut report,
        &mut target,
        &pki_root,
        server,
        &admin,
        pid,
        timeout,
    )
    .await;
    if let Target::Local(local) = target {
        local.stop().await;
    }
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
    fleet.command("go").await?;
    fleet.wait(timeout, |f| f.up_count == size).await;
    let secs = started.elapsed().as_secs_f64();
    Ok(Connect {
        connected: fleet.up_count,
        secs,
        per_sec: fleet.up_count as f64 / secs.max(1e-9),
    })
}

/// Resident memory before and after, per connection.
fn rss(pid: Option<u32>, idle: Option<u64>, connected: usize) -> Option<Rss> {
    let (idle, now) = (idle?, rss_bytes(pid?)?);
    Some(Rss {
        idle_bytes: idle,
        connected_bytes: now,
        per_connection_bytes: now.saturating_sub(idle) / connected.max(1) as u64,
    })
}

/// CPU of `pid` over `secs` of idleness (the fleet's events still taken in).
async fn idle_cpu(fleet: &mut Fleet, pid: Option<u32>, secs: u64) -> Option<IdleCpu> {
    let before = cpu_seconds(pid?)?;
    let started = Instant::now();
    fleet.wait(Duration::from_secs(secs), |_| false).await;
    let window = started.elapsed().as_secs_f64();
    let after = cpu_seconds(pid?)?;
    Some(IdleCpu {
        window_secs: window,
        cpu_secs_per_minute: (after - before) / window * 60.0,
    })
}

/// Every device sends one keepalive; bytes on the wire per answered exchange.
async fn keepalive(fleet: &mut Fleet) -> Result<Option<Keepalive>, CliError> {
    // Let the connection's opening traffic (session tickets, FETCH_ORDERS) settle first.
    fleet.wait(Duration::from_secs(1), |_| false).await;
    let (out0, in0) = fleet.bytes().await?;
    let pongs0 = fleet.pongs;
    let want = pongs0 + fleet.up_count as u64;
    fleet.command("ping").await?;
    fleet.wait(Duration::from_secs(30), |f| f.pongs >= want).await;
    let (out1, in1) = fleet.bytes().await?;
    let exchanges = fleet.pongs - pongs0;
    if exchanges == 0 {
        return Ok(None);
    }
    let per = ((out1 - out0) + (in1 - in0)) as f64 / exchanges as f64;
    Ok(Some(Keepalive {
        exchanges,
        bytes_per_exchange: per,
        bytes_per_idle_hour: per * EXCHANGES_PER_HOUR,
    }))
}

#[allow(clippy::too_many_arguments)]
async fn measure_ngtt(
    args: &FleetArgs,
    report: &mut Report,
    target: &mut Target,
    pki: &Path,
    server: std::net::SocketAddr,
    admin: &Admin,
    pid: Option<u32>,
    timeout: Duration,
) -> Result<(), CliError> {
    let size = report.devices;
    let rss_idle = pid.and_then(rss_bytes);
    let started = Instant::now();
    let mut fleet = Fleet::spawn(pki, server, &args.id_prefix, size, args.per_process, false).await?;
    report.certificates_secs = started.elapsed().as_secs_f64();
    report.connect = connect(&mut fleet, timeout).await?;
    fleet.wait(Duration::from_secs(1), |_| false).await;
    report.idle_cpu = idle_cpu(&mut fleet, pid, args.idle_secs).await;
    // Read once the fleet has idled: the memory a connected fleet holds, not the connection
    // wave's.
    report.server_rss = rss(pid, rss_idle, report.connect.connected);
    report.keepalive = keepalive(&mut fleet).await?;
    let mut seq = 0u64;
    if args.orders > 0 {
        report.order_latency = Some(paced(&mut fleet, admin, args, &mut seq).await?);
    }
    if !args.no_fanout {
        report.fanout = Some(fanout(&mut fleet, admin, &mut seq, timeout).await?);
    }
    if let (Target::Local(local), false) = (&mut *target, args.no_storm) {
        report.storm = Some(storm(&mut fleet, admin, local, args.storm_orders, &mut seq, timeout).await?);
    }
    fleet.poll();
    report.orders_duplicated = fleet.receipts.values().map(|r| r.len() as u64 - 1).sum();
    // The storm restarted the server: its process now.
    let pid = match target {
        Target::Local(local) => local.pid(),
        Target::External => pid,
    };
    let connected = pid.and_then(rss_bytes);
    fleet.stop().await;
    tokio::time::sleep(LEFT_WAIT).await;
    report.left = connected
        .zip(pid.and_then(rss_bytes))
        .map(|(connected_bytes, left_bytes)| Left {
            connected_bytes,
            after_secs: LEFT_WAIT.as_secs_f64(),
            left_bytes,
        });
    Ok(())
}

/// Orders one at a time at `args.rate`, each to another device: admin request → device.
async fn paced(
    fleet: &mut Fleet,
    admin: &Admin,
    args: &FleetArgs,
    seq: &mut u64,
) -> Result<Latency, CliError> {
    let interval = Duration::from_secs_f64(1.0 / args.rate.clamp(0.01, 100_000.0));
    let start = tokio::time::Instant::now();
    let mut latencies = Vec::new();
    let mut lost = 0;
    for i in 0..args.orders as usize {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let device = (i * 7919) % fleet.size;
        *seq += 1;
        let this = *seq;
        let sent = now_nanos();
        admin.queue(&fleet.device_id(device), this).await?;
        if fleet
            .wait(Duration::from_secs(10), |f| f.receipts.contains_key(&this))
            .await
        {
            let at = fleet.receipts[&this][0].1;
            latencies.push(at.saturating_sub(sent) as f64 / 1e6);
        } else {
            lost += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1]
    };
    Ok(Latency {
        orders: args.orders as usize,
        rate_per_sec: args.rate,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        lost,
    })
}

/// Queues one order for each of `devices` (sequence numbers from `first`), 64 requests at once.
async fn queue_many(admin: &Admin, fleet: &Fleet, devices: usize, first: u64) -> Result<(), CliError> {
    let ids: Vec<String> = (0..devices).map(|i| fleet.device_id(i)).collect();
    let results: Vec<Result<(), CliError>> = stream::iter(ids.into_iter().enumerate())
        .map(|(i, id)| {
            let admin = admin.clone();
            async move { admin.queue(&id, first + i as u64).await }
        })
        .buffer_unordered(ADMIN_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

/// One order to each device at once.
async fn fanout(
    fleet: &mut Fleet,
    admin: &Admin,
    seq: &mut u64,
    timeout: Duration,
) -> Result<Fanout, CliError> {
    let n = fleet.size;
    let first = *seq + 1;
    *seq += n as u64;
    let started_ns = now_nanos();
    let started = Instant::now();
    queue_many(admin, fleet, n, first).await?;
    let queue_secs = started.elapsed().as_secs_f64();
    let all = |f: &Fleet| (first..first + n as u64).all(|s| f.receipts.contains_key(&s));
    fleet.wait(timeout, all).await;
    let arrived: Vec<u128> = (first..first + n as u64)
        .filter_map(|s| fleet.receipts.get(&s).map(|r| r[0].1))
        .collect();
    let last = arrived.iter().copied().max().unwrap_or(started_ns);
    let secs = last.saturating_sub(started_ns) as f64 / 1e9;
    Ok(Fanout {
        orders: n,
        queue_secs,
        secs,
        orders_per_sec: arrived.len() as f64 / secs.max(1e-9),
        lost: n - arrived.len(),
    })
}

/// Orders queued, the server killed with SIGKILL and restarted: how long until every device is
/// back, and whether the orders arrive.
async fn storm(
    fleet: &mut Fleet,
    admin: &Admin,
    server: &mut LocalServer,
    storm_orders: usize,
    seq: &mut u64,
    timeout: Duration,
) -> Result<Storm, CliError> {
    let n = fleet.size;
    let k = storm_orders.min(n);
    let first = *seq + 1;
    *seq += k as u64;
    queue_many(admin, fleet, k, first).await?;
    let drops_before = ListenDrops::read();
    fleet.poll();
    fleet.mark();
    server.kill9().await?;
    server.restart().await?;
    let restarted = Instant::now();
    fleet.wait(timeout, |f| f.distinct_up_since_mark == n).await;
    let back_secs = restarted.elapsed().as_secs_f64();
    let back = fleet.distinct_up_since_mark;
    let all = |f: &Fleet| (first..first + k as u64).all(|s| f.receipts.contains_key(&s));
    fleet.wait(Duration::from_secs(30), all).await;
    let drops = drops_before.zip(ListenDrops::read()).map(|(b, a)| a.since(b));
    let lost = (first..first + k as u64)
        .filter(|s| !fleet.receipts.contains_key(s))
        .count();
    Ok(Storm {
        orders: k,
        back_secs,
        back,
        connections: fleet.ups_since_mark,
        lost,
        listen_overflows: drops.map(|d| d.overflows),
        listen_drops: drops.map(|d| d.drops),
    })
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
    let pid = broker.pid();
    let rss_idle = pid.and_then(rss_bytes);
    let result = async {
        let mut fleet = Fleet::spawn(
            pki,
            broker.addr,
            &args.id_prefix,
            args.devices as usize,
            args.per_process,
            true,
        )
        .await?;
        let connect = connect(&mut fleet, timeout).await?;
        fleet.wait(Duration::from_secs(1), |_| false).await;
        let idle_cpu = idle_cpu(&mut fleet, pid, args.idle_secs).await;
        let broker_rss = rss(pid, rss_idle, connect.connected);
        let keepalive = keepalive(&mut fleet).await?;
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
