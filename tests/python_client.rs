//! Compatibility with the published Python client: `smok` 0.21.0 from PyPI (module
//! `ngtt.uplink`) connects to our server with a certificate from our PKI, sends FETCH_ORDERS
//! (or, as the first revision, does not), pings, receives orders — small, 2.5 KB and 100 KB —
//! and confirms them.
//!
//! Needs `python3` with `smok==0.21.0` installed (`.ci/run` installs it). Without it the test
//! says so and passes, unless `NGTT_REQUIRE_PYTHON_CLIENT=1` (set by CI) makes it fail.

use std::path::Path;
use std::time::Duration;

use ngtt_server::OrderState;
use ngtt_testkit::python_device::run_script;
use ngtt_testkit::{init_logging, smok_client_installed, TestPki, TestServer};
use serde_json::json;

/// Runs `python/smok_device.py` as device `device` against `server` with `args` after the
/// connection arguments; returns the orders it printed (`{"tid", "order", "at"}`), in arrival
/// order, once it exited successfully.
async fn run_client(
    server: &TestServer,
    pki: &TestPki,
    device: &str,
    args: &[&str],
) -> Vec<serde_json::Value> {
    let (cert, key) = pki.device_files(device);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/smok_device.py");
    let port = server.addr.port().to_string();
    let ca = pki.dir().join("ca.pem");
    let args: Vec<&str> = [
        port.as_str(),
        ca.to_str().unwrap(),
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
    ]
    .into_iter()
    .chain(args.iter().copied())
    .collect();
    run_script(Path::new(script), &args, Duration::from_secs(60))
        .await
        .into_iter()
        .filter(|v| v.get("order").is_some())
        .collect()
}

async fn start(pki: &TestPki, device: &str) -> TestServer {
    pki.device(device);
    TestServer::start(pki, pki.scratch("ngtt.db"), |_| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_python_client_receives_and_confirms_orders() {
    init_logging();
    if !smok_client_installed() {
        return;
    }
    let pki = TestPki::new();
    let server = start(&pki, "py-1").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let sections = json!([{"orders": [{"type": "read", "path": format!("W{i}r4002")}]}]);
        ids.push(server.queue("py-1", sections).await);
    }
    let orders = run_client(&server, &pki, "py-1", &["3", "30"]).await;

    // It printed the three orders, in queue order, as the sections we queued.
    assert_eq!(orders.len(), 3, "{orders:?}");
    for (i, o) in orders.iter().enumerate() {
        assert_eq!(o["order"][0]["orders"][0]["path"], format!("W{i}r4002"), "{o}");
    }
    // Its ORDER_CONFIRMs reached the server: every order is confirmed, none is still pending.
    server
        .until("the Python client's confirmations", |s| {
            ids.iter().all(|&id| s.state(id) == OrderState::Confirmed)
        })
        .await;
    server.stop().await;
}

/// A `write` order whose sections take about `bytes` bytes of MiniJSON.
fn order_of_size(bytes: usize) -> serde_json::Value {
    json!([{"orders": [{"type": "write", "path": "uNote", "value": "n".repeat(bytes - 40)}]}])
}

/// NGTT.md §8: the client reads 512 bytes per select() wake-up, so an order carried in large
/// TLS records stalls until its next keepalive (30 s, the client's own interval here). With
/// records of 512 bytes both orders arrive at once. (With `tls_max_record = 16384` this test
/// fails: the client times out waiting.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_orders_reach_the_published_client_without_a_stall() {
    init_logging();
    if !smok_client_installed() {
        return;
    }
    let pki = TestPki::new();
    let server = start(&pki, "py-big").await;
    let small = server.queue("py-big", order_of_size(2_500)).await;
    let large = server.queue("py-big", order_of_size(100_000)).await;
    // The client's own 30 s keepalive, and no ping needed: nothing but the records unsticks it.
    let orders = run_client(&server, &pki, "py-big", &["2", "20", "30", "0"]).await;
    assert_eq!(orders.len(), 2);
    for (o, len) in orders.iter().zip([2_500 - 40, 100_000 - 40]) {
        let value = o["order"][0]["orders"][0]["value"].as_str().unwrap();
        assert_eq!(value.len(), len);
        // Received well within 5 s of the client's start (connecting included): the stall is 30 s.
        let at = o["at"].as_f64().unwrap();
        eprintln!("order of {len} bytes received {at:.2} s after the client started");
        assert!(at < 5.0, "order of {len} bytes received after {at:.1} s");
    }
    server
        .until("the large orders confirmed", |s| {
            [small, large]
                .iter()
                .all(|&id| s.state(id) == OrderState::Confirmed)
        })
        .await;
    server.stop().await;
}

/// NGTT.md §4.1: the first revision never sends FETCH_ORDERS; its orders flow after the grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_sends_fetch_orders_gets_its_orders() {
    init_logging();
    if !smok_client_installed() {
        return;
    }
    let pki = TestPki::new();
    let server = start(&pki, "py-rev1").await;
    let id = server
        .queue("py-rev1", json!([{"orders": [{"type": "read", "path": "W1"}]}]))
        .await;
    let orders = run_client(&server, &pki, "py-rev1", &["1", "20", "1", "1", "no-fetch"]).await;
    assert_eq!(orders[0]["order"][0]["orders"][0]["path"], "W1");
    server
        .until("its confirmation", |s| s.state(id) == OrderState::Confirmed)
        .await;
    server.stop().await;
}
