//! `smok-client` against a hostile server: answers that are malformed in every way the device
//! framework reads them (sensors, the pathpoint list, orders, failures). Each bad entry is
//! logged and skipped, the rest is used, nothing panics and every sync keeps running. The
//! server is a plain-HTTP axum app on 127.0.0.1:0 answering raw JSON.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ngtt_proto::payload::PathpointSeries;
use ngtt_testkit::hostile::{hostile_device, json_answer, serve_plain};
use ngtt_testkit::smok::ConstantIo;
use ngtt_testkit::TestPki;
use ngtt_testkit::{init_logging, WAIT};
use serde_json::json;
use smok_client::pathpoint::Pathpoint;
use smok_client::{SensorsFrom, StorageLevel};
use tokio::time::timeout;

#[derive(Default)]
struct Hostile {
    sensor_calls: AtomicUsize,
    order_calls: AtomicUsize,
    uploads: Mutex<Vec<PathpointSeries>>,
    registrations: AtomicUsize,
}

async fn sensors(State(h): State<Arc<Hostile>>) -> Response {
    match h.sensor_calls.fetch_add(1, Ordering::SeqCst) {
        0 => (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
        1 => json_answer(json!({"not": "a list"})),
        _ => json_answer(json!([
            {"fqts": "good one", "path": "W1", "type": "std.Number10"},
            {"fqts": "eval", "path": "W1", "type": "x(__import__('os').system('true'))"},
            {"fqts": "bad reparse", "path": "rf{W1", "type": "std.Number10"},
            {"fqts": "bad letter", "path": "Q1", "type": "std.Number10"},
            {"fqts": "", "path": "W1", "type": "std.Number10"},
            {"fqts": 7, "path": "W1", "type": "std.Number10"},
            {"fqts": "no path", "type": "std.Number10"},
            null,
            "junk",
            [1, 2],
            {"fqts": "also good", "path": "W2~W1", "type": "std.Unicode"}
        ])),
    }
}

async fn register(State(h): State<Arc<Hostile>>, _body: Bytes) -> Response {
    h.registrations.fetch_add(1, Ordering::SeqCst);
    json_answer(json!([
        {"path": "W1", "storage_level": 0},
        {"path": 5},
        {"path": "W7", "storage_level": 9},
        {"path": "Q1", "storage_level": 1},
        {"path": "rf{W1", "storage_level": 1},
        {"path": "x".repeat(5000), "storage_level": 1},
        "junk",
        {"storage_level": 1},
        {"path": "W8", "storage_level": 0}
    ]))
}

async fn orders(State(h): State<Arc<Hostile>>) -> Response {
    match h.order_calls.fetch_add(1, Ordering::SeqCst) {
        0 => json_answer(json!({"unexpected": true})),
        1 => json_answer(json!([{"no orders": []}, 5, "x"])),
        2 => json_answer(json!([{"orders": [
            {"type": "write", "path": "W1", "value": {"x": 1}},
            {"type": "write", "path": "W1", "value": null},
            {"type": "read", "path": 17},
            {"type": "read", "path": "rW{W1}+"},
            {"type": "wait", "time": -5},
            {"type": "sysctl"},
            {"type": "read", "path": "W1", "advise": 7},
            {"type": "read", "path": "W2"}
        ]}])),
        _ => (StatusCode::NO_CONTENT, "").into_response(),
    }
}

async fn upload(State(h): State<Arc<Hostile>>, body: Bytes) -> Response {
    match minijson::from_slice::<Vec<PathpointSeries>>(&body) {
        Ok(series) => {
            h.uploads.lock().unwrap().extend(series);
            json_answer(json!({"stored": 1}))
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_are_skipped() {
    init_logging();
    let hostile = Arc::new(Hostile::default());
    let app = Router::new()
        .route("/v1/device/sensors", get(sensors))
        .route("/v1/device/pathpoints", post(upload).put(register))
        .route("/v1/device/orders", post(orders))
        .route(
            "/v1/device/device_logs",
            axum::routing::put(|| async { StatusCode::OK }),
        )
        .with_state(hostile.clone());
    let addr = serve_plain(app).await;

    let pki = TestPki::new();
    let (device, orders) = hostile_device(&pki, "hostile-1", addr)
        .poll_interval(Duration::from_millis(50))
        .sensor_sync_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    device
        .register_pathpoint(Pathpoint::new("W1", ConstantIo(3)))
        .unwrap();
    device
        .register_pathpoint(Pathpoint::new("W2", ConstantIo(3)))
        .unwrap();
    device.spawn_order_executor(orders);

    // A 5xx first: ready() does not wait for a server that fails, and says why.
    let ready = timeout(WAIT, device.ready()).await.expect("ready in time");
    assert!(
        matches!(ready.sensors, SensorsFrom::Unavailable { .. }),
        "{ready:?}"
    );

    // Then a map instead of a list, then a list of mostly garbage: the good entries are used.
    timeout(WAIT, async {
        while device.sensors().len() != 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the two good sensors");
    assert!(device.sensor("good one").is_some() && device.sensor("also good").is_some());

    // The pathpoint list: the good entries are learnt with their levels, the rest skipped.
    timeout(WAIT, async {
        while device.pathpoint("W8").is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("W8 from the server's list");
    assert_eq!(
        device.pathpoint("W1").unwrap().storage_level,
        StorageLevel::Permanent
    );
    assert!(device.pathpoint("W7").is_none() && device.pathpoint("Q1").is_none());

    // Orders: a map, then garbage sections, then a section of bad orders with one good read
    // at the end — which runs, and its value is uploaded.
    timeout(WAIT, async {
        loop {
            if hostile.uploads.lock().unwrap().iter().any(|s| s.path == "W2") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the good read's value uploaded");
    assert!(
        hostile.order_calls.load(Ordering::SeqCst) >= 3,
        "polling went on after bad answers"
    );
    let calls = hostile.sensor_calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        hostile.sensor_calls.load(Ordering::SeqCst) > calls,
        "the sensor sync goes on"
    );
    device.close(Duration::from_secs(2)).await;
}
