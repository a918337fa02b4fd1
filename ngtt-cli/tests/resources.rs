//! The resource command families (`ngtt device-info`, `sensor`, `sensor-write`, `predicate`,
//! `event`, `instrumentation`) as real processes against a server's admin API.

use std::process::Output;

use ngtt_server::storage::events::EventReport;
use ngtt_server::storage::sensors::SensorWrite;
use ngtt_server::{Server, ServerConfig, ServerHandle, TlsPems};
use serde_json::{json, Value};

/// The admin token the test server is given (read by the CLI from `NGTT_ADMIN_TOKEN`).
const TOKEN: &str = "resources-test-token";

async fn ngtt(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_ngtt"))
        .args(args)
        .env("NGTT_ADMIN_TOKEN", TOKEN)
        .env_remove("NGTT_ADMIN_TOKEN_FILE")
        .output()
        .await
        .expect("run ngtt")
}

/// Runs `ngtt args... --admin URL`, expects success; its stdout lines as JSON.
async fn ok(admin: &str, args: &[&str]) -> Vec<Value> {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--admin", admin]);
    let out = ngtt(&all).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ngtt {all:?}: {:?}, stderr: {stderr}",
        out.status
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Runs it expecting exit status 1 with `needle` in the one stderr line.
async fn fails(admin: &str, args: &[&str], needle: &str) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--admin", admin]);
    let out = ngtt(&all).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "ngtt {all:?}: {stderr}");
    assert!(stderr.contains(needle), "{stderr:?} should contain {needle:?}");
}

async fn server(dir: &tempfile::TempDir) -> (String, ServerHandle, tokio::task::JoinHandle<()>) {
    let ca = ngtt_pki::Ca::generate("CLI test CA").expect("CA");
    let cert = ca.issue_server(&[]).expect("server cert");
    let tls = TlsPems {
        device_ca: ca.cert_pem().to_owned(),
        server_cert: cert.cert_pem,
        server_key: cert.key_pem,
    };
    let mut config = ServerConfig::new(tls, dir.path().join("ngtt.db"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    config.admin_token = Some(TOKEN.into());
    let server = Server::bind(config).await.expect("bind");
    let admin = format!("http://{}", server.admin_addr().expect("admin"));
    let handle = server.handle();
    let task = tokio::spawn(async move {
        server.run().await.expect("server runs");
    });
    (admin, handle, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (admin, handle, task) = server(&dir).await;
    let a = admin.as_str();

    // device-info and instrumentation.
    let info = r#"{"verbose_name": "Boiler room", "slave_devices": [{"device_id": "7", "configuration": "modbus"}]}"#;
    let set = ok(a, &["device-info", "set", "--device", "dev1", "--json", info]).await;
    assert_eq!(set[0]["slave_devices"][0]["master_controller"], "dev1");
    ok(
        a,
        &[
            "device-info",
            "patch",
            "--device",
            "dev1",
            "--json",
            r#"{"culture_context": {"language": "pl"}}"#,
        ],
    )
    .await;
    let got = ok(a, &["device-info", "get", "--device", "dev1"]).await;
    assert_eq!(
        (
            got[0]["verbose_name"].as_str(),
            got[0]["culture_context"]["language"].as_str()
        ),
        (Some("Boiler room"), Some("pl"))
    );
    fails(
        a,
        &[
            "device-info",
            "patch",
            "--device",
            "dev1",
            "--json",
            r#"{"facets": 1}"#,
        ],
        "facets",
    )
    .await;
    let set = ok(
        a,
        &[
            "instrumentation",
            "set",
            "--device",
            "dev1",
            "--slave",
            "7",
            "--linkstate",
            r#"{"status": false}"#,
            "--instrumentation",
            "CRC errors: 4",
        ],
    )
    .await;
    assert_eq!(set[0]["linkstate_parsed"], json!({"status": false}));
    let got = ok(a, &["instrumentation", "get", "--device", "dev1", "--slave", "7"]).await;
    assert_eq!(got[0]["instrumentation"], "CRC errors: 4");
    fails(
        a,
        &["instrumentation", "get", "--device", "dev1", "--slave", "8"],
        "no slave device",
    )
    .await;

    // sensors.
    ok(
        a,
        &[
            "sensor",
            "set",
            "--device",
            "dev1",
            "--fqts",
            "temp boiler",
            "--path",
            "W1",
            "--type",
            "std.Number10",
        ],
    )
    .await;
    ok(
        a,
        &[
            "sensor",
            "replace",
            "--device",
            "dev2",
            "--json",
            r#"[{"fqts": "x", "path": "u1", "type": "std.Unicode"}]"#,
        ],
    )
    .await;
    let list = ok(a, &["sensor", "list", "--device", "dev1"]).await;
    assert_eq!(
        list,
        [json!({"fqts": "boiler temp", "path": "W1", "type": "std.Number10"})]
    );
    assert_eq!(
        ok(a, &["sensor", "get", "--device", "dev1", "--fqts", "boiler temp"])
            .await
            .len(),
        1
    );
    fails(
        a,
        &[
            "sensor",
            "set",
            "--device",
            "dev1",
            "--fqts",
            "t",
            "--path",
            "W1",
            "--type",
            "x(os.system(1))",
        ],
        "key=number",
    )
    .await;
    ok(
        a,
        &["sensor", "delete", "--device", "dev1", "--fqts", "temp boiler"],
    )
    .await;
    assert!(ok(a, &["sensor", "list", "--device", "dev1"]).await.is_empty());

    // predicates, silencing.
    ok(
        a,
        &[
            "predicate",
            "set",
            "--device",
            "dev1",
            "--id",
            "p1",
            "--statistic",
            "temp.high",
            "--configuration",
            r#"{"max": 80}"#,
            "--group",
            "A",
        ],
    )
    .await;
    let silenced = ok(
        a,
        &[
            "predicate",
            "silence",
            "--device",
            "dev1",
            "--id",
            "p1",
            "--period",
            "1 08:00-5 16:30",
        ],
    )
    .await;
    assert_eq!(
        silenced[0]["silencing"][0]["stop"],
        json!({"day": 5, "hour": 16, "minute": 30})
    );
    fails(
        a,
        &[
            "predicate",
            "silence",
            "--device",
            "dev1",
            "--id",
            "p1",
            "--period",
            "7 22:00-1 06:00",
        ],
        "wrap-around",
    )
    .await;
    let off = ok(a, &["predicate", "offline", "--device", "dev1", "--id", "p1"]).await;
    assert_eq!(off[0]["online"], false);
    let none = ok(
        a,
        &["predicate", "silence", "--device", "dev1", "--id", "p1", "--none"],
    )
    .await;
    assert_eq!(none[0]["silencing"], json!([]));
    assert_eq!(ok(a, &["predicate", "list", "--device", "dev1"]).await.len(), 1);
    ok(a, &["predicate", "delete", "--device", "dev1", "--id", "p1"]).await;
    fails(
        a,
        &["predicate", "get", "--device", "dev1", "--id", "p1"],
        "no predicate",
    )
    .await;

    // events and the sensor write log, as a device would have reported them.
    let storage = handle.storage();
    let report = EventReport::from_json(&json!({"started_on": 1_796_062_739, "color": 2, "alarm_type": 0,
        "token": "t", "group": "B", "message": "too hot", "metadata": {}}))
    .unwrap();
    let uuid = storage.report_events("dev1", &[report]).unwrap().remove(0);
    let write = SensorWrite::from_json(
        &json!({"timestamp": 1_796_062_739_000_i64, "who": "op", "hr_sensor": "T",
        "hr_value": "21", "fqts": "temp", "value": "21", "reason": "r"}),
    )
    .unwrap();
    storage.store_sensor_writes("dev1", &[write]).unwrap();
    let open = ok(a, &["event", "list", "--device", "dev1", "--state", "open"]).await;
    assert_eq!(open[0]["uuid"], uuid.as_str());
    let closed = ok(
        a,
        &[
            "event",
            "close",
            "--device",
            "dev1",
            "--uuid",
            &uuid,
            "--handled-by",
            "operator",
        ],
    )
    .await;
    assert_eq!(
        (closed[0]["closed_by"].as_str(), closed[0]["handled_by"].as_str()),
        (Some("admin"), Some("operator"))
    );
    assert!(ok(a, &["event", "list", "--device", "dev1", "--state", "open"])
        .await
        .is_empty());
    assert_eq!(
        ok(a, &["event", "get", "--device", "dev1", "--uuid", &uuid]).await[0]["open"],
        false
    );
    fails(
        a,
        &["event", "list", "--device", "dev1", "--state", "maybe"],
        "unknown state",
    )
    .await;
    let writes = ok(a, &["sensor-write", "list", "--device", "dev1", "--limit", "5"]).await;
    assert_eq!((writes.len(), writes[0]["who"].as_str()), (1, Some("op")));

    // Every family's help has examples.
    for family in [
        "device-info",
        "sensor",
        "sensor-write",
        "predicate",
        "event",
        "instrumentation",
    ] {
        let out = ngtt(&[family, "--help"]).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("Examples:"),
            "{family}: {text}"
        );
    }
    handle.shutdown();
    task.await.unwrap();
}
