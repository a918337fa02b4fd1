//! Conformance: events, slave devices and their instrumentation, sensors, sensor writes and
//! predicates, on any engine ([`Inspect`]).

use serde_json::json;

use super::Inspect;
use crate::storage::device_info::{DeviceInfo, InstrumentationPatch};
use crate::storage::events::{EventQuery, EventReport};

fn event(message: &str) -> EventReport {
    EventReport::from_json(
        &json!({"started_on": 1_796_062_739, "color": 1, "alarm_type": 0, "token": "t",
        "group": "B", "message": message, "metadata": {"predicate_id": "p1"}}),
    )
    .expect("valid")
}

pub(super) fn events_are_created_once_and_closed_once(db: &dyn Inspect) {
    // Opened and closed before the first sync: the same event twice, without a uuid.
    let mut closed = event("a");
    closed.ended_on = Some(1_796_062_800.0);
    let open_b = event("b");
    let uuids = db
        .report_events("dev", &[closed.clone(), closed.clone(), open_b.clone()])
        .expect("batch");
    assert_eq!(uuids[0], uuids[1]);
    assert_ne!(uuids[0], uuids[2]);
    assert_eq!(uuids[0].len(), 36);
    // The answer was lost: the batch comes again, and lands on the same events.
    assert_eq!(
        db.report_events("dev", &[closed, open_b.clone()]).expect("again"),
        [uuids[0].clone(), uuids[2].clone()]
    );
    let all = db
        .list_events(
            "dev",
            EventQuery {
                open: None,
                limit: 10,
            },
        )
        .expect("list");
    assert_eq!(all.len(), 2);
    let open = db
        .list_events(
            "dev",
            EventQuery {
                open: Some(true),
                limit: 10,
            },
        )
        .expect("open");
    assert_eq!(open.len(), 1);

    // A uuid the client mis-assigned (b's content under a's uuid) still updates b.
    let mut b_closed = open_b;
    b_closed.uuid = Some(uuids[0].clone());
    b_closed.ended_on = Some(1_796_062_900.0);
    assert_eq!(
        db.report_events("dev", &[b_closed]).expect("update"),
        [uuids[2].clone()]
    );
    let b = db.event("dev", &uuids[2]).expect("read").expect("exists");
    assert_eq!(
        (b.report.ended_on, b.closed_by.as_deref()),
        (Some(1_796_062_900.0), Some("device"))
    );
    let a = db.event("dev", &uuids[0]).expect("read").expect("exists");
    assert_eq!(a.report.ended_on, Some(1_796_062_800.0));

    // Another device never sees or touches them.
    assert!(db.event("other", &uuids[0]).expect("read").is_none());
    assert!(db
        .close_event("other", &uuids[0], 1.0, None)
        .expect("close")
        .is_none());
    let mut foreign = event("a");
    foreign.uuid = Some(uuids[0].clone());
    let theirs = db.report_events("other", &[foreign]).expect("their own");
    assert_eq!(theirs, [uuids[0].clone()]);
    assert_eq!(
        db.list_events(
            "dev",
            EventQuery {
                open: None,
                limit: 10
            }
        )
        .expect("list")
        .len(),
        2
    );
}

pub(super) fn closing_from_the_admin_side_sticks(db: &dyn Inspect) {
    let uuid = db.report_events("dev", &[event("x")]).expect("open").remove(0);
    let closed = db
        .close_event("dev", &uuid, 1_796_063_000.0, Some("operator"))
        .expect("close")
        .expect("found");
    assert_eq!(closed.closed_by.as_deref(), Some("admin"));
    assert_eq!(closed.report.handled_by.as_deref(), Some("operator"));
    // The device, not told, reports it open again: it stays closed.
    let mut again = event("x");
    again.uuid = Some(uuid.clone());
    db.report_events("dev", &[again]).expect("re-sent");
    let e = db.event("dev", &uuid).expect("read").expect("exists");
    assert_eq!(e.report.ended_on, Some(1_796_063_000.0));
    // A second close keeps the first time.
    let e = db
        .close_event("dev", &uuid, 1_796_064_000.0, None)
        .expect("close")
        .expect("found");
    assert_eq!(e.report.ended_on, Some(1_796_063_000.0));
}

pub(super) fn slaves_keep_their_instrumentation_while_listed(db: &dyn Inspect) {
    let mut info = DeviceInfo::default();
    info.apply(
        "dev",
        &json!({"slave_devices": [{"device_id": "s1"}, {"device_id": "s2"}]}),
    )
    .expect("valid");
    db.set_device_info("dev", &info).expect("store");
    let patch = InstrumentationPatch {
        instrumentation: Some("ok".into()),
        linkstate: None,
    };
    assert!(db
        .patch_instrumentation("dev", "s1", &patch)
        .expect("patch")
        .is_some());
    assert!(db
        .patch_instrumentation("dev", "nope", &patch)
        .expect("patch")
        .is_none());
    assert!(db
        .patch_instrumentation("other", "s1", &patch)
        .expect("patch")
        .is_none());
    info.apply(
        "dev",
        &json!({"slave_devices": [{"device_id": "s1", "configuration": "new"}]}),
    )
    .expect("valid");
    db.set_device_info("dev", &info).expect("store");
    assert_eq!(
        db.instrumentation("dev", "s1")
            .expect("read")
            .expect("kept")
            .instrumentation,
        "ok"
    );
    assert!(db.instrumentation("dev", "s2").expect("read").is_none());
}
