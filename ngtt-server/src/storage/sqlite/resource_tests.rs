//! Unit tests of SQLite's device-resource tables: the migration from the previous release's
//! schema (the resources themselves are checked on every engine by the conformance suite).

use rusqlite::Connection;
use serde_json::json;

use super::*;
use crate::storage::device_info::DeviceInfo;
use crate::storage::schema::MIGRATIONS;
use crate::storage::SeriesQuery;

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
