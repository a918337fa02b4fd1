//! `smok-client`'s `SmokDevice` against a real server, over real sockets and real TLS, in both
//! modes: NGTT (`use_ngtt(true)`) and HTTP polling. The server runs in-process with its device
//! HTTP API on (what `ngtt serve` runs); the last test runs the `ngtt serve` binary itself.
//! Errors, retries, lost links and reconnects are in `smok_client_faults.rs`.
//!
//! The log layer ignores events of the `smok_client` module tree — which is this test crate's
//! name too — so the events logged here name their target explicitly.

use std::sync::Mutex;
use std::time::Duration;

use ngtt_proto::payload::{Level, LogRecord};
use ngtt_server::storage::{AnsweredVia, SeriesQuery};
use ngtt_server::OrderState;
use ngtt_testkit::smok::{
    any_port, device_builder, next_order, start_server, ten_samples, until_link, Mode, T0,
};
use ngtt_testkit::{both_modes, TestPki};
use ngtt_testkit::{cli, init_logging, read_order, WAIT};
use serde_json::{json, Value};
use smok_client::executor::{Answered, Executor, HandlerResult, OrderHandler, Verdict};
use smok_client::orders::{MessageOrder, PathpointValue, ReadOrder, WriteOrder};
use smok_client::{PathpointRegistration, SmokDevice, StorageLevel};
use tokio::time::{sleep, timeout};
use tracing_subscriber::prelude::*;

both_modes!(
    orders_are_executed_and_acknowledged,
    uploads_and_logs_are_stored,
    settings_registrations_and_messages,
);

/// An application: records what it was asked to do, reports message orders over HTTP.
struct Recorder {
    device: SmokDevice,
    done: Mutex<Vec<String>>,
}

impl Recorder {
    fn note(&self, what: String) {
        self.done.lock().unwrap().push(what);
    }
}

impl OrderHandler for Recorder {
    async fn read(&self, order: &ReadOrder) -> HandlerResult {
        self.note(format!("read {}", order.path));
        Ok(())
    }
    async fn write(&self, order: &WriteOrder, value: PathpointValue) -> HandlerResult {
        self.note(format!("write {} {value:?}", order.path));
        Ok(())
    }
    async fn message(&self, order: &MessageOrder) -> HandlerResult {
        self.device.report_message(&order.uuid).await?;
        self.note(format!("message {}", order.uuid));
        Ok(())
    }
}

async fn orders_are_executed_and_acknowledged(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = start_server(&pki, pki.scratch("db"), any_port(), any_port()).await;
    let sections = json!([
        {"orders": [{"type": "write", "path": "w1", "value": -40000}, {"type": "read", "path": "w1"}]},
        {"orders": [{"type": "message", "uuid": "m-1"}], "disposition": 1},
    ]);
    let id = server.queue("dev", sections).await;
    let (device, mut orders) = device_builder(&pki, "dev", mode, server.addr, server.http_addr())
        .build()
        .unwrap();
    let order = next_order(&mut orders).await;
    assert_eq!((order.via(), order.sections().len()), (mode.via(), 2));

    // The difference between the modes: NGTT keeps the order until it is answered, the HTTP
    // API counted it as confirmed when it handed it out (before anything ran).
    let record = server.handle.storage().order(id).unwrap().unwrap();
    match mode {
        Mode::Ngtt => {
            sleep(Duration::from_millis(100)).await;
            assert_eq!(server.state(id), OrderState::Sent, "not acknowledged yet");
        }
        Mode::Http => {
            assert_eq!(record.state, OrderState::Confirmed, "confirmed at hand-out");
            assert_eq!(record.answered_via, Some(AnsweredVia::Http));
        }
    }

    let executor = Executor::new(Recorder {
        device: device.clone(),
        done: Mutex::default(),
    });
    let done = executor.execute(order).await;
    assert_eq!(done.report.executed, 3, "{}", done.report);
    assert_eq!(
        *executor.handler().done.lock().unwrap(),
        ["write w1 Int(-32768)", "read w1", "message m-1"]
    );
    match mode {
        Mode::Ngtt => {
            assert_eq!(done.answered.unwrap(), Answered::Sent(Verdict::Confirm));
            server
                .until("the ORDER_CONFIRM", |s| s.state(id) == OrderState::Confirmed)
                .await;
            let record = server.handle.storage().order(id).unwrap().unwrap();
            assert_eq!(record.answered_via, Some(AnsweredVia::Ngtt));
        }
        Mode::Http => assert_eq!(done.answered.unwrap(), Answered::NotNeeded),
    }
    let messages = server.handle.storage().list_messages("dev", 10).unwrap();
    assert_eq!(
        messages.iter().map(|m| m.uuid.as_str()).collect::<Vec<_>>(),
        ["m-1"]
    );
    device.close(Duration::from_secs(2)).await;
    server.stop().await;
}

async fn uploads_and_logs_are_stored(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = start_server(&pki, pki.scratch("db"), any_port(), any_port()).await;
    let (device, _orders) = device_builder(&pki, "dev", mode, server.addr, server.http_addr())
        .fetch_orders(false)
        .build()
        .unwrap();
    timeout(WAIT, device.sync_pathpoints(ten_samples("W1r4002")))
        .await
        .expect("uploaded in time")
        .expect("stored");
    // Resolved means stored: readable at once.
    let stored = server
        .handle
        .storage()
        .read_series("dev", &SeriesQuery::default())
        .unwrap();
    assert_eq!(stored, ten_samples("W1r4002"));

    device.send_logs([LogRecord::new(
        "boiler",
        T0 * 1000,
        Level::WARNING,
        "pressure high",
    )]);
    let subscriber = tracing_subscriber::registry().with(device.log_layer());
    let failure = Failure(
        "ignition failed",
        Some(Box::new(Failure(
            "no spark",
            Some(Box::new(Failure("coil open", None))),
        ))),
    );
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!(target: "burner", code = 7, "flame lost");
        tracing::debug!(target: "burner", "below the layer's minimum level");
        tracing::error!(target: "burner", error = &failure as &(dyn std::error::Error + 'static), "restart refused");
    });
    server
        .until("the log records", |s| {
            s.handle.storage().read_logs("dev", 10).unwrap().len() >= 3
        })
        .await;
    let stored = server.handle.storage().read_logs("dev", 10).unwrap();
    let logs: Vec<_> = stored
        .iter()
        .map(|l| (l.service.as_str(), l.level, l.message.as_str()))
        .collect();
    assert_eq!(
        logs,
        [
            ("boiler", 30, "pressure high"),
            ("burner", 40, "flame lost code=7"),
            ("burner", 40, "restart refused error=ignition failed"),
        ]
    );
    // The error with two causes: its chain as exception_text, one traceback frame per cause.
    assert_eq!(
        (
            stored[1].exception_text.as_ref(),
            stored[1].exception_traceback.as_ref()
        ),
        (None, None)
    );
    assert_eq!(
        stored[2].exception_text.as_deref(),
        Some("ignition failed\n\nCaused by:\n    0: no spark\n    1: coil open")
    );
    let traceback =
        ngtt_proto::payload::decode_traceback(stored[2].exception_traceback.as_deref().unwrap(), 1 << 20)
            .unwrap();
    let traceback: Value = serde_json::from_str(&traceback).unwrap();
    let frames: Vec<&str> = traceback["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(frames, ["coil open", "no spark", "ignition failed"]);
    assert_eq!(
        traceback["formatted_traceback"],
        stored[2].exception_text.as_deref().unwrap()
    );
    assert_eq!(device.logs_dropped(), 0);
    device.close(Duration::from_secs(2)).await;
    server.stop().await;
}

/// An error with an optional cause.
#[derive(Debug)]
struct Failure(&'static str, Option<Box<Failure>>);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.1.as_deref().map(|e| e as _)
    }
}

async fn settings_registrations_and_messages(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = start_server(&pki, pki.scratch("db"), any_port(), any_port()).await;
    let (device, _orders) = device_builder(&pki, "dev", mode, server.addr, server.http_addr())
        .build()
        .unwrap();
    let info = device.device_info().await.unwrap();
    assert_eq!(
        (info.device_id.as_str(), info.verbose_name.as_str()),
        ("dev", "dev")
    );
    assert_eq!(info.culture_context, smok_http::CultureContext::default());
    assert!(info.facets.is_empty() && info.slave_devices.is_empty());

    let settings = json!({
        "verbose_name": "Boiler room",
        "facets": ["modbus"],
        "culture_context": {"timezone": "Europe/Warsaw"},
    });
    let mut stored = ngtt_server::storage::device_info::DeviceInfo::default();
    stored.apply("dev", &settings).unwrap();
    server.handle.storage().set_device_info("dev", &stored).unwrap();
    let info = device.device_info().await.unwrap();
    assert_eq!(
        (info.device_id.as_str(), info.verbose_name.as_str()),
        ("dev", "Boiler room")
    );
    assert_eq!(info.facets, ["modbus"]);
    let culture = &info.culture_context;
    assert_eq!(
        (&*culture.language, &*culture.timezone, &*culture.units),
        ("en", "Europe/Warsaw", "metric")
    );

    let all = device
        .register_pathpoints(&[
            PathpointRegistration::new("fTemp", StorageLevel::Trend),
            PathpointRegistration::new("W1", StorageLevel::Permanent),
        ])
        .await
        .unwrap();
    let expected = [("W1", StorageLevel::Permanent), ("fTemp", StorageLevel::Trend)];
    let got: Vec<_> = all.iter().map(|p| (p.path.as_str(), p.storage_level)).collect();
    assert_eq!(got, expected);
    let all = device
        .register_pathpoints(&[PathpointRegistration::new("W1", StorageLevel::Trend)])
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "every pathpoint of the device: {all:?}");
    assert_eq!(all[0].storage_level, StorageLevel::Trend, "registered again");

    device.report_message("m-7").await.unwrap();
    device.report_message("m-7").await.unwrap(); // safe to repeat
    let messages = server.handle.storage().list_messages("dev", 10).unwrap();
    assert_eq!(
        messages.iter().map(|m| m.uuid.as_str()).collect::<Vec<_>>(),
        ["m-7"]
    );
    // A refusal of the HTTP API is the client's fault, whatever the mode.
    let err = device
        .register_pathpoints(&[PathpointRegistration::new("", StorageLevel::Trend)])
        .await
        .expect_err("an empty path is refused");
    assert!(err.is_clients_fault() && !err.is_no_link(), "{err}");
    until_link(&device, "up", |s| s.is_up()).await;
    device.close(Duration::from_secs(2)).await;
    server.stop().await;
}

/// `ngtt pki` and `ngtt serve` as an operator runs them; orders queued and read back through
/// the admin API; one device per mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_modes_against_the_ngtt_serve_binary() {
    init_logging();
    let scratch = TestPki::new();
    let dir = scratch.scratch("cli");
    let pki = dir.join("pki");
    let pki_arg = pki.to_str().unwrap();
    cli::run(&["pki", "init", "--dir", pki_arg]);
    let serve = cli::Serve::start(&pki, &dir.join("ngtt.db")).await;
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {}", serve.token());
    headers.insert(reqwest::header::AUTHORIZATION, bearer.parse().unwrap());
    let admin = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let ca = std::fs::read_to_string(pki.join("ca.pem")).unwrap();

    for (id, mode) in [("cli-ngtt", Mode::Ngtt), ("cli-http", Mode::Http)] {
        let files = cli::run(&["pki", "device", "--dir", pki_arg, "--id", id]);
        let [cert, key] = [&files[0], &files[1]].map(|f| std::fs::read_to_string(f).unwrap());
        let answer = admin
            .post(serve.admin_url(&format!("/v1/devices/{id}/orders")))
            .json(&read_order("W1"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
        let order_id = answer.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let order_url = serve.admin_url(&format!("/v1/orders/{order_id}"));
        let order_state = || async {
            let order: Value = admin.get(&order_url).send().await.unwrap().json().await.unwrap();
            (order["state"].clone(), order["answered_via"].clone())
        };

        let (device, mut orders) = SmokDevice::builder(cert, key)
            .ca_pem(ca.clone())
            .use_ngtt(mode == Mode::Ngtt)
            .ngtt_server(serve.ngtt.to_string())
            .ngtt_server_name("localhost")
            .http_base_url(format!("https://{}", serve.http))
            .poll_interval(Duration::from_millis(50))
            .build()
            .unwrap();
        let order = next_order(&mut orders).await;
        assert_eq!(order.via(), mode.via());
        match mode {
            Mode::Ngtt => assert_eq!(order_state().await, (json!("sent"), Value::Null)),
            Mode::Http => assert_eq!(order_state().await, (json!("confirmed"), json!("http"))),
        }
        order.ack().await.unwrap();
        if mode == Mode::Ngtt {
            let deadline = tokio::time::Instant::now() + WAIT;
            while order_state().await != (json!("confirmed"), json!("ngtt")) {
                assert!(tokio::time::Instant::now() < deadline, "ORDER_CONFIRM stored");
                sleep(Duration::from_millis(20)).await;
            }
        }
        device.sync_pathpoints(ten_samples("W1")).await.unwrap();
        let url = serve.admin_url(&format!("/v1/devices/{id}/pathpoints"));
        let stored: Value = admin.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(stored[0]["values"].as_array().map(Vec::len), Some(10), "{stored}");
        assert_eq!(device.device_info().await.unwrap().device_id, id);
        device.close(Duration::from_secs(2)).await;
    }
    assert!(serve.stop().await.success(), "SIGTERM is a graceful shutdown");
}
