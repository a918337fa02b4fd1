//! What the proof of reading costs: log records sent to a real `ngtt-server` (in this process,
//! SQLite in a temporary directory) best effort (`send_logs`, then waiting until the server
//! stored the last record) against batches sent with `send_logs_confirmed` one after another,
//! as smok-client does (each awaited before the next). Prints the time, frames, bytes and
//! PINGs of each, in the same run.
//!
//! ```text
//! cargo run -p ngtt-transport --example logs_cost [-- RECORDS BATCH]
//! ```

use std::time::{Duration, Instant};

use ngtt_proto::payload::{Level, LogRecord};
use ngtt_testkit::{device_config, TestPki, TestServer};
use ngtt_transport::{Stats, Transport};

fn records(from: u64, n: u64) -> Vec<LogRecord> {
    (from..from + n)
        .map(|k| {
            let text = format!("boiler {k}: flue temperature 182.5 C, pressure 1.9 bar, pump on");
            LogRecord::new("boiler", 1_700_000_000_000_000 + k, Level::INFO, text)
        })
        .collect()
}

/// The server's newest record of `device` is the `when` of record `k`.
async fn until_stored(server: &TestServer, device: &str, k: u64) {
    let last = 1_700_000_000_000_000 + k;
    loop {
        let newest = server.handle.storage().read_logs(device, 1).expect("read");
        if newest.first().is_some_and(|l| l.when_us == last) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The transport's stats, with frames, bytes and pings counted since `before`.
fn sent_since(transport: &Transport, before: &Stats) -> Stats {
    let mut s = transport.stats();
    (s.frames_sent, s.bytes_sent, s.pings_sent) = (
        s.frames_sent - before.frames_sent,
        s.bytes_sent - before.bytes_sent,
        s.pings_sent - before.pings_sent,
    );
    s
}

fn line(what: &str, n: u64, took: Duration, s: Stats, base: Option<Duration>) {
    let ratio = base.map_or(String::new(), |b| {
        format!("  ({:.2}x)", took.as_secs_f64() / b.as_secs_f64())
    });
    println!(
        "{what:<28} {:>8.1} ms{ratio:<10} {:>9.0} records/s  {:>4} frames  {:>9} B  {:>3} PINGs",
        took.as_secs_f64() * 1000.0,
        n as f64 / took.as_secs_f64(),
        s.frames_sent,
        s.bytes_sent,
        s.pings_sent
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let n = args.next().unwrap_or(20_000);
    let batch = args.next().unwrap_or(1_000).max(1);
    let pki = TestPki::new();
    let server = TestServer::start(&pki, pki.scratch("logs.db"), |_| {}).await;
    println!("{n} records of about 110 bytes, batches of {batch}, debug build unless --release");

    let best_effort = {
        let config = device_config(&pki, "best-effort", server.addr).with_log_buffer(n as usize);
        let (transport, _orders) = Transport::spawn(config).expect("spawn");
        transport.connected().await.expect("connected");
        let before = transport.stats();
        let start = Instant::now();
        transport.send_logs(records(0, n));
        until_stored(&server, "best-effort", n - 1).await;
        let took = start.elapsed();
        let s = sent_since(&transport, &before);
        line("send_logs, until stored", n, took, s, None);
        transport.close(Duration::from_secs(5)).await;
        took
    };

    let (transport, _orders) =
        Transport::spawn(device_config(&pki, "confirmed", server.addr)).expect("spawn");
    transport.connected().await.expect("connected");
    let before = transport.stats();
    let start = Instant::now();
    let mut k = 0;
    while k < n {
        let take = batch.min(n - k);
        transport
            .send_logs_confirmed(records(k, take))
            .await
            .expect("confirmed");
        k += take;
    }
    let took = start.elapsed();
    let s = sent_since(&transport, &before);
    line("send_logs_confirmed, batches", n, took, s, Some(best_effort));
    let stored = server
        .handle
        .storage()
        .read_logs("confirmed", n as usize + 1)
        .expect("read");
    assert_eq!(stored.len() as u64, n, "confirmed means stored");
    transport.close(Duration::from_secs(5)).await;
    server.stop().await;
}
