//! A live NGTT link on loopback: a real server (SQLite, synchronous=FULL) and a real device
//! over TLS, one connection.
//!
//! * `order_round_trip`: an order queued on the server (durably) until the device has it and
//!   its ORDER_CONFIRM is written; the window is 1, so each order also waits for the previous
//!   confirmation to be committed.
//! * `upload_confirmed/sequential`: one upload of 10 samples at a time, from `sync_pathpoints`
//!   until the server's DATA_STREAM_CONFIRM (after its commit).
//! * `upload_confirmed/pipelined_64`: 64 uploads in flight at once (uploads per second).
//!
//! `cargo bench -p ngtt-e2e --bench link`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_testkit::TestPki;
use ngtt_testkit::{lively_device_config, TestServer};
use ngtt_transport::Transport;

fn series(i: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new(
        "W1r4002",
        (0..10).map(|k| Sample::value(i * 10 + k, (k * 7) as i64)),
    )]
}

fn link(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pki = TestPki::new();
    let (server, transport, mut orders) = rt.block_on(async {
        let server = TestServer::start(&pki, pki.scratch("db"), |c| {
            c.max_inflight_orders = 1;
        })
        .await;
        let (transport, orders) = Transport::spawn(lively_device_config(&pki, "bench", server.addr)).unwrap();
        transport.connected().await.unwrap();
        (server, transport, orders)
    });
    let sections =
        minijson::to_vec(&serde_json::json!([{"orders": [{"type": "read", "path": "W1r4002"}]}])).unwrap();

    let mut g = c.benchmark_group("order_round_trip");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ngtt", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    server.queue_bytes("bench", sections.clone()).await;
                    let order = orders.recv().await.unwrap();
                    order.ack().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("upload_confirmed");
    g.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    g.bench_function("sequential", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    n += 1;
                    transport.sync_pathpoints(series(n)).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("pipelined_64", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    ngtt_testkit::pipelined_uploads(&transport, 64, || {
                        n += 1;
                        series(n)
                    })
                    .await;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
    rt.block_on(async {
        transport.close(Duration::from_secs(2)).await;
        server.stop().await;
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = link
}
criterion_main!(benches);
