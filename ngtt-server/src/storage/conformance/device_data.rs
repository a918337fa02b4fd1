//! Conformance: macros, archive settings, plain metadata, sensors, the sensor write log and
//! predicates, on any engine ([`Inspect`]).

use serde_json::json;

use super::Inspect;
use crate::storage::archives::ArchiveEntry;
use crate::storage::baob::Writer;
use crate::storage::macros::{CommandValue, MacroCommand, MacroRecord, Occurrence};
use crate::storage::metadata::MetadataWrite;
use crate::storage::predicates::{Predicate, Silencing, WeekTime};
use crate::storage::sensors::{Sensor, SensorWrite};

fn occurrence(timestamp: f64) -> Occurrence {
    Occurrence {
        timestamp,
        completed: false,
        completed_at_ms: None,
    }
}

fn a_macro(id: &str, stamps: &[f64]) -> MacroRecord {
    MacroRecord {
        macro_id: id.into(),
        commands: vec![
            MacroCommand {
                path: "W1".into(),
                value: CommandValue::Int(3),
            },
            MacroCommand {
                path: "uT".into(),
                value: CommandValue::Text("on".into()),
            },
        ],
        occurrences: stamps.iter().copied().map(occurrence).collect(),
    }
}

pub(super) fn macros_keep_completions_and_limits(db: &dyn Inspect) {
    assert_eq!(
        db.put_macro("d", &a_macro("m1", &[100.0, 200.5]), 2).unwrap(),
        Some(true)
    );
    assert_eq!(db.complete_occurrence("d", "m1", 100.0).unwrap(), Some(true));
    assert_eq!(db.complete_occurrence("d", "m1", 100.0).unwrap(), Some(false));
    assert_eq!(db.complete_occurrence("d", "m1", 150.0).unwrap(), None);
    assert_eq!(db.complete_occurrence("other", "m1", 200.5).unwrap(), None);
    // Replaced: 100 stays completed, 200.5 is gone, 300 is new.
    assert_eq!(
        db.put_macro("d", &a_macro("m1", &[100.0, 300.0]), 2).unwrap(),
        Some(false)
    );
    let stored = db.macro_record("d", "m1").unwrap().unwrap();
    assert_eq!(stored.commands, a_macro("m1", &[]).commands);
    let flags: Vec<(f64, bool)> = stored
        .occurrences
        .iter()
        .map(|o| (o.timestamp, o.completed))
        .collect();
    assert_eq!(flags, [(100.0, true), (300.0, false)]);
    assert!(stored.occurrences[0].completed_at_ms.is_some());
    assert_eq!(db.put_macro("d", &a_macro("m2", &[50.0]), 2).unwrap(), Some(true));
    assert_eq!(
        db.put_macro("d", &a_macro("m3", &[1.0]), 2).unwrap(),
        None,
        "at the limit"
    );
    let windowed = db.macros("d", Some((250.0, 400.0))).unwrap();
    assert_eq!(windowed.len(), 1);
    assert_eq!(windowed[0].occurrences.len(), 1);
    assert_eq!(db.macros("d", None).unwrap().len(), 2);
    assert!(db.delete_macro("d", "m1").unwrap());
    assert!(!db.delete_macro("d", "m1").unwrap());
    assert!(db.macro_record("d", "m1").unwrap().is_none());
    assert_eq!(db.count_rows("macro_occurrences"), 1);
}

pub(super) fn archives_are_replaced_whole(db: &dyn Inspect) {
    let entries = vec![
        ArchiveEntry {
            interval: 60,
            pathpoints: vec!["W1".into(), "W2".into()],
        },
        ArchiveEntry {
            interval: 3600,
            pathpoints: vec!["fA".into()],
        },
    ];
    db.set_archives("d", &entries).unwrap();
    assert_eq!(db.archives("d").unwrap(), entries);
    db.set_archives("d", &entries[1..]).unwrap();
    assert_eq!(db.archives("d").unwrap(), &entries[1..]);
    assert!(db.archives("other").unwrap().is_empty());
}

pub(super) fn metadata_respects_newer_stamps(db: &dyn Inspect) {
    let write = |value, timestamp, unless_higher| MetadataWrite {
        key: "k",
        value,
        timestamp,
        unless_higher,
        by: Writer::Device,
    };
    assert!(db.put_metadata("d", &write("a", 1000.25, true)).unwrap());
    assert!(!db.put_metadata("d", &write("b", 999.0, true)).unwrap(), "older");
    assert!(
        db.put_metadata("d", &write("c", 999.0, false)).unwrap(),
        "unconditional"
    );
    let entry = db.metadata("d", "k").unwrap().unwrap();
    assert_eq!(
        (entry.value.as_str(), entry.timestamp, entry.updated_by),
        ("c", 999.0, Writer::Device)
    );
    assert!(entry.updated_at_ms > 0);
    assert!(db
        .put_metadata(
            "d",
            &MetadataWrite {
                key: "a",
                ..write("z", 1.0, false)
            }
        )
        .unwrap());
    let keys: Vec<String> = db
        .list_metadata("d")
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["a", "k"]);
    assert!(db.delete_metadata("d", "k").unwrap());
    assert!(!db.delete_metadata("d", "k").unwrap());
    assert!(db.metadata("other", "a").unwrap().is_none());
}

fn sensor(fqts: &str, path: &str) -> Sensor {
    Sensor {
        fqts: fqts.into(),
        path: path.into(),
        sensor_type: "number".into(),
    }
}

pub(super) fn sensors_and_their_writes(db: &dyn Inspect) {
    assert_eq!(
        db.put_sensors("d", &[sensor("a b", "W1"), sensor("c", "W2")], false)
            .unwrap(),
        2
    );
    assert_eq!(
        db.put_sensors("d", &[sensor("a b", "W9"), sensor("e", "W3")], false)
            .unwrap(),
        1
    );
    let paths: Vec<String> = db
        .list_sensors("d")
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect();
    assert_eq!(paths, ["W9", "W2", "W3"]);
    // Replacing all removes the others first: "c" counts as new again.
    assert_eq!(db.put_sensors("d", &[sensor("c", "W2")], true).unwrap(), 1);
    assert_eq!(db.list_sensors("d").unwrap(), [sensor("c", "W2")]);
    assert!(db.delete_sensor("d", "c").unwrap());
    assert!(!db.delete_sensor("d", "c").unwrap());

    let write = |ts: i64, fqts: &str| SensorWrite {
        timestamp_ms: ts,
        who: "operator".into(),
        hr_sensor: "Boiler".into(),
        hr_value: json!("21 °C"),
        fqts: fqts.into(),
        value: json!(21.5),
        reason: "test".into(),
        received_at_ms: 0,
    };
    assert_eq!(
        db.store_sensor_writes("d", &[write(1, "a"), write(2, "a"), write(2, "b")])
            .unwrap(),
        3
    );
    assert_eq!(
        db.store_sensor_writes("d", &[write(2, "a"), write(3, "a")])
            .unwrap(),
        1,
        "re-sent"
    );
    let last = db.list_sensor_writes("d", None, 2).unwrap();
    let keys: Vec<(i64, &str)> = last.iter().map(|w| (w.timestamp_ms, w.fqts.as_str())).collect();
    // The most recent two (by time, then fqts), oldest first.
    assert_eq!(keys, [(2, "a"), (3, "a")]);
    assert_eq!(
        (last[1].value.clone(), last[1].hr_value.clone()),
        (json!(21.5), json!("21 °C"))
    );
    assert!(last[1].received_at_ms > 0);
    assert_eq!(db.list_sensor_writes("d", Some("b"), 10).unwrap().len(), 1);
}

pub(super) fn predicates_round_trip(db: &dyn Inspect) {
    let p = Predicate {
        predicate_id: "p1".into(),
        online: true,
        statistic: "max".into(),
        configuration: json!({"path": "W1", "limit": 80, "nested": [1, "x"]}),
        verbose_name: "Too hot".into(),
        group: "B".into(),
        silencing: vec![Silencing {
            start: WeekTime {
                day: 1,
                hour: 22,
                minute: 0,
            },
            stop: WeekTime {
                day: 2,
                hour: 6,
                minute: 30,
            },
        }],
    };
    assert!(db.put_predicate("d", &p).unwrap());
    let mut changed = p.clone();
    changed.online = false;
    assert!(!db.put_predicate("d", &changed).unwrap(), "replaced, not new");
    assert_eq!(db.predicate("d", "p1").unwrap(), Some(changed.clone()));
    assert_eq!(db.list_predicates("d").unwrap(), [changed]);
    assert!(db.predicate("other", "p1").unwrap().is_none());
    assert!(db.delete_predicate("d", "p1").unwrap());
    assert!(!db.delete_predicate("d", "p1").unwrap());
}
