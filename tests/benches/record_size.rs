//! What the server's TLS record size costs (issue 7, NGTT.md §8): records of at most 512 bytes
//! of plaintext (the default, for the published clients) against 16 KiB (the TLS maximum), in
//! the same run, against one in-process server each (real TLS, SQLite `synchronous = FULL`),
//! with our own transport as the device.
//!
//! * Bytes on the wire, server to device, for one 100 KB order (TCP payload through a counting
//!   relay: TLS record headers and tags included, TCP/IP headers not), against the frame's own
//!   size.
//! * Time from queueing a 100 KB order to the device having it and its ORDER_CONFIRM written.
//! * Confirmed uploads per second: 64 uploads of 10 samples in flight at a time, for 3 s.
//!
//! `cargo bench -p ngtt-e2e --bench record_size` (about 30 s). Prints each run on stderr and a
//! Markdown table of the means (two runs per size, alternated) on stdout.

use std::time::{Duration, Instant};

use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_server::OrderState;
use ngtt_testkit::{lively_device_config as device_config, TestServer};
use ngtt_testkit::{CountingRelay, TestPki};
use ngtt_transport::Transport;

/// Orders measured per configuration (the average is reported).
const ORDERS: u32 = 10;
/// How long uploads are pipelined per configuration.
const UPLOAD_TIME: Duration = Duration::from_secs(3);

fn series(i: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new(
        "W1r4002",
        (0..10).map(|k| Sample::value(1_795_564_800_000 + i * 10 + k, (k * 7) as i64)),
    )]
}

/// One 100 000-byte ORDER payload.
fn large_order() -> Vec<u8> {
    let filler = "n".repeat(100_000 - 44);
    let sections = serde_json::json!([{"orders": [{"type": "write", "path": "uNote", "value": filler}]}]);
    let bytes = minijson::to_vec(&minijson::Value::from(sections)).unwrap();
    assert_eq!(bytes.len(), 100_000, "adjust the filler");
    bytes
}

struct Figures {
    order_bytes: f64,
    order_ms: f64,
    uploads_per_s: f64,
}

async fn measure(pki: &TestPki, max_record: usize) -> Figures {
    let server = TestServer::start(pki, pki.scratch(&format!("db-{max_record}")), |c| {
        c.tls_max_record = max_record;
    })
    .await;
    let relay = CountingRelay::start(server.addr).await.unwrap();
    let (transport, mut orders) = Transport::spawn(device_config(pki, "bench", relay.addr())).unwrap();
    transport.connected().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let order = large_order();
    let (mut bytes, mut time) = (0u64, Duration::ZERO);
    for _ in 0..ORDERS {
        let before = relay.traffic();
        let start = Instant::now();
        let id = server.handle.queue_order("bench", order.clone()).await.unwrap();
        let received = orders.recv().await.unwrap();
        received.ack().await.unwrap();
        time += start.elapsed();
        while server.state(id) != OrderState::Confirmed {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        bytes += relay.traffic().since(before).down;
    }

    let mut n = 0u64;
    let mut confirmed = 0u64;
    let start = Instant::now();
    while start.elapsed() < UPLOAD_TIME {
        ngtt_testkit::pipelined_uploads(&transport, 64, || {
            n += 1;
            series(n)
        })
        .await;
        confirmed += 64;
    }
    let uploads_per_s = confirmed as f64 / start.elapsed().as_secs_f64();
    transport.close(Duration::from_secs(2)).await;
    server.stop().await;
    Figures {
        order_bytes: bytes as f64 / f64::from(ORDERS),
        order_ms: time.as_secs_f64() * 1000.0 / f64::from(ORDERS),
        uploads_per_s,
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // Multi-threaded, one worker per core (two on the project's machine), as the other benches.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pki = TestPki::new();
    let frame = 8 + large_order().len();
    // Alternated, twice each, so that neither size always runs first (a warm-up or a noisy
    // neighbour shows up as a difference between the two rounds).
    let mut runs = Vec::new();
    for size in [512, 16_384, 16_384, 512] {
        let f = rt.block_on(measure(&pki, size));
        eprintln!(
            "{size:>6} B: {:.0} bytes, {:.1} ms, {:.0} uploads/s",
            f.order_bytes, f.order_ms, f.uploads_per_s
        );
        runs.push((size, f));
    }
    let mean = |size: usize| {
        let of: Vec<&Figures> = runs.iter().filter(|(s, _)| *s == size).map(|(_, f)| f).collect();
        let n = of.len() as f64;
        Figures {
            order_bytes: of.iter().map(|f| f.order_bytes).sum::<f64>() / n,
            order_ms: of.iter().map(|f| f.order_ms).sum::<f64>() / n,
            uploads_per_s: of.iter().map(|f| f.uploads_per_s).sum::<f64>() / n,
        }
    };
    let (small, large) = (mean(512), mean(16_384));
    println!("| TLS record plaintext | bytes down per 100 KB order (frame: {frame}) | overhead | order queued → confirmed | confirmed uploads/s |");
    println!("|---|---|---|---|---|");
    for (size, f) in [(512, &small), (16_384, &large)] {
        println!(
            "| {size} B | {:.0} | {:.2} % | {:.1} ms | {:.0} |",
            f.order_bytes,
            (f.order_bytes / frame as f64 - 1.0) * 100.0,
            f.order_ms,
            f.uploads_per_s
        );
    }
    println!(
        "\n512 against 16 KiB: {:.2}× the bytes per large order, {:.2}× the time, {:.2}× the uploads/s",
        small.order_bytes / large.order_bytes,
        small.order_ms / large.order_ms,
        small.uploads_per_s / large.uploads_per_s
    );
}
