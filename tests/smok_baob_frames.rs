//! A device using NGTT plans its BAOB rounds with SYNC_BAOB frames on its connection (issue
//! 10: "the NGTT SYNC_BAOB frames when NGTT is on"), not with `POST /v1/device/baobs`: against
//! a real server (in-process, the same code as `ngtt serve`), a BAOB deleted on the server is
//! deleted on a device whose NGTT connection reaches the server while its HTTP API does not.
//! (`smok_resources.rs` tests BAOBs in both modes with both links up, where a silent fallback
//! to HTTP would pass unnoticed.)

use std::sync::Arc;
use std::time::Duration;

use ngtt_testkit::smok::{any_port, device_builder, start_server, vacant_addr, Mode};
use ngtt_testkit::{init_logging, wait_until, TestPki, WAIT};
use reqwest::Method;
use smok_client::baob::BaobChange;
use smok_client::store::SqliteStore;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ngtt_devices_plan_baob_rounds_with_sync_baob_frames() {
    init_logging();
    let pki = TestPki::new();
    let server = start_server(&pki, pki.dir().join("ngtt.db"), any_port(), any_port()).await;
    let id = "baob-frames";
    let store_path = pki.dir().join("device.db");
    let path = format!("/v1/devices/{id}/baobs");

    // First run, both links up: the device's BAOB reaches the server.
    let store = Arc::new(SqliteStore::open(&store_path).unwrap());
    let (first, _orders) = device_builder(&pki, id, Mode::Ngtt, server.addr, server.http_addr())
        .store(store)
        .sync_sensors(false)
        .build()
        .expect("device");
    assert_eq!(first.set_baob("firmware", b"v0").unwrap(), 0);
    let mut on_server = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !on_server {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the BAOB never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (_, list) = server.get(&path).await;
        on_server = list
            .as_array()
            .is_some_and(|l| l.iter().any(|b| b["key"] == "firmware"));
    }
    first.close(Duration::from_secs(2)).await;
    drop(first);

    // Deleted on the server while the device is away.
    let (status, body) = server
        .admin(Method::DELETE, &format!("{path}/firmware"), None)
        .await;
    assert_eq!(status, 200, "{body}");

    // Second run: NGTT reaches the server, the HTTP API is nowhere. Only a plan asked over
    // the NGTT connection can tell the device to delete its copy.
    let (tx, mut changes) = mpsc::unbounded_channel();
    let (second, _orders) = device_builder(&pki, id, Mode::Ngtt, server.addr, vacant_addr())
        .store_path(&store_path)
        .sync_sensors(false)
        .on_baob_changed(move |c| {
            let _ = tx.send(c);
        })
        .build()
        .expect("device");
    assert!(
        second.baob("firmware").unwrap().is_some(),
        "kept across the restart"
    );
    let change = tokio::time::timeout(WAIT, changes.recv())
        .await
        .expect("a BAOB change in time");
    assert_eq!(
        change,
        Some(BaobChange::Deleted {
            key: "firmware".into()
        })
    );
    wait_until("the copy deleted", || second.baob("firmware").unwrap().is_none()).await;
    second.close(Duration::from_secs(1)).await;
}
