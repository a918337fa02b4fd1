//! A device process for the durability tests (`tests/smok_durability.rs`): records pathpoint
//! samples, sensor writes and log records into its SQLite store, printing `recorded K` once
//! each is committed, so that the test can `kill -9` it mid-way and know what must reach the
//! server.
//!
//! Settings come from the environment: `SMOK_CERT`, `SMOK_KEY`, `SMOK_CA` (files), `SMOK_HTTP`
//! (base URL), `SMOK_NGTT` (`host:port`, NGTT mode when set), `SMOK_STORE` (file),
//! `SMOK_FROM` and `SMOK_COUNT` (which values to record), `SMOK_DRAIN` (when set: once
//! recorded, wait until the store is empty, print `drained` and exit). Value `K` is the sample
//! `T0 + K` ms of `W1`, the sensor write of that timestamp, and the log record `record K`
//! of `when` `T0 + K` ms in µs.

use std::io::Write;
use std::time::Duration;

use smok_client::sensor::SensorWriteRecord;
use smok_client::{Level, LogRecord, SmokDevice};

/// 2026-11-25 00:00:00 UTC in ms, as the tests' `T0`.
const T0: u64 = 1_795_564_800_000;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn file(name: &str) -> String {
    std::fs::read_to_string(var(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let from: u64 = var("SMOK_FROM").parse().expect("SMOK_FROM");
    let count: u64 = var("SMOK_COUNT").parse().expect("SMOK_COUNT");
    let mut builder = SmokDevice::builder(file("SMOK_CERT"), file("SMOK_KEY"))
        .ca_pem(file("SMOK_CA"))
        .http_base_url(var("SMOK_HTTP"))
        .http_timeouts(Duration::from_secs(1), Duration::from_secs(3))
        .http_retry(Duration::from_millis(20), Duration::from_millis(200))
        .poll_interval(Duration::from_millis(200))
        .upload_timeout(Duration::from_secs(3))
        .store_path(var("SMOK_STORE"));
    if let Ok(ngtt) = std::env::var("SMOK_NGTT") {
        builder = builder
            .use_ngtt(true)
            .ngtt_server(ngtt)
            .ngtt_server_name("localhost")
            .ngtt_backoff(ngtt_transport::BackoffConfig {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(200),
                reset_after: Duration::from_secs(1),
                jitter: 0.25,
                seed: None,
            });
    }
    let (device, _orders) = builder.build().expect("device");
    let mut out = std::io::stdout();
    for k in from..from + count {
        device.set_value("W1", T0 + k, k as i64).expect("stored");
        device
            .log_sensor_write(SensorWriteRecord {
                timestamp: T0 + k,
                who: "durability".into(),
                hr_sensor: "boiler temperature".into(),
                hr_value: k.to_string(),
                fqts: "boiler temperature".into(),
                value: k.to_string(),
                reason: "test".into(),
            })
            .expect("stored");
        device.send_logs([LogRecord::new(
            "durability",
            (T0 + k) * 1000,
            Level::INFO,
            format!("record {k}"),
        )]);
        device.persist_logs().expect("stored");
        let _ = writeln!(out, "recorded {k}");
        let _ = out.flush();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if std::env::var("SMOK_DRAIN").is_err() {
        std::future::pending::<()>().await;
    }
    loop {
        let stats = device.store_stats().expect("store");
        if stats.samples_pending == 0 && stats.sensor_writes_pending == 0 && stats.logs_pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = writeln!(out, "drained");
    let _ = out.flush();
    device.close(Duration::from_secs(2)).await;
}
