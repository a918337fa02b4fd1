//! `smok-client`'s predicates, events and macros against a hostile server: malformed
//! predicate and macro lists, alarm answers that are short, malformed or failing, failing
//! macro reports, an unknown time zone. Each bad entry is logged and skipped, the good ones are
//! used, events are confirmed exactly once by position, a macro runs once and its report is
//! retried until it is taken. The server is a plain-HTTP axum app on 127.0.0.1:0.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use ngtt_proto::payload::{Advise, PathpointValue, ReadError};
use ngtt_testkit::hostile::{hostile_device, json_answer, serve_plain};
use ngtt_testkit::{init_logging, wait_until, TestPki};
use serde_json::{json, Value};
use smok_client::alarm::{Color, PredicateInfo, Statistic, StatisticContext};
use smok_client::pathpoint::{Pathpoint, PathpointIo};

#[derive(Default)]
struct Hostile {
    predicate_calls: AtomicUsize,
    alarm_calls: AtomicUsize,
    /// Every alarms batch received.
    batches: Mutex<Vec<Vec<Value>>>,
    /// Reports by `{id}/{ts}`.
    reports: Mutex<HashMap<String, usize>>,
    now: u64,
}

async fn device_info() -> Response {
    json_answer(
        json!({"device_id": "hostile-2", "verbose_name": "x", "facets": [],
        "culture_context": {"language": "en", "timezone": "Mars/Olympus_Mons", "units": "metric"},
        "slave_devices": []}),
    )
}

async fn predicates(State(h): State<Arc<Hostile>>) -> Response {
    let good = json!({"predicate_id": "good", "online": true, "statistic": "point", "verbose_name": "Good",
                      "group": "A", "configuration": {}, "silencing": []});
    match h.predicate_calls.fetch_add(1, Ordering::SeqCst) {
        0 => json_answer(json!({"not": "a list"})),
        1 => (StatusCode::SERVICE_UNAVAILABLE, "later").into_response(),
        _ => json_answer(json!([
            {"predicate_id": "bad-day", "online": true, "statistic": "point", "verbose_name": "x",
             "silencing": [{"start": {"day": 9, "hour": 0, "minute": 0}, "stop": {"day": 1, "hour": 0, "minute": 0}}]},
            {"predicate_id": "no-online", "statistic": "point", "verbose_name": "x"},
            {"predicate_id": "no-statistic", "online": true, "verbose_name": "x"},
            {"predicate_id": "no-name", "online": true, "statistic": "point"},
            {"predicate_id": 5, "online": true},
            null,
            "junk",
            good,
            {"predicate_id": "good", "online": true, "statistic": "other", "verbose_name": "Duplicate"},
        ])),
    }
}

async fn alarms(State(h): State<Arc<Hostile>>, body: Bytes) -> Response {
    let batch: Vec<Value> = minijson::from_slice(&body).expect("a MiniJSON list of events");
    h.batches.lock().unwrap().push(batch.clone());
    match h.alarm_calls.fetch_add(1, Ordering::SeqCst) {
        0 => json_answer(json!([])),               // short: nothing confirmed
        1 => json_answer(json!([{"no": "uuid"}])), // malformed element
        2 => (StatusCode::BAD_GATEWAY, "down").into_response(),
        3 => json_answer(json!("not a list")),
        _ => {
            let uuids: Vec<Value> = batch
                .iter()
                .map(|e| json!({"uuid": format!("u-{}", e["message"].as_str().unwrap_or(""))}))
                .collect();
            json_answer(Value::Array(uuids))
        }
    }
}

async fn occurrences(State(h): State<Arc<Hostile>>, Path(_window): Path<String>) -> Response {
    let past = h.now - 10;
    json_answer(json!([
        {"macro_id": "good", "commands": [{"path": "W1", "value": 3}], "occurrences": [{"timestamp": past, "completed": false}]},
        {"macro_id": "null-value", "commands": [{"path": "W1", "value": null}], "occurrences": [{"timestamp": past, "completed": false}]},
        {"macro_id": "no-commands", "occurrences": [{"timestamp": past}]},
        {"macro_id": "negative", "commands": [{"path": "W1", "value": 1}], "occurrences": [{"timestamp": -5, "completed": false}]},
        {"macro_id": "", "commands": [], "occurrences": []},
        [1, 2, 3],
    ]))
}

async fn report(State(h): State<Arc<Hostile>>, Path((id, ts)): Path<(String, String)>) -> Response {
    let mut reports = h.reports.lock().unwrap();
    let n = reports.entry(format!("{id}/{ts}")).or_default();
    *n += 1;
    if *n == 1 {
        (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response()
    } else {
        json_answer(json!({}))
    }
}

/// Raises one point event at each tick, as long as its state says fewer than two were raised.
struct Point;

impl Statistic for Point {
    fn tick(&mut self, ctx: &mut StatisticContext<'_>) {
        let n = ctx.state().as_u64().unwrap_or(0);
        if n < 2 {
            ctx.point_event(&format!("p{n}"), Color::Yellow);
            *ctx.state() = json!(n + 1);
        }
    }
}

#[derive(Clone, Default)]
struct Writes(Arc<AtomicUsize>);

impl PathpointIo for Writes {
    async fn read(&self, _: &str, _: Advise) -> Result<PathpointValue, ReadError> {
        Err(ReadError::Invalid)
    }
    async fn write(&self, _: &str, _: PathpointValue, _: Advise) -> Result<(), ReadError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_predicates_macros_and_alarm_answers_are_survived() {
    init_logging();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let hostile = Arc::new(Hostile {
        now,
        ..Hostile::default()
    });
    let ok = || async { StatusCode::OK };
    let app = Router::new()
        .route("/v1/device", get(device_info))
        .route("/v1/device/predicates", get(predicates))
        .route("/v1/device/alarms", post(alarms))
        .route("/v1/device/macro/occurrences/{window}", get(occurrences))
        .route("/v1/device/macros/{id}/{ts}", post(report))
        .route(
            "/v1/device/pathpoints",
            post(ok).put(|| async { json_answer(json!([])) }),
        )
        .route("/v1/device/device_logs", put(ok))
        .route("/v1/device/orders", post(ok))
        .with_state(hostile.clone());
    let addr = serve_plain(app).await;

    let pki = TestPki::new();
    let (device, _orders) = hostile_device(&pki, "hostile-2", addr)
        .sync_sensors(false)
        .fetch_orders(false)
        .predicate_sync_interval(Duration::from_millis(100))
        .predicate_tick(Duration::from_millis(30))
        .macro_refresh_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let writes = Writes::default();
    device
        .register_pathpoint(Pathpoint::new("W1", writes.clone()))
        .unwrap();
    device.register_statistic("point", |_: &PredicateInfo| Ok(Point));

    // Predicates: a map, then a 503, then a list of mostly garbage: only "good" is used, once.
    wait_until("the good predicate", || device.predicates().len() == 1).await;
    let p = &device.predicates()[0];
    assert_eq!(
        (p.predicate_id.as_str(), p.verbose_name.as_str(), p.group.as_str()),
        ("good", "Good", "A")
    );
    assert_eq!(
        device.time_zone().name(),
        "UTC",
        "an unknown zone falls back to UTC"
    );

    // Events: two point events go through a short answer, a malformed one, a 502 and a
    // non-list before they are confirmed; each batch holds each event once, and each event
    // ends with the uuid answered at its own position.
    wait_until("both events confirmed", || {
        hostile.alarm_calls.load(Ordering::SeqCst) >= 5 && device.events().is_empty()
    })
    .await;
    let batches = hostile.batches.lock().unwrap().clone();
    for batch in &batches {
        let mut messages: Vec<&str> = batch.iter().map(|e| e["message"].as_str().unwrap()).collect();
        let n = messages.len();
        messages.dedup();
        assert_eq!(messages.len(), n, "an event twice in one batch: {batch:?}");
        for e in batch {
            assert_eq!(e["alarm_type"], 1);
            assert_eq!(e["group"], "A");
            assert!(e["started_on"].is_u64() && e["ended_on"].is_u64(), "{e}");
        }
    }
    let all: Vec<&str> = batches
        .iter()
        .flatten()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(all.contains(&"Good: p0") && all.contains(&"Good: p1"), "{all:?}");

    // Macros: only "good" runs, once; its report is retried after the 500 and then left alone.
    let key = format!("good/{}", now - 10);
    wait_until("the good macro reported", || {
        hostile.reports.lock().unwrap().get(&key).copied() == Some(2)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        writes.0.load(Ordering::SeqCst),
        1,
        "the good macro's one write, once"
    );
    let reports = hostile.reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[&key], 2, "reported until taken, then never again");
    assert!(
        hostile.predicate_calls.load(Ordering::SeqCst) > 3,
        "the predicate sync goes on"
    );
    device.close(Duration::from_secs(2)).await;
}
