//! `ngtt demo`: the whole system on loopback in one command, NGTT against HTTP polling.
//!
//! A throw-away PKI and database in a temporary directory, the server in this process (NGTT and
//! the device HTTP API), devices of both kinds built with `smok-client` and running its order
//! executor, the same orders queued for all of them, uploads and logs from all of them — then a
//! table of what it cost. Each transport's traffic passes through a byte-counting relay
//! (`ngtt_net::CountingRelay`).

mod fleet;
mod nodes;
mod report;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use ngtt_net::CountingRelay;
use ngtt_pki::PkiDir;
use ngtt_proto::payload::{Level, LogRecord, PathpointSeries, Sample};
use ngtt_proto::Environment;
use ngtt_server::storage::SeriesQuery;
use ngtt_server::{OrderState, Server, ServerConfig, ServerHandle, TlsPems};
use ngtt_transport::Timings;
use smok_client::SmokDevice;

use crate::error::CliError;
use fleet::Arrivals;
use report::Measured;

/// Examples shown by `ngtt demo --help`.
pub const EXAMPLES: &str = "\
Examples:
  ngtt demo                          # one device per transport, 10 orders
  ngtt demo --devices 5 --orders 20  # more of both
  ngtt demo --poll-interval 1        # poll faster (HTTP latency follows the interval)
  ngtt demo --nodes 2 --db 'postgres://postgres@127.0.0.1/test?schema=ngtt_demo'
                                     # two server nodes on one PostgreSQL, orders across nodes

Exit status 0 when every order was delivered and every upload confirmed, 1 otherwise.";

/// `ngtt demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Devices per transport.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=200))]
    devices: u16,
    /// Orders queued for every device.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    orders: u16,
    /// Seconds between two order polls of an HTTP device (the real default is 60; the demo
    /// polls faster so that it ends within a minute).
    #[arg(long = "poll-interval", value_name = "SECS", default_value_t = 2.0)]
    poll_interval: f64,
    /// Server nodes sharing the --db PostgreSQL database (more than 1: NGTT devices spread over
    /// the nodes, every order queued through the first node).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
    nodes: u16,
    /// The PostgreSQL database of --nodes (postgres://…, ?schema=NAME recommended: the demo's
    /// devices and orders stay in it).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
}

/// NGTT devices ping this often during the demo, so that idle traffic shows within seconds;
/// the cost of one keepalive exchange is scaled to the default interval of 30 s.
const DEMO_PING: Duration = Duration::from_millis(250);
const DEFAULT_PING: Duration = Duration::from_secs(30);
const DEFAULT_POLL: Duration = Duration::from_secs(60);
const UPLOADS_PER_DEVICE: usize = 3;
const LOGS_PER_DEVICE: usize = 5;
/// The path of the demo's explicit uploads (the orders' reads upload their own values).
const UPLOAD_PATH: &str = "W1r4002";

/// Runs the demo; `Ok(())` only when every order arrived and every upload was confirmed.
pub fn run(args: &DemoArgs, out: &mut impl Write) -> Result<(), CliError> {
    if !(0.05..=60.0).contains(&args.poll_interval) {
        return Err(CliError::Demo(
            "--poll-interval must be between 0.05 and 60 seconds".into(),
        ));
    }
    let runtime = crate::runtime::runtime(true)?;
    let ok = match (args.nodes, &args.db) {
        (1, None) => runtime.block_on(demo(args, out))?,
        (_, Some(db)) => {
            let db = ngtt_server::PostgresUrl::parse(db).map_err(CliError::Demo)?;
            let nodes = usize::from(args.nodes);
            runtime.block_on(nodes::run(
                &db,
                nodes,
                usize::from(args.devices),
                args.orders,
                out,
            ))?
        }
        (_, None) => {
            return Err(CliError::Demo(
                "--nodes needs a PostgreSQL database shared by the nodes: --db postgres://…".into(),
            ))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(CliError::Demo(
            "some orders or uploads did not make it: see the table above".into(),
        ))
    }
}

/// One transport's devices and their relay.
struct Side {
    devices: Vec<SmokDevice>,
    relay: CountingRelay,
    measured: Measured,
}

async fn demo(args: &DemoArgs, out: &mut impl Write) -> Result<bool, CliError> {
    let started = Instant::now();
    let n = usize::from(args.devices);
    let poll = Duration::from_secs_f64(args.poll_interval);
    let say = |out: &mut dyn Write, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };

    // A throw-away PKI and database, and the server on loopback.
    let dir = tempfile::tempdir().map_err(|e| CliError::Demo(format!("temporary directory: {e}")))?;
    let pki = PkiDir::new(dir.path().join("pki"));
    let ca = pki.init(&[], false)?;
    let mut config = ServerConfig::new(TlsPems::from_pki_dir(pki.root())?, dir.path().join("ngtt.db"));
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.admin_listen = None;
    config.http_listen = Some("127.0.0.1:0".parse().expect("address"));
    let server = Server::bind(config).await?;
    let (ngtt_addr, http_addr) = (server.local_addr(), server.http_addr().expect("HTTP API enabled"));
    let handle = server.handle();
    let server_task = tokio::spawn(server.run());
    say(out, format!("ngtt demo: server on {ngtt_addr} (NGTT) and {http_addr} (HTTP API), data in a temporary directory"));

    // The devices, each kind behind its own byte-counting relay.
    let relay = |addr| async move {
        CountingRelay::start(addr)
            .await
            .map_err(|e| CliError::Demo(format!("relay: {e}")))
    };
    let mut ngtt = Side {
        devices: Vec::new(),
        relay: relay(ngtt_addr).await?,
        measured: Measured::default(),
    };
    let mut http = Side {
        devices: Vec::new(),
        relay: relay(http_addr).await?,
        measured: Measured::default(),
    };
    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let mut runners = Vec::new();
    for i in 1..=n {
        for (kind, side) in [("ngtt", &mut ngtt), ("http", &mut http)] {
            let id = format!("{kind}-{i}");
            let cert = pki.issue_device(&id, Environment::LocalDevelopment)?;
            let mut builder = SmokDevice::builder(cert.cert_pem, cert.key_pem)
                .ca_pem(ca.cert_pem())
                .pathpoint_provider(fleet::pathpoints(&id, arrivals.clone()));
            builder = if kind == "ngtt" {
                builder
                    .use_ngtt(true)
                    .ngtt_server(side.relay.addr().to_string())
                    .ngtt_server_name("localhost")
                    .ngtt_timings(Timings {
                        ping_after: DEMO_PING,
                        ..Timings::default()
                    })
                    .http_base_url(format!("https://{http_addr}"))
            } else {
                builder
                    .http_base_url(format!("https://{}", side.relay.addr()))
                    .poll_interval(poll)
            };
            let (device, orders) = builder.build()?;
            runners.push(fleet::run(&device, orders));
            side.devices.push(device);
        }
    }
    if !fleet::wait_up(&ngtt.devices, Duration::from_secs(10)).await {
        for device in &ngtt.devices {
            say(
                out,
                format!(
                    "{}: could not connect within 10 s: {:?}",
                    device.identity().device_id,
                    device.link_state()
                ),
            );
        }
        return Ok(false);
    }
    say(
        out,
        format!(
            "{n} NGTT device(s) connected; {n} HTTP device(s) polling every {:.2} s",
            poll.as_secs_f64()
        ),
    );

    // Idle traffic: keepalives and empty polls, once the handshakes' tails (session tickets,
    // FETCH_ORDERS, the first poll) have passed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window = Duration::from_secs(3).max(poll.mul_f64(1.5));
    say(
        out,
        format!("measuring idle traffic for {:.1} s ...", window.as_secs_f64()),
    );
    let pings = |side: &Side| -> u64 {
        side.devices
            .iter()
            .filter_map(|d| d.ngtt())
            .map(|t| t.stats().pings_sent)
            .sum()
    };
    let pings_before = pings(&ngtt);
    let idle = measure_idle(&ngtt, &http, window).await;
    let pings_during = (pings(&ngtt) - pings_before).max(1) as f64;
    let idle_rate = [idle.0 / window.as_secs_f64(), idle.1 / window.as_secs_f64()];
    // One keepalive exchange costs idle / pings; at the default interval there are two a minute.
    ngtt.measured.bytes_per_idle_minute = idle.0 / pings_during * (60.0 / DEFAULT_PING.as_secs_f64());
    http.measured.bytes_per_idle_minute =
        idle_rate[1] / n as f64 * poll.as_secs_f64() * (60.0 / DEFAULT_POLL.as_secs_f64());

    // Orders: the same ones for every device.
    say(
        out,
        format!("queueing {} order(s) for every device ...", args.orders),
    );
    let (phase_start, bytes_before) = (
        Instant::now(),
        [ngtt.relay.traffic().total(), http.relay.traffic().total()],
    );
    let queued = queue_orders(&handle, &ngtt, &http, args.orders, poll).await?;
    let deadline = Instant::now() + poll * 2 + Duration::from_secs(10);
    let all_arrived = || {
        queued
            .keys()
            .all(|k| arrivals.lock().unwrap_or_else(|e| e.into_inner()).contains_key(k))
    };
    while !all_arrived() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Over NGTT an order is done when its confirmation is stored.
    wait_confirmed(&handle, &ngtt.devices, Duration::from_secs(5)).await?;
    let phase = phase_start.elapsed();
    for (side, rate, before) in [
        (&mut ngtt, idle_rate[0], bytes_before[0]),
        (&mut http, idle_rate[1], bytes_before[1]),
    ] {
        let ids: Vec<String> = side
            .devices
            .iter()
            .map(|d| d.identity().device_id.clone())
            .collect();
        let arrived = arrivals.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mine = queued.iter().filter(|((dev, _), _)| ids.contains(dev));
        for (key, at) in mine {
            side.measured.orders_queued += 1;
            match arrived.get(key) {
                Some(when) => side.measured.latencies.push(when.saturating_duration_since(*at)),
                None => {
                    side.measured.orders_lost += 1;
                    side.measured
                        .problems
                        .push(format!("{}: order {} never arrived", key.0, key.1));
                }
            }
        }
        let order_bytes = (side.relay.traffic().total() - before) as f64 - rate * phase.as_secs_f64();
        side.measured.bytes_per_order = order_bytes.max(0.0) / side.measured.orders_queued.max(1) as f64;
    }

    say(
        out,
        "uploading pathpoint data and logs from every device ...".into(),
    );
    for side in [&mut ngtt, &mut http] {
        upload_all(&handle, side).await?;
    }

    for device in ngtt.devices.iter().chain(&http.devices) {
        device.close(Duration::from_secs(3)).await;
    }
    for runner in runners {
        let _ = tokio::time::timeout(Duration::from_secs(3), runner).await;
    }
    handle.shutdown();
    let _ = server_task.await;

    say(out, String::new());
    say(out, report::table(&ngtt.measured, &http.measured));
    say(
        out,
        format!(
            "Latency: queued on the server until the device executed it. Bytes: TCP payload in both\n\
             directions (TLS included), beyond what keeping the link alive costs; idle traffic scaled to\n\
             the defaults (NGTT ping every {} s, HTTP poll every {} s). HTTP hands out every order waiting\n\
             at a poll in one answer, and counts it acknowledged then: an answer lost on the way loses the\n\
             orders. Over NGTT each order waits on the server until the device confirms it. HTTP idle\n\
             traffic is measured on a kept-alive connection; at the default 60 s interval ngtt-server has\n\
             closed it (after 30 s idle), so each poll also pays a reconnection of about 1.1 kB (see\n\
             docs/benchmarks.md). ({:.1} s)",
            DEFAULT_PING.as_secs(),
            DEFAULT_POLL.as_secs(),
            started.elapsed().as_secs_f64()
        ),
    );
    for problem in ngtt.measured.problems.iter().chain(&http.measured.problems) {
        say(out, format!("problem: {problem}"));
    }
    Ok(ngtt.measured.ok() && http.measured.ok())
}

/// Idle bytes of each side over `window`.
async fn measure_idle(ngtt: &Side, http: &Side, window: Duration) -> (f64, f64) {
    let before = (ngtt.relay.traffic().total(), http.relay.traffic().total());
    tokio::time::sleep(window).await;
    (
        (ngtt.relay.traffic().total() - before.0) as f64,
        (http.relay.traffic().total() - before.1) as f64,
    )
}

/// (device, order's read path) → when it was queued.
type Queued = HashMap<(String, String), Instant>;

async fn queue_orders(
    handle: &ServerHandle,
    ngtt: &Side,
    http: &Side,
    orders: u16,
    poll: Duration,
) -> Result<Queued, CliError> {
    let mut queued = Queued::new();
    let spacing = (poll / 8).min(Duration::from_millis(250));
    for k in 0..orders {
        // The read's path tells the device program which order this is.
        let uuid = format!("Wdemo{k}");
        let sections = serde_json::json!([{"orders": [{"type": "read", "path": uuid}]}]);
        let payload =
            minijson::to_vec(&minijson::Value::from(sections)).map_err(|e| CliError::Demo(e.to_string()))?;
        for side in [ngtt, http] {
            for device in &side.devices {
                let id = device.identity().device_id.clone();
                queued.insert((id.clone(), uuid.clone()), Instant::now());
                handle.queue_order(&id, payload.clone()).await?;
            }
        }
        tokio::time::sleep(spacing).await;
    }
    Ok(queued)
}

async fn wait_confirmed(
    handle: &ServerHandle,
    devices: &[SmokDevice],
    timeout: Duration,
) -> Result<(), CliError> {
    let deadline = Instant::now() + timeout;
    for device in devices {
        let id = &device.identity().device_id;
        while Instant::now() < deadline {
            let orders = handle.storage().list_orders(id, None, 10_000)?;
            if orders.iter().all(|o| o.state == OrderState::Confirmed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// Uploads from every device of `side`, then checks what the server stored.
async fn upload_all(handle: &ServerHandle, side: &mut Side) -> Result<(), CliError> {
    let mut confirmed = 0;
    for device in &side.devices {
        let uploads = (0..UPLOADS_PER_DEVICE as u64).map(|u| {
            let samples =
                (0..5).map(move |k| Sample::value(1_700_000_000_000 + u * 1000 + k, (u * 10 + k) as i64));
            device.sync_pathpoints(vec![PathpointSeries::new(UPLOAD_PATH, samples)])
        });
        let results = futures::future::join_all(uploads).await;
        confirmed += results.iter().filter(|r| r.is_ok()).count();
        for (k, result) in results.iter().enumerate() {
            if let Err(e) = result {
                side.measured
                    .problems
                    .push(format!("{}: upload {k} failed: {e}", device.identity().device_id));
            }
        }
        let when = 1_700_000_000_000_000;
        device.send_logs(
            (0..LOGS_PER_DEVICE as u64)
                .map(|k| LogRecord::new("demo", when + k, Level::INFO, format!("log record {k}"))),
        );
    }
    side.measured.uploads = (confirmed, UPLOADS_PER_DEVICE * side.devices.len());
    // Logs have no answer: wait a little for them to be stored.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut stored = 0;
    while Instant::now() < deadline {
        stored = 0;
        for device in &side.devices {
            stored += handle
                .storage()
                .read_logs(&device.identity().device_id, 1_000)?
                .len()
                .min(LOGS_PER_DEVICE);
        }
        if stored == LOGS_PER_DEVICE * side.devices.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    side.measured.logs = (stored, LOGS_PER_DEVICE * side.devices.len());
    for device in &side.devices {
        let query = SeriesQuery {
            path: Some(UPLOAD_PATH.into()),
            ..SeriesQuery::default()
        };
        let series = handle
            .storage()
            .read_series(&device.identity().device_id, &query)?;
        let samples: usize = series.iter().map(|s| s.values.len()).sum();
        if samples != UPLOADS_PER_DEVICE * 5 {
            side.measured.uploads.0 = side.measured.uploads.0.min(samples / 5);
            let id = &device.identity().device_id;
            side.measured.problems.push(format!(
                "{id}: the server stored {samples} of {} samples",
                UPLOADS_PER_DEVICE * 5
            ));
        }
    }
    Ok(())
}
