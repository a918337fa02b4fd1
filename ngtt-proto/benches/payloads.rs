//! Typed NGTT payloads (what a server or device actually decodes) from the bench corpus:
//! `minijson` against serde_json on the JSON twin and rmp-serde on the same data, in one process.
//!
//! `cargo bench -p ngtt-proto --bench payloads`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ngtt_proto::payload::{LogRecord, PathpointSeries, Section};
use serde::{de::DeserializeOwned, Serialize};

fn corpus(name: &str, ext: &str) -> Vec<u8> {
    let path = format!("{}/../bench-corpus/{name}.{ext}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bench<T: Serialize + DeserializeOwned>(c: &mut Criterion, name: &str) {
    let mj = corpus(name, "mj");
    let json = corpus(name, "json");
    let typed: T = minijson::from_slice(&mj).unwrap();
    let msgpack = rmp_serde::to_vec_named(&typed).unwrap();

    let mut g = c.benchmark_group(format!("typed-decode/{name}"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("minijson", |b| {
        b.iter(|| minijson::from_slice::<T>(black_box(&mj)).unwrap())
    });
    g.bench_function("serde_json", |b| {
        b.iter(|| serde_json::from_slice::<T>(black_box(&json)).unwrap())
    });
    g.bench_function("rmp-serde", |b| {
        b.iter(|| rmp_serde::from_slice::<T>(black_box(&msgpack)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group(format!("typed-encode/{name}"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("minijson", |b| {
        b.iter(|| minijson::to_vec(black_box(&typed)).unwrap())
    });
    g.bench_function("serde_json", |b| {
        b.iter(|| serde_json::to_vec(black_box(&typed)).unwrap())
    });
    g.bench_function("rmp-serde", |b| {
        b.iter(|| rmp_serde::to_vec_named(black_box(&typed)).unwrap())
    });
    g.finish();
}

fn payloads(c: &mut Criterion) {
    bench::<Vec<PathpointSeries>>(c, "pathpoints");
    bench::<Vec<LogRecord>>(c, "logs");
    bench::<Vec<Section>>(c, "orders");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = payloads
}
criterion_main!(benches);
