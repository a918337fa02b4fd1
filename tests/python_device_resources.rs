//! The published Python client (`smok` 0.21.0, `SMOKDevice`) against our device HTTP API, one
//! test per resource of HTTP-API.md §7.10-7.13, each driving the client's own sync methods
//! (`tests/python/device_b.py`): a BAOB updated on the server reaches the device and one created
//! on the device reaches the server with its version; metadata set on either side is read on the
//! other; a macro's occurrence is executed and marked completed; archived pathpoints are read and
//! their values uploaded.
//!
//! The server serves plain HTTP and trusts `X-SSL-Client-Certificate` (HTTP-API.md §2.1,
//! environment 2), which is how the client identifies itself with a development certificate.
//! Skipped without the client unless `NGTT_REQUIRE_PYTHON_CLIENT=1`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ngtt_proto::payload::{PathpointValue, Sample};
use ngtt_server::storage::baob::{BaobCommit, BaobWrite, VersionRule, Writer};
use ngtt_server::storage::macros::{CommandValue, MacroCommand, MacroRecord, Occurrence};
use ngtt_server::storage::metadata::MetadataWrite;
use ngtt_server::storage::{archives::ArchiveEntry, SeriesQuery};
use ngtt_server::Storage;
use ngtt_testkit::python_device::run_script;
use ngtt_testkit::{init_logging, TestServer};
use ngtt_testkit::{smok_client_installed, TestPki};

const DEVICE: &str = "py-res";

struct Setup {
    pki: TestPki,
    server: TestServer,
}

impl Setup {
    async fn start() -> Setup {
        init_logging();
        let pki = TestPki::new();
        pki.device(DEVICE);
        let server = TestServer::start(&pki, pki.scratch("ngtt.db"), |c| {
            c.http_listen = Some("127.0.0.1:0".parse().unwrap());
            c.http_plain = true;
            c.trust_proxy_header = true;
        })
        .await;
        Setup { pki, server }
    }

    fn storage(&self) -> Arc<dyn Storage> {
        self.server.handle.storage()
    }

    /// Runs `device_b.py` for `scenario`; returns the JSON lines it printed.
    async fn python(&self, scenario: &str) -> Vec<serde_json::Value> {
        let (cert, key) = self.pki.device_files(DEVICE);
        let workdir = self.pki.scratch(&format!("py-{scenario}"));
        std::fs::create_dir_all(workdir.join("tests")).unwrap();
        std::fs::copy(&cert, workdir.join("tests/dev.testing.crt")).unwrap();
        let base = format!("http://{}", self.server.http_addr());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/device_b.py");
        let args = [
            base.as_str(),
            workdir.to_str().unwrap(),
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            scenario,
        ];
        run_script(Path::new(script), &args, Duration::from_secs(60)).await
    }
}

fn now_s() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baobs_reach_the_device_and_the_server() {
    if !smok_client_installed() {
        return;
    }
    let setup = Setup::start().await;
    let storage = setup.storage();
    let put = |key: &str, rule, tail: &[u8]| {
        let commit = BaobCommit {
            key,
            rule,
            by: Writer::Admin,
            staged: None,
            tail,
            max_keys: 100,
        };
        storage.commit_baob(DEVICE, &commit)
    };
    assert_eq!(
        put("srv", VersionRule::Exactly(5), b"from-server").unwrap(),
        BaobWrite::Stored(5)
    );
    assert_eq!(
        put("gone", VersionRule::Exactly(1), b"x").unwrap(),
        BaobWrite::Stored(1)
    );
    assert_eq!(
        storage.delete_baob(DEVICE, "gone", Writer::Admin).unwrap(),
        Some(1)
    );

    let lines = setup.python("baobs").await;
    assert_eq!(lines[0]["srv_version"], 5, "{lines:?}");
    assert_eq!(lines[0]["gone"], -1, "{lines:?}");
    assert_eq!(lines[0]["loaded"], true);
    assert_eq!(lines[1]["mine"], 1, "{lines:?}");

    // Created on the device, then written again: on the server with the device's version.
    let mine = storage.baob(DEVICE, "mine").unwrap().expect("uploaded");
    assert_eq!(
        (mine.version, mine.updated_by, mine.deleted),
        (1, Writer::Device, false)
    );
    let content = storage.read_baob_chunk(DEVICE, mine.content.unwrap(), 0).unwrap();
    assert_eq!(content.as_deref(), Some(&b"from-device, again"[..]));
    setup.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_read_on_the_other_side() {
    if !smok_client_installed() {
        return;
    }
    let setup = Setup::start().await;
    let storage = setup.storage();
    let write = MetadataWrite {
        key: "from server",
        value: "server value",
        timestamp: now_s(),
        unless_higher: false,
        by: Writer::Admin,
    };
    assert!(storage.put_metadata(DEVICE, &write).unwrap());
    let lines = setup.python("metadata").await;
    assert_eq!(lines[0]["read"], "server value");
    let entry = storage
        .metadata(DEVICE, "from device/with slash")
        .unwrap()
        .expect("sent");
    assert_eq!(
        (entry.value.as_str(), entry.updated_by),
        ("device value", Writer::Device)
    );
    // The client's single-precision clock: within a few minutes of ours.
    assert!((entry.timestamp - now_s()).abs() < 300.0, "{}", entry.timestamp);
    setup.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_macro_occurrence_is_executed_and_marked_completed() {
    if !smok_client_installed() {
        return;
    }
    let setup = Setup::start().await;
    let storage = setup.storage();
    let (due, later) = (now_s() - 60.0, now_s() + 3000.0);
    let occurrence = |timestamp| Occurrence {
        timestamp,
        completed: false,
        completed_at_ms: None,
    };
    let record = MacroRecord {
        macro_id: "m1".into(),
        commands: vec![
            MacroCommand {
                path: "W1".into(),
                value: CommandValue::Int(7),
            },
            MacroCommand {
                path: "u2".into(),
                value: CommandValue::Text("on".into()),
            },
        ],
        occurrences: vec![occurrence(due), occurrence(later)],
    };
    assert_eq!(storage.put_macro(DEVICE, &record, 10).unwrap(), Some(true));
    let lines = setup.python("macros").await;
    assert_eq!(lines[0]["writes"].as_array().unwrap().len(), 2, "{lines:?}");
    assert_eq!(
        lines[0]["pending"],
        serde_json::json!([]),
        "the report was delivered"
    );
    let stored = storage.macro_record(DEVICE, "m1").unwrap().unwrap();
    assert!(stored.occurrences[0].completed, "{stored:?}");
    assert!(!stored.occurrences[1].completed, "{stored:?}");
    setup.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_pathpoints_are_read_and_uploaded() {
    if !smok_client_installed() {
        return;
    }
    let setup = Setup::start().await;
    let storage = setup.storage();
    let entries = [ArchiveEntry {
        interval: 60,
        pathpoints: vec!["W5".into(), "f6".into()],
    }];
    storage.set_archives(DEVICE, &entries).unwrap();
    let lines = setup.python("archives").await;
    assert_eq!(
        lines[0]["values"],
        serde_json::json!({"W5": 42, "f6": 2.5}),
        "{lines:?}"
    );
    let series = storage
        .read_series(
            DEVICE,
            &SeriesQuery {
                path: None,
                from_ms: None,
                to_ms: None,
                limit: 100,
            },
        )
        .unwrap();
    let values: Vec<(String, PathpointValue)> = series
        .iter()
        .flat_map(|s| {
            s.values.iter().filter_map(|sample| match sample {
                Sample::Value { value, .. } => Some((s.path.clone(), value.clone())),
                Sample::Error { .. } => None,
            })
        })
        .collect();
    assert_eq!(
        values,
        [
            ("W5".to_owned(), PathpointValue::Int(42)),
            ("f6".to_owned(), PathpointValue::Float(2.5))
        ]
    );
    setup.server.stop().await;
}
