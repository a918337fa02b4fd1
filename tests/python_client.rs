//! Compatibility with the published Python client: `smok` 0.21.0 from PyPI (module
//! `ngtt.uplink`) connects to our server with a certificate from our PKI, sends FETCH_ORDERS,
//! pings, receives orders and confirms them.
//!
//! Needs `python3` with `smok==0.21.0` installed (`.ci/run` installs it). Without it the test
//! says so and passes, unless `NGTT_REQUIRE_PYTHON_CLIENT=1` (set by CI) makes it fail.

use std::process::{Command, Stdio};
use std::time::Duration;

use ngtt_server::OrderState;
use ngtt_testkit::TestPki;
use ngtt_testkit::{init_logging, TestServer};
use serde_json::json;

fn python_client_available() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import smok.client, ngtt.uplink"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let available = probe.is_ok_and(|s| s.success());
    if !available {
        let required = std::env::var("NGTT_REQUIRE_PYTHON_CLIENT").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "python3 with smok==0.21.0 is required (NGTT_REQUIRE_PYTHON_CLIENT=1)"
        );
        eprintln!("SKIPPED: python3 with smok==0.21.0 is not installed (pip install smok==0.21.0)");
    }
    available
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_python_client_receives_and_confirms_orders() {
    init_logging();
    if !python_client_available() {
        return;
    }
    let pki = TestPki::new();
    pki.device("py-1");
    let server = TestServer::start(&pki, pki.scratch("ngtt.db"), |_| {}).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let sections = json!([{"orders": [{"type": "read", "path": format!("W{i}r4002")}]}]);
        ids.push(server.queue("py-1", sections).await);
    }

    let (cert, key) = pki.device_files("py-1");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/smok_device.py");
    let port = server.addr.port().to_string();
    let ca = pki.dir().join("ca.pem");
    let child = tokio::process::Command::new("python3")
        .arg(script)
        .args([
            port.as_str(),
            ca.to_str().unwrap(),
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            "3",
            "30",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 starts");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the Python client finishes")
        .expect("its output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Python client failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // It printed the three orders, in queue order, as the sections we queued.
    let orders: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|v: &serde_json::Value| v.get("order").is_some())
        .collect();
    assert_eq!(orders.len(), 3, "{stdout}");
    for (i, o) in orders.iter().enumerate() {
        assert_eq!(
            o["order"][0]["orders"][0]["path"],
            format!("W{i}r4002"),
            "{stdout}"
        );
    }
    // Its ORDER_CONFIRMs reached the server: every order is confirmed, none is still pending.
    server
        .until("the Python client's confirmations", |s| {
            ids.iter().all(|&id| s.state(id) == OrderState::Confirmed)
        })
        .await;
    server.stop().await;
}
