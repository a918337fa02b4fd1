//! `smok-client` against a hostile server, for BAOBs, archives, metadata and slaves: every
//! malformed answer is logged and skipped (or returned as an error to the caller), the good
//! parts are used, and every sync keeps running. The sync hooks see the failures and the
//! successes. The server is a plain-HTTP axum app on 127.0.0.1:0 answering raw JSON.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use ngtt_proto::payload::PathpointSeries;
use ngtt_testkit::hostile::{hostile_device, json_answer, serve_plain};
use ngtt_testkit::smok::ConstantIo;
use ngtt_testkit::{init_logging, wait_until, TestPki};
use serde_json::json;
use smok_client::baob::BaobChange;
use smok_client::pathpoint::Pathpoint;

#[derive(Default)]
struct Hostile {
    baob_rounds: AtomicUsize,
    archive_calls: AtomicUsize,
    uploads: Mutex<Vec<PathpointSeries>>,
}

/// A 503, then a plan without its lists, then a list, then a plan with one good key among bad
/// ones.
async fn baob_round(State(h): State<Arc<Hostile>>, _body: Bytes) -> Response {
    match h.baob_rounds.fetch_add(1, Ordering::SeqCst) {
        0 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        1 => json_answer(json!({"should_download": ["good"]})),
        2 => json_answer(json!([1, 2])),
        _ => json_answer(json!({
            "should_delete": ["never-held", 5],
            "should_download": ["no-version", "good", "a/b", "good", "bad-version", "huge"],
            "should_upload": [],
        })),
    }
}

async fn good_baob() -> Response {
    ([("x-smok-baob-version", "4")], "good bytes").into_response()
}

async fn no_version_baob() -> Response {
    "unversioned".into_response()
}

/// Larger than the device takes.
async fn huge_baob() -> Response {
    ([("x-smok-baob-version", "1")], vec![b'x'; 4096]).into_response()
}

async fn bad_version_baob() -> Response {
    ([("x-smok-baob-version", "-3")], "x").into_response()
}

/// Garbage entries around one good one.
async fn archived(State(h): State<Arc<Hostile>>) -> Response {
    h.archive_calls.fetch_add(1, Ordering::SeqCst);
    json_answer(json!([
        {"interval": "soon", "pathpoints": ["W2"]},
        5,
        {"interval": -1, "pathpoints": ["W3"]},
        {"interval": 1, "pathpoints": ["W1"]},
    ]))
}

async fn upload(State(h): State<Arc<Hostile>>, body: Bytes) -> Response {
    if let Ok(series) = minijson::from_slice::<Vec<PathpointSeries>>(&body) {
        h.uploads.lock().unwrap().extend(series);
    }
    StatusCode::OK.into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_resource_answers_are_skipped() {
    init_logging();
    let hostile = Arc::new(Hostile::default());
    let app = Router::new()
        .route("/v1/device/baobs", post(baob_round))
        .route("/v1/device/baobs/good", get(good_baob))
        .route("/v1/device/baobs/no-version", get(no_version_baob))
        .route("/v1/device/baobs/bad-version", get(bad_version_baob))
        .route("/v1/device/baobs/huge", get(huge_baob))
        .route("/v1/device/pathpoints/archived", get(archived))
        .route(
            "/v1/device/pathpoints",
            post(upload).put(|| async { json_answer(json!([])) }),
        )
        .route("/v1/device/sensors", get(|| async { json_answer(json!([])) }))
        .route(
            "/v1/device/metadata/plain/{key}",
            get(|| async { json_answer(json!({"value": 5})) }).put(|| async { StatusCode::OK }),
        )
        .route(
            "/v1/device/instrumentation/{slave}",
            get(|| async { json_answer(json!({"linkstate": 5, "instrumentation": "x"})) }),
        )
        .route("/v1/device/device_logs", put(|| async { StatusCode::OK }))
        .with_state(hostile.clone());
    let addr = serve_plain(app).await;

    let pki = TestPki::new();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let (successes, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (seen, ok, failed) = (changes.clone(), successes.clone(), failures.clone());
    let (device, _orders) = hostile_device(&pki, "hostile-2", addr)
        .fetch_orders(false)
        .archive_refresh_interval(Duration::from_millis(200))
        .max_baob_len(1024)
        .on_baob_changed(move |c| seen.lock().unwrap().push(c))
        .on_successful_sync(move || {
            ok.fetch_add(1, Ordering::SeqCst);
        })
        .on_failed_sync(move || {
            failed.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    device
        .register_pathpoint(Pathpoint::new("W1", ConstantIo(7)))
        .unwrap();

    // BAOBs: the failing and malformed rounds are retried; the good key of the last plan is
    // downloaded, the others skipped.
    wait_until("the good BAOB", || !changes.lock().unwrap().is_empty()).await;
    assert_eq!(
        *changes.lock().unwrap(),
        [BaobChange::Updated {
            key: "good".into(),
            version: 4
        }]
    );
    // Rounds go on.
    let rounds = hostile.baob_rounds.load(Ordering::SeqCst);
    device.sync_baobs();
    wait_until("another BAOB round", || {
        hostile.baob_rounds.load(Ordering::SeqCst) > rounds
    })
    .await;
    // The round before it has ended: only the good key was taken (not the one without a
    // version, nor the one over `max_baob_len`).
    assert_eq!(device.baobs().unwrap(), [("good".to_owned(), 4)]);
    assert!(changes
        .lock()
        .unwrap()
        .iter()
        .all(|c| matches!(c, BaobChange::Updated { key, version: 4 } if key == "good")));

    // Archives: the good entry is read and uploaded, again and again; the refresh goes on.
    wait_until("W1 read twice and uploaded", || {
        hostile
            .uploads
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == "W1")
            .count()
            >= 2
    })
    .await;
    let calls = hostile.archive_calls.load(Ordering::SeqCst);
    wait_until("another archive refresh", || {
        hostile.archive_calls.load(Ordering::SeqCst) > calls
    })
    .await;

    // Metadata: a malformed answer is an error without a local copy, the local copy with one.
    assert!(device.metadata("k").await.is_err());
    device.set_metadata("k", "mine").await.unwrap();
    assert_eq!(device.metadata("k").await.unwrap().as_deref(), Some("mine"));

    // A slave's malformed instrumentation is an error to the caller, nothing more.
    assert!(device.slave("s1").instrumentation().await.is_err());

    assert!(
        failures.load(Ordering::SeqCst) >= 1,
        "the 503 reached on_failed_sync"
    );
    assert!(
        successes.load(Ordering::SeqCst) >= 3,
        "answers reached on_successful_sync"
    );
    device.close(Duration::from_secs(2)).await;
}
