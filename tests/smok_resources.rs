//! `smok-client`'s BAOBs, plain metadata, archives and slave devices against a real server
//! (in-process, the same code as `ngtt serve`), over real sockets and TLS, in both modes:
//! changes made on the server (admin API) reach the device — archive settings too, while it
//! runs — and changes made on the device reach the server; a BAOB written before a restart is
//! uploaded once after it.
//! Malformed answers for these resources are in `smok_hostile_resources.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ngtt_proto::payload::{Advise, PathpointValue, ReadError};
use ngtt_testkit::baob::admin_put_baob;
use ngtt_testkit::smok::{any_port, device_builder, start_server, vacant_addr, Mode};
use ngtt_testkit::{both_modes, init_logging, wait_until, TestPki, TestServer, WAIT};
use reqwest::Method;
use serde_json::{json, Value};
use smok_client::baob::BaobChange;
use smok_client::pathpoint::{Pathpoint, PathpointIo};
use smok_client::store::SqliteStore;
use smok_client::{SlaveLinkState, SmokDevice};
use tokio::sync::mpsc;
use tokio::time::timeout;

both_modes!(
    baobs_both_ways,
    metadata_both_ways,
    archives_read_at_their_intervals,
    slaves_read_and_patched,
    pending_baob_upload_survives_a_restart,
);

async fn server(pki: &TestPki) -> TestServer {
    start_server(pki, pki.dir().join("ngtt.db"), any_port(), any_port()).await
}

/// Polls the admin API at `path` until `done` holds for the answer, failing after [`WAIT`].
async fn until_admin(
    server: &TestServer,
    path: &str,
    what: &str,
    done: impl Fn(u16, &Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = server.get(path).await;
        if done(status, &body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn next_change(changes: &mut mpsc::UnboundedReceiver<BaobChange>) -> BaobChange {
    timeout(WAIT, changes.recv())
        .await
        .expect("a BAOB change in time")
        .expect("open")
}

async fn baobs_both_ways(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = server(&pki).await;
    let id = "baob-dev";
    let (tx, mut changes) = mpsc::unbounded_channel();
    let (device, orders) = device_builder(&pki, id, mode, server.addr, server.http_addr())
        .on_baob_changed(move |change| {
            let _ = tx.send(change);
        })
        .build()
        .expect("device");
    device.spawn_order_executor(orders);

    // The device creates a BAOB: uploaded at version 0.
    assert_eq!(device.set_baob("settings", b"{\"max\":70}").unwrap(), 0);
    let path = format!("/v1/devices/{id}/baobs");
    until_admin(&server, &path, "the device's BAOB on the server", |_, list| {
        list.as_array()
            .is_some_and(|l| l.iter().any(|b| b["key"] == "settings" && b["version"] == 0))
    })
    .await;

    // An operator changes it: a sysctl baob-updated order makes the device fetch it at once.
    let (status, _) = admin_put_baob(&server, id, "settings", b"{\"max\":80}".to_vec(), "").await;
    assert_eq!(status, 200);
    let (status, _) = admin_put_baob(&server, id, "firmware", b"v2".to_vec(), "").await;
    assert!(status == 200 || status == 201, "{status}");
    server
        .queue(
            id,
            json!([{"orders": [{"type": "sysctl", "op_type": "baob-updated", "op_args": ""}]}]),
        )
        .await;
    let mut seen = vec![next_change(&mut changes).await, next_change(&mut changes).await];
    seen.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        seen,
        [
            BaobChange::Updated {
                key: "firmware".into(),
                version: 0
            },
            BaobChange::Updated {
                key: "settings".into(),
                version: 1
            },
        ]
    );
    assert_eq!(device.baob("settings").unwrap().unwrap().data, b"{\"max\":80}");

    // The device writes again: version 2 reaches the server.
    assert_eq!(device.set_baob("settings", b"{\"max\":90}").unwrap(), 2);
    until_admin(&server, &path, "version 2 on the server", |_, list| {
        list.as_array()
            .is_some_and(|l| l.iter().any(|b| b["key"] == "settings" && b["version"] == 2))
    })
    .await;

    // Deleted on the server: deleted on the device at its next round.
    let (status, _) = server
        .admin(Method::DELETE, &format!("{path}/firmware"), None)
        .await;
    assert_eq!(status, 200);
    device.sync_baobs();
    assert_eq!(
        next_change(&mut changes).await,
        BaobChange::Deleted {
            key: "firmware".into()
        }
    );
    assert!(device.baob("firmware").unwrap().is_none());
    // And a sysctl baob-deleted deletes locally without asking anyone.
    server
        .queue(
            id,
            json!([{"orders": [{"type": "sysctl", "op_type": "baob-deleted", "op_args": "settings"}]}]),
        )
        .await;
    assert_eq!(
        next_change(&mut changes).await,
        BaobChange::Deleted {
            key: "settings".into()
        }
    );
    assert!(device.set_baob("bad key", b"x").is_err());
    device.close(Duration::from_secs(2)).await;
}

async fn metadata_both_ways(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = server(&pki).await;
    let id = "meta-dev";
    let (device, _orders) = device_builder(&pki, id, mode, server.addr, server.http_addr())
        .metadata_cache_for(Duration::ZERO)
        .build()
        .expect("device");
    let key = "key with space/slash+plus";
    let admin_key = format!(
        "/v1/devices/{id}/metadata/{}",
        "key%20with%20space%2Fslash%2Bplus"
    );

    assert_eq!(device.metadata(key).await.unwrap(), None);
    // Set on the server: read by the device.
    let (status, _) = server
        .admin(
            Method::PUT,
            &admin_key,
            Some(json!({"value": "from the operator"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        device.metadata(key).await.unwrap().as_deref(),
        Some("from the operator")
    );
    // Set on the device: on the server.
    device.set_metadata(key, "from the device").await.unwrap();
    let (status, entry) = server.get(&admin_key).await;
    assert_eq!(
        (status, entry["value"].as_str()),
        (200, Some("from the device")),
        "{entry}"
    );
    // Deleted on the device: gone from the server (the published client never sends it).
    device.delete_metadata(key).await.unwrap();
    let (status, _) = server.get(&admin_key).await;
    assert_eq!(status, 404);
    assert_eq!(device.metadata(key).await.unwrap(), None);
    // Setting the empty string deletes too; deleting a missing key is fine.
    device.set_metadata("k2", "x").await.unwrap();
    device.set_metadata("k2", "").await.unwrap();
    assert_eq!(server.get(&format!("/v1/devices/{id}/metadata/k2")).await.0, 404);
    device.delete_metadata("k2").await.unwrap();
    device.close(Duration::from_secs(2)).await;
}

/// Counts reads per path.
#[derive(Default)]
struct Reads(Mutex<HashMap<String, u32>>);

impl Reads {
    fn of(&self, path: &str) -> u32 {
        self.0.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

struct Counted(Arc<Reads>);

impl PathpointIo for Counted {
    async fn read(&self, path: &str, _advise: Advise) -> Result<PathpointValue, ReadError> {
        let mut reads = self.0 .0.lock().unwrap();
        let n = reads.entry(path.to_owned()).or_default();
        *n += 1;
        Ok(PathpointValue::Int(i64::from(*n)))
    }
    async fn write(&self, _path: &str, _value: PathpointValue, _advise: Advise) -> Result<(), ReadError> {
        Ok(())
    }
}

async fn archives_read_at_their_intervals(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = server(&pki).await;
    let id = "arch-dev";
    let (status, body) = server
        .admin(
            Method::PUT,
            &format!("/v1/devices/{id}/archives"),
            Some(json!([{"interval": 1, "pathpoints": ["W1"]}, {"interval": 3600, "pathpoints": ["W2"]}])),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let reads = Arc::new(Reads::default());
    let (device, _orders) = device_builder(&pki, id, mode, server.addr, server.http_addr())
        .archive_refresh_interval(Duration::from_millis(200))
        .build()
        .expect("device");
    for path in ["W1", "W2"] {
        device
            .register_pathpoint(Pathpoint::new(path, Counted(reads.clone())))
            .unwrap();
    }
    // W1 every second; W2, every hour, once. Seconds taken for milliseconds would read W2
    // again at once, and milliseconds for seconds would not read W1 again for 17 minutes.
    let deadline = tokio::time::Instant::now() + WAIT;
    while reads.of("W1") < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "W1 read {} times",
            reads.of("W1")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reads.of("W2"), 1);
    server
        .until("the archived values on the server", |s| s.stored_samples(id) >= 4)
        .await;

    // Changed on the server: W2 every second too, from the next refresh of the settings.
    let (status, body) = server
        .admin(
            Method::PUT,
            &format!("/v1/devices/{id}/archives"),
            Some(json!([{"interval": 1, "pathpoints": ["W1", "W2"]}])),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_until("W2 read every second", || reads.of("W2") >= 3).await;
    device.close(Duration::from_secs(2)).await;
}

async fn slaves_read_and_patched(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = server(&pki).await;
    let id = "master-dev";
    let (status, body) = server
        .admin(
            Method::PATCH,
            &format!("/v1/devices/{id}/info"),
            Some(json!({"culture_context": {"timezone": "Europe/Warsaw"}, "slave_devices": [{"device_id": "s1", "master_controller": "m", "responsible_service": "rapid", "configuration": "modbus 9600 8n1"}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (device, _orders) = device_builder(&pki, id, mode, server.addr, server.http_addr())
        .build()
        .expect("device");
    // The device's local time is in its culture context's zone.
    assert_eq!(device.timezone().await.unwrap(), "Europe/Warsaw");
    let local = device.local_time().await.unwrap();
    let expected = smok_client::local_time::offset_at("Europe/Warsaw", std::time::SystemTime::now()).unwrap();
    assert_eq!(local.offset(), expected);
    assert_ne!(local.offset().seconds(), 0);

    let slaves = device.slaves().await.unwrap();
    assert_eq!(slaves.len(), 1);
    let slave = &slaves[0];
    assert_eq!(slave.id(), "s1");
    let fresh = slave.instrumentation().await.unwrap();
    assert_eq!(fresh.linkstate, None, "{{}} until set: no status");

    // Patched on the device: on the server.
    let down = SlaveLinkState {
        status: false,
        failed_devices: vec![3],
    };
    slave.set_linkstate(&down).await.unwrap();
    slave.set_instrumentation("bus errors: 12").await.unwrap();
    let admin = format!("/v1/devices/{id}/slaves/s1/instrumentation");
    let (_, on_server) = server.get(&admin).await;
    assert_eq!(on_server["instrumentation"], "bus errors: 12", "{on_server}");
    // Changed on the server: read by the device.
    let (status, _) = server
        .admin(
            Method::PATCH,
            &admin,
            Some(json!({"linkstate": {"status": true}})),
        )
        .await;
    assert_eq!(status, 200);
    let now = slave.instrumentation().await.unwrap();
    assert_eq!(
        now.linkstate,
        Some(SlaveLinkState {
            status: true,
            failed_devices: vec![]
        })
    );
    assert_eq!(now.instrumentation, "bus errors: 12");
    device.close(Duration::from_secs(2)).await;
}

async fn pending_baob_upload_survives_a_restart(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let id = "restart-dev";
    let store_path = pki.dir().join("device.db");
    let (ngtt, http) = (vacant_addr(), vacant_addr());
    // No server yet: the write waits in the store.
    let start = |pki: &TestPki| {
        let store = Arc::new(SqliteStore::open(&store_path).expect("store"));
        let (tx, rx) = mpsc::unbounded_channel();
        let (device, _orders) = device_builder(pki, id, mode, ngtt, http)
            .store(store)
            .on_baob_changed(move |c| {
                let _ = tx.send(c);
            })
            .build()
            .expect("device");
        (device, rx)
    };
    let (device, _) = start(&pki);
    assert_eq!(device.set_baob("firmware", b"settings v1").unwrap(), 0);
    assert_eq!(device.set_baob("firmware", b"settings v2").unwrap(), 1);
    device.close(Duration::from_millis(200)).await;

    let server = start_server(&pki, pki.dir().join("ngtt.db"), ngtt, http).await;
    let (device, mut changes): (SmokDevice, _) = start(&pki);
    let path = format!("/v1/devices/{id}/baobs");
    until_admin(&server, &path, "the pending BAOB on the server", |_, list| {
        list.as_array()
            .is_some_and(|l| l.iter().any(|b| b["key"] == "firmware" && b["version"] == 1))
    })
    .await;
    // More rounds change nothing: no second upload, nothing downloaded back.
    let mut rounds = device.watch_baob_rounds();
    let before = *rounds.borrow_and_update();
    device.sync_baobs();
    timeout(WAIT, rounds.wait_for(|n| *n > before))
        .await
        .expect("a round")
        .unwrap();
    let (_, list) = server.get(&path).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["version"], 1);
    assert_eq!(list[0]["updated_by"], "device");
    let response = server
        .admin_client()
        .get(format!("{}{path}/firmware", server.admin_url()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    assert_eq!((status, &bytes[..]), (200, &b"settings v2"[..]));
    assert!(changes.try_recv().is_err(), "nothing came back from the server");
    device.close(Duration::from_secs(2)).await;
}
