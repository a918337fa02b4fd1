//! Events, predicate state and macro runs: the same behaviour from both stores, and across a
//! reopening of the SQLite file.

use std::collections::BTreeMap;

use super::*;
use crate::alarm::{Color, Event, NewEvent};

fn event(id: u64) -> Event {
    Event::new(
        id,
        100,
        NewEvent {
            color: Color::Yellow,
            point: false,
            token: "t".into(),
            group: "B".into(),
            message: "m".into(),
            metadata: BTreeMap::from([("predicate_id".into(), "p".into())]),
        },
    )
}

fn exercise(store: &dyn Store) {
    let (a, b) = (store.next_event_id().unwrap(), store.next_event_id().unwrap());
    assert!(b > a);
    store.put_event(&event(a)).unwrap();
    let mut eb = event(b);
    store.put_event(&eb).unwrap();
    eb.close(200);
    eb.report.uuid = Some("u".into());
    store.put_event(&eb).unwrap();
    assert_eq!(store.events().unwrap(), vec![event(a), eb.clone()]);
    store.remove_event(a).unwrap();
    assert_eq!(store.events().unwrap(), vec![eb]);

    assert_eq!(store.predicate_state("p").unwrap(), None);
    store.put_predicate_state("p", b"{}").unwrap();
    store.put_predicate_state("p", b"{\"n\":1}").unwrap();
    assert_eq!(store.predicate_state("p").unwrap().unwrap(), b"{\"n\":1}");
    store.delete_predicate_state("p").unwrap();
    assert_eq!(store.predicate_state("p").unwrap(), None);

    assert!(store.macro_ran("m", 10.0).unwrap());
    assert!(!store.macro_ran("m", 10.0).unwrap(), "recorded once");
    assert!(store.macro_ran("m", 20.5).unwrap());
    store.macro_reported("m", 10.0).unwrap();
    let runs = store.macro_runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[0].reported && !runs[1].reported);
    store.prune_macro_runs(30.0).unwrap();
    let runs = store.macro_runs().unwrap();
    assert_eq!(runs.len(), 1, "only reported runs are pruned");
    assert_eq!(runs[0].timestamp, 20.5);
}

#[test]
fn memory_store() {
    exercise(&MemoryStore::new());
}

#[test]
fn sqlite_store_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    exercise(&SqliteStore::open(&path).unwrap());
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.events().unwrap().len(), 1);
    assert!(again.next_event_id().unwrap() > 2, "ids are never reused");
    assert!(!again.macro_ran("m", 20.5).unwrap());
}
