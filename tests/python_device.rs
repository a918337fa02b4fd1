//! The published Python client (`smok` 0.21.0, `SMOKDevice`) boots against `ngtt serve` and
//! becomes ready, then uses the resources of issue 8 (part A) through its own public methods
//! (`tests/python/device_resources.py`): device information, the sensors the admin API
//! created, a server-configured predicate whose event reaches the server and is closed, slave
//! instrumentation patched, a sensor write logged. The server side is checked through the
//! admin API.
//!
//! Needs `python3` with `smok==0.21.0` (`.ci/run` installs it); skipped without it unless
//! `NGTT_REQUIRE_PYTHON_CLIENT=1`.

use std::time::Duration;

use ngtt_testkit::python_device::{run_script, PlainHttpServe};
use ngtt_testkit::smok_client_installed;
use ngtt_testkit::TestPki;
use reqwest::Method;
use serde_json::{json, Value};

async fn admin(serve: &PlainHttpServe, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, serve.admin_url(path))
        .bearer_auth(&serve.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("admin API answers");
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON answer");
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

fn step<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["event"] == name)
        .unwrap_or_else(|| panic!("no {name:?} step in {lines:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_client_boots_and_uses_the_device_resources() {
    if !smok_client_installed() {
        return;
    }
    let pki = TestPki::new();
    pki.device("py-dev");
    let serve = PlainHttpServe::start(pki.dir(), &pki.scratch("ngtt.db")).await;

    admin(&serve, Method::PUT, "/v1/devices/py-dev/info", Some(json!({
        "verbose_name": "Boiler room", "facets": ["smoke", "heating"],
        "culture_context": {"language": "pl", "timezone": "Europe/Warsaw", "units": "metric"},
        "slave_devices": [{"device_id": "7", "responsible_service": "rapid", "configuration": "modbus 9600 8n1"}]})))
    .await;
    admin(
        &serve,
        Method::PUT,
        "/v1/devices/py-dev/sensors",
        Some(json!([
        {"fqts": "temp boiler", "path": "W1", "type": "std.Number10"},
        {"fqts": "name", "path": "u2~u3", "type": "std.Unicode"}])),
    )
    .await;
    admin(
        &serve,
        Method::PUT,
        "/v1/devices/py-dev/predicates/p1",
        Some(json!({
        "statistic": "test.raise_then_close", "configuration": {"limit": 80}, "verbose_name": "Boiler",
        "silencing": []})),
    )
    .await;

    admin(
        &serve,
        Method::PUT,
        "/v1/devices/py-dev/predicates/p2",
        Some(json!({"statistic": "unknown.to.the.device", "silencing": [
            {"start": {"day": 1, "hour": 8, "minute": 0}, "stop": {"day": 5, "hour": 16, "minute": 30}}]})),
    )
    .await;
    admin(
        &serve,
        Method::PUT,
        "/v1/devices/py-dev/predicates/p3",
        Some(json!({"statistic": "test.raise_then_close", "online": false})),
    )
    .await;

    let (cert, key) = pki.device_files("py-dev");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/device_resources.py");
    let base = serve.base_url();
    let lines = run_script(
        script.as_ref(),
        &[&base, cert.to_str().unwrap(), key.to_str().unwrap(), "7"],
        Duration::from_secs(120),
    )
    .await;
    assert!(lines.iter().any(|l| l["event"] == "done"), "{lines:#?}");

    let ready = step(&lines, "ready");
    eprintln!(
        "the published client became ready {} s after construction, {} s after its script started \
         (first sync driven: {})",
        ready["seconds"], ready["since_start"], ready["driven"]
    );

    let info = step(&lines, "info");
    assert_eq!(info["verbose_name"], "Boiler room");
    assert_eq!(info["facets"], json!(["heating", "smoke"]));
    assert_eq!(
        (info["language"].as_str(), info["timezone"].as_str()),
        (Some("pl"), Some("Europe/Warsaw"))
    );
    assert_eq!(
        info["slaves"],
        json!([{"device_id": "7", "configuration": "modbus 9600 8n1", "master_controller": "py-dev",
                "responsible_service": "rapid"}])
    );

    // Its sensors are the ones the admin API created.
    assert_eq!(
        step(&lines, "sensors")["sensors"],
        json!([{"fqts": "boiler temp", "path": "W1", "type": "std.Number10"},
               {"fqts": "name", "path": "u2~u3", "type": "std.Unicode"}])
    );
    assert_eq!(step(&lines, "pathpoints")["paths"], json!(["W1", "u2", "u3"]));

    // Offline predicates are not instantiated; silencing periods arrive as the client's own.
    let predicates = step(&lines, "predicates");
    assert_eq!(predicates["ids"], json!(["p1", "p2"]));
    assert_eq!(predicates["silencing"]["p2"], json!([[[1, 8, 0], [5, 16, 30]]]));
    assert_eq!(predicates["silencing"]["p1"], json!([]));

    // The predicate's event reached the server, with the server's uuid, and was closed there.
    let uuid = step(&lines, "opened")["uuid"].as_str().expect("uuid").to_owned();
    assert_eq!(step(&lines, "closed")["uuid"], uuid.as_str());
    let event = admin(
        &serve,
        Method::GET,
        &format!("/v1/devices/py-dev/events/{uuid}"),
        None,
    )
    .await;
    assert_eq!(event["message"], "Boiler: limit 80 exceeded");
    assert_eq!(event["metadata"], json!({"predicate_id": "p1"}));
    assert_eq!(
        (event["color"].as_i64(), event["token"].as_str()),
        (Some(2), Some("test.raise_then_close"))
    );
    assert_eq!(
        (event["open"].as_bool(), event["closed_by"].as_str()),
        (Some(false), Some("device")),
        "{event}"
    );
    let events = admin(&serve, Method::GET, "/v1/devices/py-dev/events", None).await;
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(1),
        "one event, however often it was sent: {events}"
    );

    // Instrumentation of the slave device was patched.
    assert_eq!(step(&lines, "linkstate_before")["linkstate"], json!({}));
    let seen = step(&lines, "instrumentation");
    assert_eq!(seen["linkstate"], json!({"status": false, "failed_devices": [3]}));
    assert_eq!(seen["instrumentation"], "CRC errors: 4");
    let stored = admin(
        &serve,
        Method::GET,
        "/v1/devices/py-dev/slaves/7/instrumentation",
        None,
    )
    .await;
    assert_eq!(
        stored["linkstate_parsed"],
        json!({"status": false, "failed_devices": [3]})
    );
    assert_eq!(stored["instrumentation"], "CRC errors: 4");

    // The sensor write was logged.
    let write = step(&lines, "sensor_write");
    let log = admin(&serve, Method::GET, "/v1/devices/py-dev/sensor-writes", None).await;
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
    assert_eq!(log[0]["timestamp"], write["timestamp"]);
    assert_eq!(
        (log[0]["fqts"].as_str(), log[0]["who"].as_str()),
        (Some("boiler temp"), Some("harness"))
    );
    assert_eq!(
        (log[0]["value"].as_str(), log[0]["reason"].as_str()),
        (Some("215"), Some("set by the test"))
    );
    serve.stop().await;
}
