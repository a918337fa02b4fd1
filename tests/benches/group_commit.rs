//! Confirmed uploads per second with and without group commit, in one run: a real server
//! (SQLite, WAL, `synchronous = FULL`) and real devices over TLS on loopback.
//!
//! * `uploads_confirmed/1_connection/*`: one device, 64 uploads (10 samples each) in flight.
//! * `uploads_confirmed/100_connections/*`: 100 devices, 8 uploads in flight each.
//!
//! `per_op_commit` sets `StoreLimits::batch_ops = 1` (every upload its own transaction and
//! fsync, as before group commit); `group_commit` is the default.
//!
//! `cargo bench -p ngtt-e2e --bench group_commit`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;
use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_testkit::{lively_device_config, pipelined_uploads, TestPki, TestServer};
use ngtt_transport::Transport;

fn series(i: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new(
        "W1r4002",
        (0..10).map(|k| Sample::value(i * 10 + k, (k * 7) as i64)),
    )]
}

fn run(c: &mut Criterion, devices: usize, in_flight: usize, name: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group(format!("uploads_confirmed/{name}"));
    g.throughput(Throughput::Elements((devices * in_flight) as u64));
    for (variant, batch_ops) in [("per_op_commit", 1), ("group_commit", 1024)] {
        let pki = TestPki::new();
        let (server, transports) = rt.block_on(async {
            let server = TestServer::start(&pki, pki.scratch("db"), |c| {
                c.storage.batch_ops = batch_ops;
            })
            .await;
            let mut transports = Vec::new();
            for d in 0..devices {
                let config = lively_device_config(&pki, &format!("bench{d}"), server.addr);
                let (transport, _orders) = Transport::spawn(config).unwrap();
                transport.connected().await.unwrap();
                transports.push(transport);
            }
            (server, transports)
        });
        let mut n = 0u64;
        g.bench_function(variant, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let base = n;
                        n += (devices * in_flight) as u64;
                        join_all(transports.iter().enumerate().map(|(d, t)| {
                            let mut i = base + (d * in_flight) as u64;
                            pipelined_uploads(t, in_flight, move || {
                                i += 1;
                                series(i)
                            })
                        }))
                        .await;
                    }
                    start.elapsed()
                })
            })
        });
        rt.block_on(async {
            for t in &transports {
                t.close(Duration::from_secs(2)).await;
            }
            server.stop().await;
        });
    }
    g.finish();
}

fn uploads(c: &mut Criterion) {
    run(c, 1, 64, "1_connection");
    run(c, 100, 8, "100_connections");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    targets = uploads
}
criterion_main!(benches);
