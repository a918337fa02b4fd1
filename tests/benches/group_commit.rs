//! Confirmed uploads per second with and without group commit, and on PostgreSQL with one and
//! two nodes, in one run: real servers and real devices over TLS on loopback.
//!
//! * `uploads_confirmed/1_connection/*`: one device, 64 uploads (10 samples each) in flight.
//! * `uploads_confirmed/100_connections/*`: 100 devices, 8 uploads in flight each.
//!
//! `per_op_commit` sets `StoreLimits::batch_ops = 1` (SQLite, WAL, `synchronous = FULL`: every
//! upload its own transaction and fsync, as before group commit); `group_commit` is the default
//! on SQLite. With 100 connections, when PostgreSQL answers (`ngtt_testkit::postgres`, a
//! throw-away schema), `postgres_1_node` is one server on PostgreSQL (default configuration) and
//! `postgres_2_nodes` two servers (distinct cluster node ids) on the same schema, the devices
//! split 50/50 between them. Without PostgreSQL these two are skipped with a message.
//!
//! `cargo bench -p ngtt-e2e --bench group_commit`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;
use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_server::PostgresUrl;
use ngtt_testkit::postgres::TestDatabase;
use ngtt_testkit::{lively_device_config, pipelined_uploads, TestPki, TestServer};
use ngtt_transport::Transport;

fn series(i: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new(
        "W1r4002",
        (0..10).map(|k| Sample::value(i * 10 + k, (k * 7) as i64)),
    )]
}

/// What the devices upload to.
enum Backend {
    /// One server on SQLite with this `StoreLimits::batch_ops`.
    Sqlite { batch_ops: usize },
    /// This many servers sharing one PostgreSQL schema.
    Postgres { nodes: usize },
}

/// Starts the servers of `backend` (the schema, if any, must outlive them).
async fn start(pki: &TestPki, backend: &Backend, db: Option<&TestDatabase>) -> Vec<TestServer> {
    match backend {
        Backend::Sqlite { batch_ops } => {
            let batch_ops = *batch_ops;
            vec![TestServer::start(pki, pki.scratch("db"), |c| c.storage.batch_ops = batch_ops).await]
        }
        Backend::Postgres { nodes } => {
            let db = db.expect("the PostgreSQL variants have a schema");
            let url = PostgresUrl::parse(&db.url()).expect("test database URL");
            let mut servers = Vec::new();
            for node in 0..*nodes {
                let token = pki.scratch(&format!("admin-token-{node}"));
                servers.push(
                    TestServer::start(pki, pki.scratch("unused.db"), |c| {
                        c.postgres = Some(url.clone());
                        c.admin_token_file = Some(token);
                        c.cluster.node_id = format!("bench-{}-node{node}", db.schema());
                    })
                    .await,
                );
            }
            servers
        }
    }
}

fn run(c: &mut Criterion, devices: usize, in_flight: usize, name: &str, variants: &[(&str, Backend)]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group(format!("uploads_confirmed/{name}"));
    g.throughput(Throughput::Elements((devices * in_flight) as u64));
    for (variant, backend) in variants {
        let db = match backend {
            Backend::Sqlite { .. } => None,
            Backend::Postgres { .. } => match TestDatabase::create(&format!("bench_{variant}")) {
                Some(db) => Some(db),
                None => {
                    eprintln!("skipping uploads_confirmed/{name}/{variant}: no PostgreSQL");
                    continue;
                }
            },
        };
        let pki = TestPki::new();
        let (servers, transports) = rt.block_on(async {
            let servers = start(&pki, backend, db.as_ref()).await;
            let mut transports = Vec::new();
            for d in 0..devices {
                let addr = servers[d % servers.len()].addr;
                let config = lively_device_config(&pki, &format!("bench{d}"), addr);
                let (transport, _orders) = Transport::spawn(config).unwrap();
                transport.connected().await.unwrap();
                transports.push(transport);
            }
            (servers, transports)
        });
        let mut n = 0u64;
        g.bench_function(*variant, |b| {
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
        // Every upload confirmed, warm-up included: for counts per upload (perf stat, strace).
        eprintln!("uploads_confirmed/{name}/{variant}: {n} uploads confirmed in all");
        rt.block_on(async {
            for t in &transports {
                t.close(Duration::from_secs(2)).await;
            }
            for server in servers {
                server.stop().await;
            }
        });
        drop(db);
    }
    g.finish();
}

fn uploads(c: &mut Criterion) {
    let sqlite = [
        ("per_op_commit", Backend::Sqlite { batch_ops: 1 }),
        ("group_commit", Backend::Sqlite { batch_ops: 1024 }),
    ];
    run(c, 1, 64, "1_connection", &sqlite);
    let [per_op, group] = sqlite;
    run(
        c,
        100,
        8,
        "100_connections",
        &[
            per_op,
            group,
            ("postgres_1_node", Backend::Postgres { nodes: 1 }),
            ("postgres_2_nodes", Backend::Postgres { nodes: 2 }),
        ],
    );
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
