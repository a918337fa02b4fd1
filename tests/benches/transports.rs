//! NGTT against HTTP polling (issue 4): the same workload over both transports of `smok-client`,
//! against one in-process `ngtt-server` (NGTT listener and device HTTP API on loopback, real
//! TLS, SQLite with `synchronous = FULL`).
//!
//! Timed by criterion:
//!
//! * `order_latency/ngtt_push`: an order queued on the server (`ServerHandle::queue_order`) →
//!   `DeviceOrders::recv()` → `ack()` (ORDER_CONFIRM written).
//! * `order_latency/http_poll_immediately`: an order queued → one `POST /v1/device/orders`
//!   (`smok_http::HttpClient::fetch_orders`) sent right after, returning it: the best case of
//!   polling. A real poller adds on average half its interval (30 s at the default 60 s).
//! * `upload_10_samples/{ngtt,http}`: `SmokDevice::sync_pathpoints` of 10 samples until stored
//!   (DATA_STREAM_CONFIRM, or the `200` of `POST /v1/device/pathpoints`).
//!
//! Measured outside criterion, through a byte-counting TCP relay in front of each transport
//! (TCP payload both ways: TLS records and handshakes included, TCP/IP headers not), printed at
//! the end: bytes per order, per empty poll and per keepalive, and what an idle device costs per
//! hour. With `--bench` it also checks whether an idle HTTP connection survives 31 s (the
//! server's keep-alive limit is 30 s; the default poll interval is 60 s).
//!
//! `cargo bench -p ngtt-e2e --bench transports`

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_server::OrderState;
use ngtt_testkit::smok::{any_port, device_builder, start_server, Mode};
use ngtt_testkit::TestPki;
use ngtt_testkit::TestServer;
use ngtt_testkit::{CountingRelay, Traffic};
use ngtt_transport::Timings;
use smok_client::{DeviceOrders, SmokDevice};
use smok_http::{HttpClient, HttpConfig};
use tokio::runtime::Runtime;

/// How many times each byte figure is measured (the average is reported).
const ROUNDS: u64 = 20;

fn series(i: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new(
        "W1r4002",
        (0..10).map(|k| Sample::value(1_795_564_800_000 + i * 10 + k, (k * 7) as i64)),
    )]
}

fn sections() -> Vec<u8> {
    minijson::to_vec(&serde_json::json!([{"orders": [{"type": "read", "path": "W1r4002"}]}])).unwrap()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A device of `mode` through relays in front of the server, with the default keepalive (a
/// ping after 30 s of silence) unless `timings` says otherwise; connected before it returns.
async fn device(
    pki: &TestPki,
    id: &str,
    mode: Mode,
    ngtt: &CountingRelay,
    http: &CountingRelay,
    timings: Timings,
) -> (SmokDevice, DeviceOrders) {
    let (device, orders) = device_builder(pki, id, mode, ngtt.addr(), http.addr())
        .ngtt_timings(timings)
        .fetch_orders(mode == Mode::Ngtt)
        .build()
        .unwrap();
    if mode == Mode::Ngtt {
        let mut link = device.watch_link_state();
        link.wait_for(|s| s.is_up()).await.unwrap();
    }
    (device, orders)
}

fn http_client(pki: &TestPki, id: &str, relay: &CountingRelay) -> HttpClient {
    let cert = pki.device(id);
    let config = HttpConfig::new(cert.cert_pem, cert.key_pem)
        .with_ca_pem(pki.ca_pem())
        .with_base_url(format!("https://{}", relay.addr()));
    HttpClient::new(config).unwrap()
}

async fn relays(server: &TestServer) -> (CountingRelay, CountingRelay) {
    let ngtt = CountingRelay::start(server.addr).await.unwrap();
    let http = CountingRelay::start(server.http_addr()).await.unwrap();
    (ngtt, http)
}

fn transports(c: &mut Criterion) {
    let rt = runtime();
    let pki = TestPki::new();
    let server = rt.block_on(start_server(&pki, pki.scratch("db"), any_port(), any_port()));
    let (ngtt_relay, http_relay) = rt.block_on(relays(&server));
    let timings = Timings::default();
    let (ngtt, mut orders) = rt.block_on(device(
        &pki,
        "bench-ngtt",
        Mode::Ngtt,
        &ngtt_relay,
        &http_relay,
        timings,
    ));
    let (http, _) = rt.block_on(device(
        &pki,
        "bench-http",
        Mode::Http,
        &ngtt_relay,
        &http_relay,
        timings,
    ));
    let poller = http_client(&pki, "bench-http", &http_relay);
    let sections = sections();

    let mut g = c.benchmark_group("order_latency");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ngtt_push", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    server.queue_bytes("bench-ngtt", sections.clone()).await;
                    orders.recv().await.unwrap().ack().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("http_poll_immediately", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    server.queue_bytes("bench-http", sections.clone()).await;
                    let handed = poller.fetch_orders().await.unwrap();
                    assert_eq!(handed.len(), 1);
                }
                start.elapsed()
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("upload_10_samples");
    g.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    for (name, device) in [("ngtt", &ngtt), ("http", &http)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        n += 1;
                        device.sync_pathpoints(series(n)).await.unwrap();
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
    rt.block_on(async {
        ngtt.close(Duration::from_secs(2)).await;
        http.close(Duration::from_secs(2)).await;
        server.stop().await;
    });
}

/// Byte figures, averaged over [`ROUNDS`].
#[derive(Debug, Default)]
struct Bytes {
    ngtt_setup: Traffic,
    ngtt_order: (f64, f64),
    ngtt_ping: (f64, f64),
    ngtt_upload: (f64, f64),
    http_order_reused: (f64, f64),
    http_order_fresh: (f64, f64),
    http_empty_reused: (f64, f64),
    http_empty_fresh: (f64, f64),
    http_upload_reused: (f64, f64),
    /// An empty poll by a client whose connection the server closed: new TCP connection, TLS
    /// session resumed.
    http_empty_resumed: (f64, f64),
    /// A poll after 31 s idle (`None` without `--bench`): connections opened, bytes.
    http_after_idle: Option<Traffic>,
}

fn per_round(t: Traffic, rounds: u64) -> (f64, f64) {
    (t.up as f64 / rounds as f64, t.down as f64 / rounds as f64)
}

/// Adds up what a relay saw during each measured round.
struct Meter<'a> {
    relay: &'a CountingRelay,
    total: Traffic,
    rounds: u64,
}

impl<'a> Meter<'a> {
    fn new(relay: &'a CountingRelay) -> Self {
        Meter {
            relay,
            total: Traffic::default(),
            rounds: 0,
        }
    }

    fn begin(&self) -> Traffic {
        self.relay.traffic()
    }

    async fn end(&mut self, before: Traffic) {
        // Let the last TLS records (the close of a dropped client) through.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = self.relay.traffic().since(before);
        self.total.up += t.up;
        self.total.down += t.down;
        self.total.connections += t.connections;
        self.rounds += 1;
    }

    /// Average bytes per round, up and down.
    fn average(&self) -> (f64, f64) {
        per_round(self.total, self.rounds)
    }
}

async fn until_confirmed(server: &TestServer, id: i64) {
    while server.state(id) != OrderState::Confirmed {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn measure_bytes(pki: &TestPki, full: bool) -> Bytes {
    let server = start_server(pki, pki.scratch("bytes-db"), any_port(), any_port()).await;
    let (ngtt_relay, http_relay) = relays(&server).await;
    let mut b = Bytes::default();
    let sections = sections();

    // NGTT: connection setup, then ORDER + ORDER_CONFIRM, then DATA_STREAM + CONFIRM.
    let (ngtt, mut orders) = device(
        pki,
        "bytes-ngtt",
        Mode::Ngtt,
        &ngtt_relay,
        &http_relay,
        Timings::default(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.ngtt_setup = ngtt_relay.traffic();
    let mut m = Meter::new(&ngtt_relay);
    for _ in 0..ROUNDS {
        let t = m.begin();
        let id = server.queue_bytes("bytes-ngtt", sections.clone()).await;
        orders.recv().await.unwrap().ack().await.unwrap();
        until_confirmed(&server, id).await;
        m.end(t).await;
    }
    b.ngtt_order = m.average();
    let mut m = Meter::new(&ngtt_relay);
    for i in 0..ROUNDS {
        let t = m.begin();
        ngtt.sync_pathpoints(series(i)).await.unwrap();
        m.end(t).await;
    }
    b.ngtt_upload = m.average();
    assert_eq!(
        ngtt_relay.traffic().connections,
        1,
        "one NGTT connection throughout"
    );
    ngtt.close(Duration::from_secs(2)).await;

    // NGTT keepalive: a device pinging after 50 ms of silence.
    let idle_relay = CountingRelay::start(server.addr).await.unwrap();
    let fast_pings = Timings {
        ping_after: Duration::from_millis(50),
        ..Timings::default()
    };
    let (idle, _orders) = device(
        pki,
        "bytes-idle",
        Mode::Ngtt,
        &idle_relay,
        &http_relay,
        fast_pings,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pings = || idle.ngtt().unwrap().stats().pings_sent;
    let (before, pings_before) = (idle_relay.traffic(), pings());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (traffic, sent) = (idle_relay.traffic().since(before), pings() - pings_before);
    b.ngtt_ping = per_round(traffic, sent);
    idle.close(Duration::from_secs(2)).await;

    // HTTP: a poll handing out one order, an empty poll, an upload; on a kept-alive
    // connection and on a fresh one (a new client: TCP and TLS handshakes included).
    let warm = http_client(pki, "bytes-http", &http_relay);
    warm.fetch_orders().await.unwrap();
    for fresh in [false, true] {
        let mut m = Meter::new(&http_relay);
        for _ in 0..ROUNDS {
            let id = server.queue_bytes("bytes-http", sections.clone()).await;
            let t = m.begin();
            let client = fresh.then(|| http_client(pki, "bytes-http", &http_relay));
            assert_eq!(
                client
                    .as_ref()
                    .unwrap_or(&warm)
                    .fetch_orders()
                    .await
                    .unwrap()
                    .len(),
                1
            );
            drop(client);
            m.end(t).await;
            assert_eq!(server.state(id), OrderState::Confirmed);
        }
        let order = m.average();
        let mut m = Meter::new(&http_relay);
        for _ in 0..ROUNDS {
            let t = m.begin();
            let client = fresh.then(|| http_client(pki, "bytes-http", &http_relay));
            assert!(client
                .as_ref()
                .unwrap_or(&warm)
                .fetch_orders()
                .await
                .unwrap()
                .is_empty());
            drop(client);
            m.end(t).await;
        }
        if fresh {
            (b.http_order_fresh, b.http_empty_fresh) = (order, m.average());
        } else {
            (b.http_order_reused, b.http_empty_reused) = (order, m.average());
        }
    }
    let mut m = Meter::new(&http_relay);
    for i in 0..ROUNDS {
        let t = m.begin();
        warm.sync_pathpoints(&series(i)).await.unwrap();
        m.end(t).await;
    }
    b.http_upload_reused = m.average();
    // The same client after its connection was closed (as the server does after 30 s idle).
    let mut m = Meter::new(&http_relay);
    for _ in 0..ROUNDS {
        http_relay.sever();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = m.begin();
        assert!(warm.fetch_orders().await.unwrap().is_empty());
        m.end(t).await;
    }
    assert_eq!(m.total.connections, ROUNDS, "one new connection per severed poll");
    b.http_empty_resumed = m.average();
    if full {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = http_relay.traffic();
        tokio::time::sleep(Duration::from_secs(31)).await;
        let idle = http_relay.traffic().since(before);
        assert!(warm.fetch_orders().await.unwrap().is_empty());
        b.http_after_idle = Some(http_relay.traffic().since(before).since(idle));
    }
    server.stop().await;
    b
}

fn report(b: &Bytes) {
    let sum = |(up, down): (f64, f64)| up + down;
    let row = |what: &str, (up, down): (f64, f64)| {
        eprintln!("| {what} | {up:.0} | {down:.0} | {:.0} |", up + down);
    };
    eprintln!("\nBytes on the wire (TCP payload, TLS included), average of {ROUNDS}:\n");
    eprintln!("| what | device → server | server → device | total |");
    eprintln!("|---|---|---|---|");
    let setup = b.ngtt_setup;
    row(
        "NGTT connection setup (TLS handshake, FETCH_ORDERS)",
        (setup.up as f64, setup.down as f64),
    );
    row("NGTT order (ORDER + ORDER_CONFIRM)", b.ngtt_order);
    row("HTTP order, reused connection (one poll)", b.http_order_reused);
    row("HTTP order, fresh TLS connection", b.http_order_fresh);
    row("NGTT keepalive (PING + echo)", b.ngtt_ping);
    row("HTTP empty poll, reused connection", b.http_empty_reused);
    row(
        "HTTP empty poll, new connection, TLS session resumed",
        b.http_empty_resumed,
    );
    row(
        "HTTP empty poll, fresh TLS connection (full handshake)",
        b.http_empty_fresh,
    );
    row("NGTT upload of 10 samples (DATA_STREAM + CONFIRM)", b.ngtt_upload);
    row(
        "HTTP upload of 10 samples, reused connection",
        b.http_upload_reused,
    );
    let ngtt_hour = 120.0 * sum(b.ngtt_ping);
    let hour = |poll: (f64, f64)| 60.0 * sum(poll);
    let (reused, resumed, fresh) = (
        hour(b.http_empty_reused),
        hour(b.http_empty_resumed),
        hour(b.http_empty_fresh),
    );
    eprintln!("\nIdle device per hour: NGTT {ngtt_hour:.0} B (120 pings at 30 s); HTTP (60 polls at 60 s)");
    eprintln!(
        "{reused:.0} B kept alive, {resumed:.0} B reconnecting with resumption, {fresh:.0} B full handshakes"
    );
    eprintln!(
        "Ratios HTTP/NGTT: order {:.1}× (kept alive) {:.1}× (full handshake); idle hour {:.1}× / {:.1}× / {:.1}×",
        sum(b.http_order_reused) / sum(b.ngtt_order),
        sum(b.http_order_fresh) / sum(b.ngtt_order),
        reused / ngtt_hour,
        resumed / ngtt_hour,
        fresh / ngtt_hour,
    );
    match b.http_after_idle {
        Some(t) => eprintln!(
            "A poll after 31 s idle: {} new connection(s), {} B up, {} B down",
            t.connections, t.up, t.down
        ),
        None => eprintln!("(idle keep-alive check skipped: run with --bench)"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = transports
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let full = std::env::args().any(|a| a == "--bench");
    let pki = TestPki::new();
    let bytes = runtime().block_on(measure_bytes(&pki, full));
    report(&bytes);
}
