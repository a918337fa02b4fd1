//! Decode and encode the three bench-corpus documents with `minijson`, against serde_json on
//! the JSON twin and rmp-serde on the same data, all in one process.
//!
//! `cargo bench -p minijson --bench codec`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde::{Deserialize, Serialize};

const DOCS: [&str; 3] = ["pathpoints", "logs", "orders"];

fn corpus(name: &str, ext: &str) -> Vec<u8> {
    let path = format!("{}/../bench-corpus/{name}.{ext}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A log record as a device program would type it.
#[derive(Serialize, Deserialize)]
struct LogRecord<'a> {
    service: &'a str,
    when: u64,
    message: std::borrow::Cow<'a, str>,
    level: u8,
}

fn decode(c: &mut Criterion) {
    for name in DOCS {
        let mj = corpus(name, "mj");
        let json = corpus(name, "json");
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let msgpack = rmp_serde::to_vec(&value).unwrap();
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("minijson", |b| {
            b.iter(|| minijson::from_slice::<minijson::Value>(black_box(&mj)).unwrap())
        });
        g.bench_function("serde_json", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&json)).unwrap())
        });
        g.bench_function("rmp-serde", |b| {
            b.iter(|| rmp_serde::from_slice::<serde_json::Value>(black_box(&msgpack)).unwrap())
        });
        g.bench_function(BenchmarkId::new("minijson", "skip"), |b| {
            b.iter(|| minijson::from_slice::<serde::de::IgnoredAny>(black_box(&mj)).unwrap())
        });
        if name == "logs" {
            g.bench_function(BenchmarkId::new("minijson", "typed"), |b| {
                b.iter(|| minijson::from_slice::<Vec<LogRecord>>(black_box(&mj)).unwrap())
            });
            g.bench_function(BenchmarkId::new("serde_json", "typed"), |b| {
                b.iter(|| serde_json::from_slice::<Vec<LogRecord>>(black_box(&json)).unwrap())
            });
            g.bench_function(BenchmarkId::new("rmp-serde", "typed"), |b| {
                b.iter(|| rmp_serde::from_slice::<Vec<LogRecord>>(black_box(&msgpack)).unwrap())
            });
        }
        g.finish();
    }
}

fn encode(c: &mut Criterion) {
    for name in DOCS {
        let mj = corpus(name, "mj");
        let json = corpus(name, "json");
        let mvalue: minijson::Value = minijson::from_slice(&mj).unwrap();
        assert_eq!(
            minijson::to_vec(&mvalue).unwrap(),
            mj,
            "{name}: re-encoding differs"
        );
        let jvalue: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let mut g = c.benchmark_group(format!("encode/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("minijson", |b| {
            b.iter(|| minijson::to_vec(black_box(&mvalue)).unwrap())
        });
        g.bench_function("serde_json", |b| {
            b.iter(|| serde_json::to_vec(black_box(&jvalue)).unwrap())
        });
        g.bench_function("rmp-serde", |b| {
            b.iter(|| rmp_serde::to_vec(black_box(&jvalue)).unwrap())
        });
        if name == "logs" {
            let typed: Vec<LogRecord> = minijson::from_slice(&mj).unwrap();
            g.bench_function(BenchmarkId::new("minijson", "typed"), |b| {
                b.iter(|| minijson::to_vec(black_box(&typed)).unwrap())
            });
            g.bench_function(BenchmarkId::new("serde_json", "typed"), |b| {
                b.iter(|| serde_json::to_vec(black_box(&typed)).unwrap())
            });
            g.bench_function(BenchmarkId::new("rmp-serde", "typed"), |b| {
                b.iter(|| rmp_serde::to_vec_named(black_box(&typed)).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = decode, encode
}
criterion_main!(benches);
