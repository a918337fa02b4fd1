//! `smok-client` as a device framework against a real server (in-process, the same code as
//! `ngtt serve`), over real sockets and TLS, in both modes: pathpoints read and written by
//! orders and uploaded by the framework, registration both ways, reparse pathpoints, sensors
//! synced from the server and their writes logged back, and bad input skipped.
//! `smok_durability.rs` kills device processes; hostile answers are in `smok_hostile.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ngtt_proto::payload::{Advise, PathpointValue, ReadError, Sample};
use ngtt_server::storage::sensors::Sensor as ServerSensor;
use ngtt_server::storage::{RegisteredPathpoint, SeriesQuery, StorageLevel as ServerLevel};
use ngtt_testkit::smok::{any_port, device_builder, start_server, Mode, T0};
use ngtt_testkit::{both_modes, TestPki};
use ngtt_testkit::{init_logging, TestServer, WAIT};
use serde_json::json;
use smok_client::pathpoint::{Pathpoint, PathpointIo};
use smok_client::sensor::SensorValue;
use smok_client::{SensorsFrom, SmokDevice, StorageLevel};
use tokio::time::timeout;

both_modes!(
    orders_run_against_the_registry,
    sensors_from_the_server_and_writes_back,
    bad_orders_are_skipped,
);

/// The device's hardware: a register map. Reads of `W13…` time out.
#[derive(Default)]
struct Registers {
    values: Mutex<HashMap<String, PathpointValue>>,
    writes: Mutex<Vec<(String, PathpointValue)>>,
}

impl Registers {
    fn set(&self, path: &str, value: impl Into<PathpointValue>) {
        self.values.lock().unwrap().insert(path.to_owned(), value.into());
    }
    fn writes(&self) -> Vec<(String, PathpointValue)> {
        self.writes.lock().unwrap().clone()
    }
}

struct Bus(Arc<Registers>);

impl PathpointIo for Bus {
    async fn read(&self, path: &str, _advise: Advise) -> Result<PathpointValue, ReadError> {
        if path.starts_with("W13") {
            return Err(ReadError::Timeout);
        }
        let value = self.0.values.lock().unwrap().get(path).cloned();
        value.ok_or(ReadError::Invalid)
    }
    async fn write(&self, path: &str, value: PathpointValue, _advise: Advise) -> Result<(), ReadError> {
        self.0
            .writes
            .lock()
            .unwrap()
            .push((path.to_owned(), value.clone()));
        self.0.values.lock().unwrap().insert(path.to_owned(), value);
        Ok(())
    }
}

async fn server(pki: &TestPki) -> TestServer {
    start_server(pki, pki.dir().join("ngtt.db"), any_port(), any_port()).await
}

/// A device whose pathpoints live in `registers`: W1 and d2 registered, `W9…` made on demand.
fn boiler(
    pki: &TestPki,
    id: &str,
    mode: Mode,
    server: &TestServer,
    registers: &Arc<Registers>,
) -> SmokDevice {
    let provided = registers.clone();
    let (device, orders) = device_builder(pki, id, mode, server.addr, server.http_addr())
        .pathpoint_provider(move |path: &str| {
            path.starts_with("W9")
                .then(|| Pathpoint::new(path, Bus(provided.clone())))
        })
        .sensor_sync_interval(Duration::from_millis(300))
        .build()
        .expect("device");
    device
        .register_pathpoint(
            Pathpoint::new("W1", Bus(registers.clone())).storage_level(StorageLevel::Permanent),
        )
        .unwrap();
    device
        .register_pathpoint(Pathpoint::new("d2", Bus(registers.clone())))
        .unwrap();
    device
        .register_pathpoint(Pathpoint::new("W13", Bus(registers.clone())))
        .unwrap();
    device.spawn_order_executor(orders);
    device
}

fn samples(server: &TestServer, id: &str, path: &str) -> Vec<Sample> {
    let query = SeriesQuery {
        path: Some(path.into()),
        ..SeriesQuery::default()
    };
    let series = server.handle.storage().read_series(id, &query).unwrap();
    series.into_iter().flat_map(|s| s.values).collect()
}

fn registered(server: &TestServer, id: &str) -> Vec<(String, u8)> {
    let all = server.handle.storage().register_pathpoints(id, &[]).unwrap();
    all.into_iter()
        .map(|p| {
            (
                p.path,
                if p.storage_level == ServerLevel::Permanent {
                    0
                } else {
                    1
                },
            )
        })
        .collect()
}

async fn orders_run_against_the_registry(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = server(&pki).await;
    let id = "framework-1";
    // A pathpoint the server knows and the device program did not register.
    server
        .handle
        .storage()
        .register_pathpoints(
            id,
            &[RegisteredPathpoint {
                path: "W900".into(),
                storage_level: ServerLevel::Permanent,
            }],
        )
        .unwrap();
    let registers = Arc::new(Registers::default());
    registers.set("W1", 215);
    registers.set("d2", 1.5);
    registers.set("W900", 7);
    registers.set("W95", 9);
    let device = boiler(&pki, id, mode, &server, &registers);

    // Registration both ways: the device's list reaches the server, the server's W900 comes
    // back, is made by the provider, and keeps the server's level.
    server
        .until("the device's pathpoints registered", |s| {
            let r = registered(s, id);
            r.contains(&("W1".into(), 0)) && r.contains(&("d2".into(), 1)) && r.contains(&("W900".into(), 0))
        })
        .await;
    timeout(WAIT, async {
        while device.pathpoint("W900").map(|p| p.has_io) != Some(true) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("W900 learnt from the server");
    assert_eq!(
        device.pathpoint("W900").unwrap().storage_level,
        StorageLevel::Permanent
    );

    // Orders: reads go through the registry and their values up to the server; a reparse
    // read reads its constituents; writes are coerced; a write to a reparse path does nothing.
    server
        .queue(
            id,
            json!([
                {"orders": [
                    {"type": "read", "path": "W1"},
                    {"type": "read", "path": "W95"},
                    {"type": "read", "path": "W13"},
                    {"type": "read", "path": "rd{d2}*2+{W900}"},
                    {"type": "write", "path": "W1", "value": 70000, "advise": 1},
                    {"type": "write", "path": "rW{W1}", "value": 1},
                    {"type": "read", "path": "W1"}
                ]}
            ]),
        )
        .await;
    server
        .until("the read values on the server", |s| {
            samples(s, id, "W1").len() == 2
                && samples(s, id, "W95").len() == 1
                && samples(s, id, "d2").len() == 1
                && samples(s, id, "W900").len() == 1
                && samples(s, id, "W13").len() == 1
        })
        .await;
    let w1 = samples(&server, id, "W1");
    assert!(
        matches!(
            &w1[0],
            Sample::Value {
                value: PathpointValue::Int(215),
                ..
            }
        ),
        "{w1:?}"
    );
    assert!(
        matches!(
            &w1[1],
            Sample::Value {
                value: PathpointValue::Int(65535),
                ..
            }
        ),
        "written clipped, read back: {w1:?}"
    );
    assert!(matches!(
        samples(&server, id, "W13")[0],
        Sample::Error {
            error: ReadError::Timeout,
            ..
        }
    ));
    assert_eq!(
        registers.writes(),
        [("W1".to_owned(), PathpointValue::Int(65535))]
    );
    let all = server
        .handle
        .storage()
        .read_series(id, &SeriesQuery::default())
        .unwrap();
    assert!(
        all.iter().all(|s| !s.path.starts_with('r')),
        "reparse pathpoints are never uploaded"
    );

    // The reparse value, computed on the device from the last values.
    let value = device.value("rd{d2}*2+{W900}").unwrap().unwrap();
    assert!(
        matches!(value, Sample::Value { value: PathpointValue::Float(v), .. } if v == 10.0),
        "{value:?}"
    );
    // A value set by the program is uploaded too; an older timestamp is refused.
    device.set_value("d2", T0 + 5_000_000_000_000, 2.5).unwrap();
    assert!(device.set_value("d2", T0, 1.0).is_err());
    server
        .until("the program's value", |s| samples(s, id, "d2").len() == 2)
        .await;
    device.close(Duration::from_secs(3)).await;
    server.stop().await;
}

async fn sensors_from_the_server_and_writes_back(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = server(&pki).await;
    let id = "framework-2";
    let sensor = |fqts: &str, path: &str, t: &str| ServerSensor {
        fqts: fqts.into(),
        path: path.into(),
        sensor_type: t.into(),
    };
    server
        .handle
        .storage()
        .put_sensors(
            id,
            &[
                sensor("boiler temperature", "W1", "std.Number10"),
                sensor(
                    "boiler setpoint",
                    "W95",
                    "x(precision=1, multiplier=0.5, offset=10)",
                ),
                // Served as stored, but its reparse expression does not parse: skipped.
                sensor("broken", "rf{W1", "std.Number10"),
            ],
            true,
        )
        .unwrap();
    let registers = Arc::new(Registers::default());
    registers.set("W1", 215);
    registers.set("W95", 20);
    let device = boiler(&pki, id, mode, &server, &registers);
    let ready = timeout(WAIT, device.ready()).await.expect("ready in time");
    assert_eq!(ready.sensors, SensorsFrom::Server);
    assert_eq!(
        ready.sensor_count, 2,
        "the broken sensor is skipped, the rest kept"
    );
    let names: Vec<String> = device.sensors().iter().map(|s| s.fqts().to_owned()).collect();
    assert_eq!(names, ["boiler setpoint", "boiler temperature"]);

    let (_, temp) = device
        .read_sensor("temperature boiler", Advise::Advise)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(temp, SensorValue::Number(21.5));
    // Writing a sensor writes its pathpoint, (v − offset) / multiplier; the write is logged.
    device
        .write_sensor_logged(
            "boiler setpoint",
            SensorValue::Number(25.0),
            Advise::Force,
            "tester",
            "comfort",
        )
        .await
        .unwrap();
    assert_eq!(registers.writes(), [("W95".to_owned(), PathpointValue::Int(30))]);
    server
        .until("the sensor write log on the server", |s| {
            let writes = s.handle.storage().list_sensor_writes(id, None, 10).unwrap();
            writes.len() == 1 && writes[0].fqts == "boiler setpoint" && writes[0].who == "tester"
        })
        .await;

    // A change on the server reaches the device with the next sync.
    server
        .handle
        .storage()
        .put_sensors(id, &[sensor("boiler pressure", "d2", "std.Number100")], true)
        .unwrap();
    timeout(WAIT, async {
        while device.sensor("pressure boiler").is_none() || device.sensors().len() != 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the new sensor list");
    device.close(Duration::from_secs(3)).await;
    server.stop().await;
}

async fn bad_orders_are_skipped(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let server = server(&pki).await;
    let id = "framework-3";
    let registers = Arc::new(Registers::default());
    registers.set("W1", 1);
    let device = boiler(&pki, id, mode, &server, &registers);
    server
        .queue(
            id,
            json!([{"orders": [
                {"type": "write", "path": "W1", "value": {"not": "a value"}},
                {"type": "write", "path": "W1", "value": [1, 2]},
                {"type": "write", "path": "W1", "value": "not a number"},
                {"type": "write", "path": "Q1", "value": 1},
                {"type": "read", "path": "rf{W1"},
                {"type": "read", "path": "rf{W1}+nosuch(1)"},
                {"type": "read"},
                {"type": "write", "path": "W1", "value": "42"},
                {"type": "read", "path": "W1"}
            ]}]),
        )
        .await;
    server
        .until("the good orders of the section ran", |s| {
            samples(s, id, "W1").iter().any(|v| {
                matches!(
                    v,
                    Sample::Value {
                        value: PathpointValue::Int(42),
                        ..
                    }
                )
            })
        })
        .await;
    assert_eq!(registers.writes(), [("W1".to_owned(), PathpointValue::Int(42))]);
    device.close(Duration::from_secs(3)).await;
    server.stop().await;
}
