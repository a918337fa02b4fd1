//! `smok-client`'s predicates, events and macros against a real server (in-process, the same
//! code as `ngtt serve`), over real sockets and TLS, in both modes: a predicate made with the
//! admin API reaches the device, its statistic opens an event that reaches the server and is
//! closed there; `reset_predicates` makes the statistics again; a macro made with the admin
//! API runs its writes at its time and is completed once, and an event the program opens
//! itself is stored; a device restarted in the middle of an open event and a due macro loses
//! nothing and does nothing twice, and its statistic goes on from the state it saved. Hostile
//! answers are in `smok_alarms_hostile.rs`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ngtt_proto::payload::{Advise, PathpointValue, ReadError, Sample};
use ngtt_server::storage::events::{EventQuery, EventRecord};
use ngtt_testkit::smok::{any_port, device_builder, start_server, vacant_addr, Mode};
use ngtt_testkit::{both_modes, init_logging, wait_until, TestPki, TestServer};
use reqwest::Method;
use serde_json::json;
use smok_client::alarm::{Color, EventId, NewEvent, PredicateInfo, Statistic, StatisticContext};
use smok_client::pathpoint::{Pathpoint, PathpointIo};
use smok_client::store::{EventStore, MemoryStore, SqliteStore, StateStore};
use smok_client::{SmokDevice, SmokDeviceBuilder};

both_modes!(
    predicates_raise_events_on_the_server,
    macros_run_at_their_time_once,
    a_restart_loses_nothing_and_repeats_nothing,
);

/// Writes made through the device, in order.
#[derive(Clone, Default)]
struct Writes(Arc<Mutex<Vec<(String, PathpointValue)>>>);

impl Writes {
    fn of(&self, path: &str) -> Vec<PathpointValue> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl PathpointIo for Writes {
    async fn read(&self, _: &str, _: Advise) -> Result<PathpointValue, ReadError> {
        Err(ReadError::Invalid)
    }
    async fn write(&self, path: &str, value: PathpointValue, _: Advise) -> Result<(), ReadError> {
        self.0.lock().unwrap().push((path.to_owned(), value));
        Ok(())
    }
}

/// Keeps one event open while `W1` is above the configured `limit`; counts its instances in
/// its saved state (`instances`).
struct Limit {
    limit: i64,
    started: bool,
}

impl Statistic for Limit {
    fn tick(&mut self, ctx: &mut StatisticContext<'_>) {
        if !self.started {
            self.started = true;
            let made = ctx.state()["instances"].as_u64().unwrap_or(0);
            ctx.state()["instances"] = json!(made + 1);
        }
        let high = matches!(ctx.value("W1"), Some(Sample::Value { value: PathpointValue::Int(v), .. }) if v > self.limit);
        let open: Vec<EventId> = ctx.open_events().iter().map(|e| e.id).collect();
        if high && open.is_empty() {
            ctx.open_event("too hot", Color::Red);
        } else if !high {
            for id in open {
                ctx.close_event(id);
            }
        }
    }
    fn changed(&mut self, p: &PredicateInfo) {
        self.limit = p.configuration["limit"].as_i64().unwrap_or(self.limit);
    }
}

fn limit(p: &PredicateInfo) -> Result<Limit, String> {
    let limit = p.configuration["limit"].as_i64().ok_or("no limit")?;
    Ok(Limit {
        limit,
        started: false,
    })
}

/// How many instances of predicate `p1`'s statistic its saved state counts.
fn instances(store: &dyn EventStore) -> Option<u64> {
    let state = store.predicate_state("p1").unwrap()?;
    serde_json::from_slice::<serde_json::Value>(&state).unwrap()["instances"].as_u64()
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A device with fast schedules: predicates synced every 200 ms and ticked every 50 ms, macros
/// refreshed every 300 ms; `W1` written into `writes`; the `limit` statistic registered.
fn boiler(builder: SmokDeviceBuilder, writes: &Writes) -> SmokDevice {
    let (device, orders) = builder
        .predicate_sync_interval(Duration::from_millis(200))
        .predicate_tick(Duration::from_millis(50))
        .macro_refresh_interval(Duration::from_millis(300))
        .schedule_timeout(Duration::from_secs(10))
        .sync_sensors(false)
        .build()
        .expect("device");
    device
        .register_pathpoint(Pathpoint::new("W1", writes.clone()))
        .unwrap();
    device.register_statistic("limit", limit);
    device.spawn_order_executor(orders);
    device
}

fn events(server: &TestServer, id: &str) -> Vec<EventRecord> {
    let query = EventQuery {
        open: None,
        limit: 100,
    };
    server.handle.storage().list_events(id, query).unwrap()
}

async fn admin_ok(server: &TestServer, method: Method, path: &str, body: serde_json::Value) {
    let (status, answer) = server.admin(method, path, Some(body)).await;
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
}

/// Whether every occurrence of macro `m` is completed on the server.
fn completed(server: &TestServer, id: &str, m: &str) -> bool {
    let record = server.handle.storage().macro_record(id, m).unwrap();
    record.is_some_and(|r| r.occurrences.iter().all(|o| o.completed))
}

async fn predicates_raise_events_on_the_server(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = start_server(&pki, pki.dir().join("ngtt.db"), any_port(), any_port()).await;
    let id = "alarm-1";
    admin_ok(
        &server,
        Method::PATCH,
        &format!("/v1/devices/{id}/info"),
        json!({"culture_context": {"language": "pl", "timezone": "Europe/Warsaw", "units": "metric"}}),
    )
    .await;
    admin_ok(
        &server,
        Method::PUT,
        &format!("/v1/devices/{id}/predicates/p1"),
        json!({"statistic": "limit", "verbose_name": "Boiler", "group": "G", "configuration": {"limit": 100}}),
    )
    .await;
    admin_ok(
        &server,
        Method::PUT,
        &format!("/v1/devices/{id}/predicates/p2"),
        json!({"statistic": "nobody-registered-this", "configuration": {}}),
    )
    .await;
    let writes = Writes::default();
    let store = Arc::new(MemoryStore::new());
    let device = boiler(
        device_builder(&pki, id, mode, server.addr, server.http_addr()).store(store.clone()),
        &writes,
    );

    wait_until("the predicates and the zone from the server", || {
        device.predicates().len() == 2 && device.time_zone().name() == "Europe/Warsaw"
    })
    .await;
    device.set_value("W1", now_secs() * 1000, 150).unwrap();
    server
        .until("an open event on the server", |s| {
            events(s, id).iter().any(|e| e.report.ended_on.is_none())
        })
        .await;
    let event = events(&server, id).remove(0);
    assert_eq!(event.report.message, "Boiler: too hot");
    assert_eq!(
        (event.report.group.as_str(), event.report.token.as_str()),
        ("G", "limit")
    );
    assert_eq!(event.report.color, 2);
    assert_eq!(
        event.report.metadata.get("predicate_id").map(String::as_str),
        Some("p1")
    );
    wait_until("the server's uuid on the device", || {
        device
            .open_events()
            .first()
            .and_then(|e| e.uuid().map(str::to_owned))
            == Some(event.uuid.clone())
    })
    .await;

    // The configuration changes on the server: the statistic is told; the value is now below
    // the limit, so the event closes — the same event on the server.
    admin_ok(
        &server,
        Method::PATCH,
        &format!("/v1/devices/{id}/predicates/p1"),
        json!({"configuration": {"limit": 200}}),
    )
    .await;
    server
        .until("the event closed on the server", |s| {
            events(s, id).iter().all(|e| e.report.ended_on.is_some())
        })
        .await;
    assert_eq!(events(&server, id).len(), 1, "one event, opened and closed");
    assert_eq!(events(&server, id)[0].closed_by.as_deref(), Some("device"));
    wait_until("the closed event leaving the device", || {
        device.events().is_empty()
    })
    .await;

    // Deleted on the server: gone from the device.
    let (status, _) = server
        .admin(Method::DELETE, &format!("/v1/devices/{id}/predicates/p2"), None)
        .await;
    assert_eq!(status, 200);
    wait_until("p2 gone", || device.predicates().len() == 1).await;

    // reset_predicates: p1's statistic is made again (counted in its state).
    assert_eq!(instances(&*store), Some(1), "one instance so far");
    device.reset_predicates();
    wait_until("p1's statistic made again", || instances(&*store) == Some(2)).await;
    device.close(Duration::from_secs(2)).await;
}

async fn macros_run_at_their_time_once(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = start_server(&pki, pki.dir().join("ngtt.db"), any_port(), any_port()).await;
    let id = "macro-1";
    let at = now_secs() + 2;
    admin_ok(
        &server,
        Method::PUT,
        &format!("/v1/devices/{id}/macros/m1"),
        json!({"commands": [{"path": "W1", "value": 7}], "occurrences": [at, at + 1]}),
    )
    .await;
    let writes = Writes::default();
    // Without predicates: events the program opens itself are still uploaded.
    let builder = device_builder(&pki, id, mode, server.addr, server.http_addr()).sync_predicates(false);
    let device = boiler(builder, &writes);
    let event = NewEvent {
        color: Color::White,
        point: true,
        token: "boiler".into(),
        group: "ops".into(),
        message: "macro test started".into(),
        metadata: [("source".to_owned(), "test".to_owned())].into(),
    };
    assert!(device.open_event(event).unwrap().unwrap().is_closed());
    server
        .until("both occurrences completed and the point event stored", |s| {
            completed(s, id, "m1") && events(s, id).len() == 1
        })
        .await;
    let stored = events(&server, id).remove(0);
    assert_eq!(
        (stored.report.alarm_type, stored.report.group.as_str()),
        (1, "ops")
    );
    assert_eq!(
        stored.report.metadata.get("source").map(String::as_str),
        Some("test")
    );
    assert!(now_secs() >= at, "not run before its time");
    assert_eq!(writes.of("W1"), vec![PathpointValue::Int(7); 2]);
    // More refreshes see them completed: nothing runs again.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(writes.of("W1").len(), 2);
    device.close(Duration::from_secs(2)).await;
}

async fn a_restart_loses_nothing_and_repeats_nothing(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let (ngtt, http) = (vacant_addr(), vacant_addr());
    let db = pki.dir().join("ngtt.db");
    let store_path = pki.dir().join("device.db");
    let id = "restart-1";
    let server = start_server(&pki, db.clone(), ngtt, http).await;
    admin_ok(
        &server,
        Method::PUT,
        &format!("/v1/devices/{id}/predicates/p1"),
        json!({"statistic": "limit", "verbose_name": "Boiler", "configuration": {"limit": 100}}),
    )
    .await;
    let at = now_secs() + 6;
    admin_ok(
        &server,
        Method::PUT,
        &format!("/v1/devices/{id}/macros/m1"),
        json!({"commands": [{"path": "W1", "value": 9}], "occurrences": [at]}),
    )
    .await;

    // First run: the event opens and reaches the server; the macro is fetched; then the server
    // goes away, the occurrence comes due and runs while its report cannot be sent.
    let store = Arc::new(SqliteStore::open(&store_path).unwrap());
    let first_writes = Writes::default();
    let builder = device_builder(&pki, id, mode, ngtt, http).store(store.clone());
    let first = boiler(builder, &first_writes);
    wait_until("predicates", || first.predicates().len() == 1).await;
    first.set_value("W1", now_secs() * 1000, 150).unwrap();
    server
        .until("the open event on the server", |s| events(s, id).len() == 1)
        .await;
    wait_until("the macro list cached", || {
        store
            .get_state("macros")
            .unwrap()
            .is_some_and(|b| String::from_utf8_lossy(&b).contains("m1"))
    })
    .await;
    wait_until("the event's uuid", || {
        first.open_events().iter().all(|e| e.uuid().is_some())
    })
    .await;
    wait_until("the statistic's state saved", || instances(&*store) == Some(1)).await;
    server.stop().await;
    wait_until("the macro run without the server", || {
        !first_writes.of("W1").is_empty()
    })
    .await;
    first.close(Duration::from_secs(1)).await;
    drop(first);
    drop(store);

    // Second run, server back: the occurrence is reported, not run again; the value is now low,
    // so the statistic closes the event it opened before the restart — the same event; its
    // new instance starts from the state the first one saved.
    let server = start_server(&pki, db, ngtt, http).await;
    let second_writes = Writes::default();
    let store = Arc::new(SqliteStore::open(&store_path).unwrap());
    let builder = device_builder(&pki, id, mode, ngtt, http).store(store.clone());
    let second = boiler(builder, &second_writes);
    assert_eq!(
        second.open_events().len(),
        1,
        "the open event survived the restart"
    );
    second.set_value("W1", now_secs() * 1000 + 1, 50).unwrap();
    server
        .until("the occurrence completed and the event closed", |s| {
            completed(s, id, "m1") && events(s, id).iter().all(|e| e.report.ended_on.is_some())
        })
        .await;
    assert_eq!(events(&server, id).len(), 1, "no second event");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(first_writes.of("W1"), vec![PathpointValue::Int(9)], "ran once");
    assert!(
        second_writes.of("W1").is_empty(),
        "not run again after the restart"
    );
    wait_until("the second instance counted on top of the first", || {
        instances(&*store) == Some(2)
    })
    .await;
    wait_until("the closed event leaving the device", || {
        second.events().is_empty()
    })
    .await;
    second.close(Duration::from_secs(2)).await;
}
