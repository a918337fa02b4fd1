use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use ngtt_proto::payload::PathpointValue;
use serde_json::json;

use super::*;
use crate::alarm::{Color, EventId};
use crate::store::{EventStore, MemoryStore};

/// Opens an event while `W1` is above the configured limit, closes it below; counts ticks in
/// its state.
struct Limit {
    limit: i64,
}

impl Statistic for Limit {
    fn tick(&mut self, ctx: &mut StatisticContext<'_>) {
        let ticks = ctx.state()["ticks"].as_u64().unwrap_or(0);
        ctx.state()["ticks"] = json!(ticks + 1);
        let high = matches!(ctx.value("W1"), Some(Sample::Value { value: PathpointValue::Int(v), .. }) if v > self.limit);
        let open: Vec<EventId> = ctx.open_events().iter().map(|e| e.id).collect();
        if high && open.is_empty() {
            ctx.open_event("too high", Color::Red);
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

fn factory(made: Arc<AtomicUsize>) -> Arc<dyn StatisticFactory> {
    Arc::new(move |p: &PredicateInfo| {
        made.fetch_add(1, Ordering::SeqCst);
        let limit = p.configuration["limit"].as_i64().ok_or("no limit")?;
        Ok(Limit { limit })
    })
}

fn def(v: serde_json::Value) -> Lenient<PredicateDefinition> {
    serde_json::from_value(v).unwrap()
}

fn online(id: &str, limit: i64, silencing: serde_json::Value) -> Lenient<PredicateDefinition> {
    def(
        json!({"predicate_id": id, "online": true, "statistic": "limit", "verbose_name": "Boiler",
               "group": "G", "configuration": {"limit": limit}, "silencing": silencing}),
    )
}

/// 2026-11-30 (a Monday) 12:00 UTC.
fn monday_noon() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_040_000)
}

#[test]
fn statistics_open_and_close_events() {
    let store = Arc::new(MemoryStore::new());
    let mut book = EventBook::load(store.clone());
    let mut p = Predicates::default();
    let made = Arc::new(AtomicUsize::new(0));
    let kept = p.apply(
        vec![
            online("p1", 100, json!([])),
            def(json!({"predicate_id": "p2", "online": true})), // no statistic: skipped
            def(json!({"online": true})),                       // malformed: skipped
        ],
        &*store,
    );
    assert_eq!(kept.len(), 1);
    let w1 = std::cell::Cell::new(150);
    let values = |path: &str| (path == "W1").then(|| Sample::value(1, w1.get()));
    let zone = DeviceZone::utc();
    p.tick(monday_noon(), &zone, &values, &mut book, &*store);
    assert_eq!(made.load(Ordering::SeqCst), 0, "not registered yet: waits");
    assert_eq!(book.all().count(), 0);
    p.register("limit", factory(made.clone()));
    p.tick(monday_noon(), &zone, &values, &mut book, &*store);
    let events: Vec<_> = book.all().cloned().collect();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.report.message, "Boiler: too high");
    assert_eq!((e.report.group.as_str(), e.report.token.as_str()), ("G", "limit"));
    assert_eq!(e.predicate_id(), Some("p1"));
    p.tick(monday_noon(), &zone, &values, &mut book, &*store);
    assert_eq!(book.all().count(), 1, "still high: one event");
    // The configuration changes: the statistic is told, not made again.
    p.apply(vec![online("p1", 200, json!([]))], &*store);
    p.tick(monday_noon(), &zone, &values, &mut book, &*store);
    assert!(book.all().next().unwrap().is_closed());
    assert_eq!(made.load(Ordering::SeqCst), 1);
    let state: serde_json::Value =
        serde_json::from_slice(&store.predicate_state("p1").unwrap().unwrap()).unwrap();
    assert_eq!(state["ticks"], 3);
    // Offline keeps the state; omitted deletes it.
    p.apply(vec![def(json!({"predicate_id": "p1", "online": false}))], &*store);
    assert!(p.list().is_empty());
    assert!(store.predicate_state("p1").unwrap().is_some());
    p.apply(vec![online("p1", 200, json!([]))], &*store);
    p.apply(vec![], &*store);
    assert!(store.predicate_state("p1").unwrap().is_none());
}

#[test]
fn silenced_predicates_open_nothing() {
    let store = Arc::new(MemoryStore::new());
    let mut book = EventBook::load(store.clone());
    let mut p = Predicates::default();
    p.register("limit", factory(Arc::new(AtomicUsize::new(0))));
    // Monday 11:00 to 13:00 in Warsaw (noon UTC is 13:00 there in winter).
    let period =
        json!([{"start": {"day": 1, "hour": 11, "minute": 0}, "stop": {"day": 1, "hour": 13, "minute": 0}}]);
    p.apply(vec![online("p1", 100, period)], &*store);
    let values = |_: &str| Some(Sample::value(1, 150));
    let warsaw = DeviceZone::named("Europe/Warsaw").unwrap();
    p.tick(monday_noon(), &warsaw, &values, &mut book, &*store);
    assert_eq!(book.all().count(), 0, "13:00 in Warsaw: silenced");
    p.tick(
        monday_noon() + Duration::from_secs(60),
        &warsaw,
        &values,
        &mut book,
        &*store,
    );
    assert_eq!(book.all().count(), 1, "13:01: not silenced any more");
}

#[test]
fn a_panicking_statistic_is_contained() {
    struct Panics;
    impl Statistic for Panics {
        fn tick(&mut self, _: &mut StatisticContext<'_>) {
            panic!("statistic bug");
        }
    }
    let store = Arc::new(MemoryStore::new());
    let mut book = EventBook::load(store.clone());
    let mut p = Predicates::default();
    p.register("limit", Arc::new(|_: &PredicateInfo| Ok(Panics)));
    p.apply(vec![online("p1", 1, json!([]))], &*store);
    let values = |_: &str| None;
    p.tick(monday_noon(), &DeviceZone::utc(), &values, &mut book, &*store);
    p.tick(monday_noon(), &DeviceZone::utc(), &values, &mut book, &*store);
    assert_eq!(p.list().len(), 1);
}
