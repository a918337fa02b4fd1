//! Unit tests of the device-resource tables: the migration from the previous release's
//! schema, events (idempotent creation, HTTP-API.md §10 defects), instrumentation, sensors.

use rusqlite::Connection;
use serde_json::json;

use super::*;
use crate::storage::device_info::{DeviceInfo, InstrumentationPatch};
use crate::storage::events::{EventQuery, EventReport};
use crate::storage::schema::MIGRATIONS;
use crate::storage::SeriesQuery;

fn temp_db() -> (tempfile::TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = SqliteStorage::open(dir.path().join("t.db")).expect("open");
    (dir, db)
}

/// The previous release wrote schema version 2: migrations 1 and 2 of this list.
const PREVIOUS_RELEASE_MIGRATIONS: usize = 2;

#[test]
fn a_database_of_the_previous_release_opens_with_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    {
        let conn = Connection::open(&path).expect("create");
        for sql in &MIGRATIONS[..PREVIOUS_RELEASE_MIGRATIONS] {
            conn.execute_batch(sql).expect("old schema");
        }
        conn.pragma_update(None, "user_version", PREVIOUS_RELEASE_MIGRATIONS as i64)
            .expect("version");
        let settings = json!({"verbose_name": "Boiler room", "facets": ["heating"],
            "culture_context": {"timezone": "Europe/Warsaw"}, "extra": 1,
            "slave_devices": [{"device_id": "s1", "master_controller": "m1", "responsible_service": "modbus",
                               "configuration": {"unit": 3}},
                              {"device_id": "s2", "master_controller": "dev", "responsible_service": "rapid",
                               "configuration": "modbus 9600 8n1"}]});
        conn.execute_batch(&format!(
            "INSERT INTO devices (device_id, environment, settings) VALUES ('dev', 2, '{settings}');
             INSERT INTO devices (device_id) VALUES ('plain');
             INSERT INTO orders (device_id, sections, state, queued_at) VALUES ('dev', x'40', 0, 1);
             INSERT INTO orders (device_id, sections, state, queued_at) VALUES ('dev', x'41', 2, 2);
             INSERT INTO samples VALUES ('dev', 'W1', 1000, 5, NULL, 1);
             INSERT INTO logs (device_id, service, when_us, level, message, received_at)
                 VALUES ('dev', 'svc', 1, 20, 'hello', 1);
             INSERT INTO messages VALUES ('dev', 'm-1', 1);
             INSERT INTO pathpoints VALUES ('dev', 'W1', 0, 1);"
        ))
        .expect("old data");
    }
    let db = SqliteStorage::open(&path).expect("migrates");
    let version: i64 = db
        .lock()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, crate::storage::SCHEMA_VERSION);

    // Orders, samples, logs, message reports and pathpoints are all still there.
    let orders = db.list_orders("dev", None, 10).expect("orders");
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].state, OrderState::Queued);
    assert_eq!(db.hand_out_orders("dev").expect("pending").len(), 1);
    assert_eq!(
        db.read_series("dev", &SeriesQuery::default()).expect("series")[0]
            .values
            .len(),
        1
    );
    assert_eq!(db.read_logs("dev", 10).expect("logs")[0].message, "hello");
    assert_eq!(db.list_messages("dev", 10).expect("messages")[0].uuid, "m-1");
    assert_eq!(db.register_pathpoints("dev", &[]).expect("pathpoints").len(), 1);

    // The settings became the device information, slaves and all.
    let info = db.device_info("dev").expect("info");
    assert_eq!(info.verbose_name.as_deref(), Some("Boiler room"));
    assert_eq!(info.facets, ["heating"]);
    assert_eq!(info.culture_context.timezone, "Europe/Warsaw");
    assert_eq!(info.culture_context.language, "en");
    assert_eq!(info.slave_devices.len(), 2);
    assert_eq!(info.slave_devices[0].master_controller, "m1");
    assert_eq!(info.slave_devices[0].configuration, json!({"unit": 3}));
    assert_eq!(info.slave_devices[1].configuration, json!("modbus 9600 8n1"));
    let instr = db
        .instrumentation("dev", "s2")
        .expect("read")
        .expect("slave exists");
    assert_eq!(
        (instr.linkstate.as_str(), instr.instrumentation.as_str()),
        ("{}", "")
    );
    assert_eq!(db.device_info("plain").expect("info"), DeviceInfo::default());
}

fn event(message: &str) -> EventReport {
    EventReport::from_json(
        &json!({"started_on": 1_796_062_739, "color": 1, "alarm_type": 0, "token": "t",
        "group": "B", "message": message, "metadata": {"predicate_id": "p1"}}),
    )
    .expect("valid")
}

#[test]
fn events_are_created_once_and_closed_once() {
    let (_dir, db) = temp_db();
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

#[test]
fn closing_from_the_admin_side_sticks() {
    let (_dir, db) = temp_db();
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

#[test]
fn slaves_keep_their_instrumentation_while_listed() {
    let (_dir, db) = temp_db();
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
