//! How much memory a device holds for its uploads while its server is unreachable.
//!
//! A device (this process) whose server never answers makes one hour's worth of uploads —
//! by default one upload every 10 s of 50 pathpoints with one sample each, 360 uploads — then
//! keeps going as fast as it can until its [`UploadLimits`] refuse more, and goes on ten times
//! past that. It prints its resident set size (VmRSS, Linux) at each step and what the
//! transport says is pending.
//!
//! ```text
//! cargo run -p ngtt-transport --example offline_memory [-- INTERVAL_SECS PATHPOINTS SAMPLES]
//! ```

use std::time::Duration;

use futures::FutureExt;
use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_proto::Environment;
use ngtt_transport::{Config, Transport, TransportError, UploadLimits};

/// The resident set size of this process, in KiB (0 where /proc is not available).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One upload: `pathpoints` series of `samples` samples, as a device reads them.
fn upload(n: u64, pathpoints: usize, samples: usize) -> Vec<PathpointSeries> {
    (0..pathpoints)
        .map(|p| {
            let t0 = 1_700_000_000_000 + n * 10_000;
            PathpointSeries::new(
                format!("W{p}r4002"),
                (0..samples).map(|s| Sample::value(t0 + s as u64 * 1000, (n as i64 + p as i64) % 65_536)),
            )
        })
        .collect()
}

/// Makes uploads `from..to`, without waiting for room; returns how many were refused.
async fn make(transport: &Transport, range: std::ops::Range<u64>, pathpoints: usize, samples: usize) -> u64 {
    let mut refused = 0;
    for n in range {
        match transport
            .try_sync_pathpoints(upload(n, pathpoints, samples))
            .now_or_never()
        {
            None => {} // queued: it would resolve on the server's answer
            Some(Err(TransportError::UploadQueueFull { .. })) => refused += 1,
            Some(other) => panic!("unexpected: {other:?}"),
        }
        // Let the transport's task take the command (its queue is bounded too).
        tokio::task::yield_now().await;
    }
    refused
}

fn report(step: &str, transport: &Transport, refused: u64) {
    let stats = transport.stats();
    println!(
        "| {step} | {} | {:.1} | {refused} | {:.1} |",
        stats.uploads_pending,
        stats.uploads_pending_bytes as f64 / 1024.0,
        rss_kib() as f64 / 1024.0
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let interval = args.first().copied().unwrap_or(10);
    let pathpoints = args.get(1).copied().unwrap_or(50) as usize;
    let samples = args.get(2).copied().unwrap_or(1) as usize;
    let per_hour = 3600 / interval.max(1);

    let ca = ngtt_pki::Ca::generate("device CA")?;
    let device = ca.issue_device("mem-1", Environment::LocalDevelopment)?;
    // A port nobody listens on: the device stays offline throughout.
    let vacant = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let config = Config::new(
        &vacant.to_string(),
        ca.cert_pem(),
        device.cert_pem,
        device.key_pem,
    )?;
    let limits = config.upload_limits;
    let (transport, _orders) = Transport::spawn(config)?;
    let one = minijson::to_vec(&upload(0, pathpoints, samples))?.len();
    println!(
        "offline device, defaults ({} uploads, {} MiB); one upload every {interval} s of {pathpoints} pathpoints x {samples} sample(s) = {one} bytes, {per_hour} per hour",
        limits.max_count,
        limits.max_bytes / (1024 * 1024),
    );
    println!();
    println!("| step | uploads pending | KiB pending | refused | RSS MiB |");
    println!("|---|---:|---:|---:|---:|");
    tokio::time::sleep(Duration::from_millis(100)).await;
    report("started, nothing queued", &transport, 0);
    let refused = make(&transport, 0..per_hour, pathpoints, samples).await;
    report("1 hour of uploads queued", &transport, refused);
    let UploadLimits { max_count, max_bytes } = limits;
    let to_fill = (max_count as u64).max(max_bytes as u64 / one.max(1) as u64) + 1;
    let refused = make(&transport, per_hour..per_hour + to_fill, pathpoints, samples).await;
    report("filled up to the limits", &transport, refused);
    let refused = make(&transport, 0..10 * to_fill, pathpoints, samples).await;
    report("10x more offered past the limits", &transport, refused);
    transport.close(Duration::from_secs(1)).await;
    Ok(())
}
