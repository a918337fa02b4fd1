//! `ngtt demo --nodes N --db postgres://…`: several server nodes in this process on one
//! PostgreSQL database, NGTT devices spread over them, every order queued through the first
//! node's API, so that the orders of the devices on the other nodes cross nodes (a
//! notification on the database wakes the node holding the device).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ngtt_pki::PkiDir;
use ngtt_proto::Environment;
use ngtt_server::{OrderState, PostgresUrl, Server, ServerConfig, ServerHandle, TlsPems};
use smok_client::SmokDevice;

use super::fleet::{self, Arrivals};
use crate::error::CliError;

/// How long the demo waits for orders to arrive and be confirmed.
const PATIENCE: Duration = Duration::from_secs(30);

struct Node {
    handle: ServerHandle,
    addr: std::net::SocketAddr,
    /// The device HTTP API (the devices' settings and BAOBs come from there).
    http: std::net::SocketAddr,
    task: tokio::task::JoinHandle<Result<(), ngtt_server::ServerError>>,
}

fn say(out: &mut dyn Write, line: String) {
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn demo_err(e: impl std::fmt::Display) -> CliError {
    CliError::Demo(e.to_string())
}

/// Runs the demo; `Ok(true)` when every order arrived and was confirmed.
pub async fn run(
    db: &PostgresUrl,
    nodes: usize,
    devices_per_node: usize,
    orders: u16,
    out: &mut dyn Write,
) -> Result<bool, CliError> {
    let dir = tempfile::tempdir().map_err(|e| demo_err(format!("temporary directory: {e}")))?;
    let pki = PkiDir::new(dir.path().join("pki"));
    let ca = pki.init(&[], false)?;
    // Device ids of this run only: the database outlives the demo.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() % 1_000_000);
    let mut started = Vec::new();
    for k in 1..=nodes {
        let mut config = ServerConfig::new(TlsPems::from_pki_dir(pki.root())?, dir.path().join("unused.db"));
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.admin_listen = None;
        config.http_listen = Some("127.0.0.1:0".parse().expect("address"));
        config.postgres = Some(db.clone());
        // One ticket file for the demo's nodes: a device resumes its session on either.
        config.tls_ticket_file = Some(dir.path().join("tls-tickets"));
        config.cluster.node_id = format!("demo-{run}-node{k}");
        let server = Server::bind(config).await?;
        let addr = server.local_addr();
        let http = server.http_addr().expect("HTTP API enabled");
        say(out, format!("node {k}: NGTT on {addr}, database {db}"));
        started.push(Node {
            handle: server.handle(),
            addr,
            http,
            task: tokio::spawn(server.run()),
        });
    }
    let arrivals: Arrivals = Arc::new(Mutex::new(Default::default()));
    let mut devices: Vec<(usize, SmokDevice)> = Vec::new();
    for (k, node) in started.iter().enumerate() {
        for i in 1..=devices_per_node {
            let id = format!("demo{run}-n{}-{i}", k + 1);
            devices.push((k, device(&pki, &ca, &id, node, &arrivals)?));
        }
    }
    let all: Vec<SmokDevice> = devices.iter().map(|(_, d)| d.clone()).collect();
    if !fleet::wait_up(&all, PATIENCE).await {
        say(out, "some devices could not connect".into());
        return Ok(false);
    }
    say(
        out,
        format!("{} device(s) connected, {devices_per_node} per node; queueing {orders} order(s) each through node 1 ...", all.len()),
    );
    let first = &started[0].handle;
    let mut queued = Vec::new();
    for k in 0..orders {
        let path = format!("Wnodes{k}");
        let payload = minijson::to_vec(&minijson::Value::from(
            serde_json::json!([{"orders": [{"type": "read", "path": path}]}]),
        ))
        .map_err(demo_err)?;
        for device in &all {
            let id = device.identity().device_id.clone();
            queued.push((id.clone(), path.clone(), Instant::now()));
            first.queue_order(&id, payload.clone()).await?;
        }
    }
    let deadline = Instant::now() + PATIENCE;
    let arrived = |id: &str, path: &str| {
        arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(id.to_owned(), path.to_owned()))
            .copied()
    };
    while queued.iter().any(|(id, path, _)| arrived(id, path).is_none()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ok = confirmed(first, &all, deadline).await?;
    say(
        out,
        format!(
            "{:<22} {:>5} {:>9} {:>14}",
            "device", "node", "arrived", "median latency"
        ),
    );
    let mut lost = 0;
    for (k, device) in &devices {
        let id = &device.identity().device_id;
        let mut latencies: Vec<Duration> = queued
            .iter()
            .filter(|(d, _, _)| d == id)
            .filter_map(|(_, path, at)| arrived(id, path).map(|t| t.saturating_duration_since(*at)))
            .collect();
        latencies.sort();
        lost += usize::from(orders) - latencies.len();
        let median = latencies
            .get(latencies.len() / 2)
            .map_or("-".to_owned(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3));
        let crossed = if *k == 0 { "" } else { " (queued on node 1)" };
        say(
            out,
            format!(
                "{id:<22} {:>5} {:>6}/{orders:<2} {median:>14}{crossed}",
                k + 1,
                latencies.len()
            ),
        );
    }
    for device in &all {
        device.close(Duration::from_secs(3)).await;
    }
    for node in started {
        node.handle.shutdown();
        let _ = node.task.await;
    }
    if lost > 0 || !ok {
        say(
            out,
            format!("{lost} order(s) did not arrive or were not confirmed"),
        );
        return Ok(false);
    }
    say(out, "every order arrived and was confirmed, across nodes".into());
    Ok(true)
}

fn device(
    pki: &PkiDir,
    ca: &ngtt_pki::Ca,
    id: &str,
    node: &Node,
    arrivals: &Arrivals,
) -> Result<SmokDevice, CliError> {
    let cert = pki.issue_device(id, Environment::LocalDevelopment)?;
    let (device, orders) = SmokDevice::builder(cert.cert_pem, cert.key_pem)
        .ca_pem(ca.cert_pem())
        .pathpoint_provider(fleet::pathpoints(id, arrivals.clone()))
        .use_ngtt(true)
        .ngtt_server(node.addr.to_string())
        .ngtt_server_name("localhost")
        .http_base_url(format!("https://{}", node.http))
        .build()?;
    drop(fleet::run(&device, orders));
    Ok(device)
}

/// Waits until every order of `devices` is confirmed; whether they all were by `deadline`.
async fn confirmed(
    handle: &ServerHandle,
    devices: &[SmokDevice],
    deadline: Instant,
) -> Result<bool, CliError> {
    for device in devices {
        let id = device.identity().device_id.clone();
        loop {
            let storage = handle.storage();
            let id2 = id.clone();
            let orders = tokio::task::spawn_blocking(move || storage.list_orders(&id2, None, 10_000))
                .await
                .map_err(demo_err)??;
            if orders.iter().all(|o| o.state == OrderState::Confirmed) {
                break;
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(true)
}
