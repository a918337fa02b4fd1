//! The framework's pathpoint operations on a device with no server in reach: attempts by
//! advise level, read checks, reparse values, minimum read intervals, values set by the
//! program, and the store they go to.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ngtt_testkit::TestPki;
use smok_client::orders::{Advise, Order, PathpointValue, Section};
use smok_client::pathpoint::{Attempts, Pathpoint, PathpointIo};
use smok_client::{AuthMode, ClientError, ReadError, Sample, SensorsFrom, SmokDevice};

/// Fails the first `failures` calls of each kind, then reads `value` / accepts writes.
struct Flaky {
    failures: u32,
    reads: AtomicU32,
    writes: AtomicU32,
    value: PathpointValue,
}

impl Flaky {
    fn new(failures: u32, value: impl Into<PathpointValue>) -> Arc<Self> {
        Arc::new(Flaky {
            failures,
            reads: AtomicU32::new(0),
            writes: AtomicU32::new(0),
            value: value.into(),
        })
    }
}

impl PathpointIo for Flaky {
    async fn read(&self, _: &str, _: Advise) -> Result<PathpointValue, ReadError> {
        if self.reads.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(ReadError::Timeout);
        }
        Ok(self.value.clone())
    }
    async fn write(&self, _: &str, _: PathpointValue, _: Advise) -> Result<(), ReadError> {
        if self.writes.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(ReadError::Timeout);
        }
        Ok(())
    }
}

/// A device whose server is nowhere (uploads wait in the store).
fn offline_device(pki: &TestPki) -> SmokDevice {
    let cert = pki.device("offline");
    let (device, _orders) = SmokDevice::builder(cert.cert_pem, cert.key_pem)
        .http_base_url("http://127.0.0.1:9")
        .http_auth(AuthMode::ProxyHeader)
        .http_timeouts(Duration::from_millis(200), Duration::from_millis(200))
        .fetch_orders(false)
        .sync_sensors(false)
        .attempts(Attempts {
            pause: Duration::from_millis(1),
            max_pause: Duration::from_millis(1),
            ..Attempts::default()
        })
        .build()
        .expect("device");
    device
}

#[tokio::test]
async fn attempts_follow_the_advise_level() {
    let pki = TestPki::new();
    let device = offline_device(&pki);
    let twice = Flaky::new(2, 7);
    device
        .register_pathpoint(Pathpoint::shared("W1", twice.clone()))
        .unwrap();
    // ADVISE: one attempt; the failure is recorded as an error sample.
    let s = device.read("W1", Advise::Advise).await.unwrap();
    assert!(
        matches!(
            s,
            Sample::Error {
                error: ReadError::Timeout,
                ..
            }
        ),
        "{s:?}"
    );
    // FORCE: up to three.
    let s = device.read("W1", Advise::Force).await.unwrap();
    assert!(
        matches!(
            s,
            Sample::Value {
                value: PathpointValue::Int(7),
                ..
            }
        ),
        "{s:?}"
    );
    assert_eq!(twice.reads.load(Ordering::SeqCst), 3);

    let nine = Flaky::new(9, 0);
    device
        .register_pathpoint(Pathpoint::shared("W2", nine.clone()))
        .unwrap();
    let e = device.write("W2", 5, Advise::Advise).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Operation {
                operation: "write",
                error: ReadError::Timeout,
                ..
            }
        ),
        "{e}"
    );
    device
        .write("W2", 5, Advise::Force)
        .await
        .expect("ten attempts are enough");
    assert_eq!(nine.writes.load(Ordering::SeqCst), 10);

    // Both read samples wait in the store for upload.
    assert_eq!(device.store_stats().unwrap().samples_pending, 2);
    device.close(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn reads_are_checked_and_reparse_values_computed() {
    let pki = TestPki::new();
    let device = offline_device(&pki);
    device
        .register_pathpoint(Pathpoint::new("W1", Flaky::new(0, 70_000)))
        .unwrap();
    device
        .register_pathpoint(Pathpoint::new("d2", Flaky::new(0, 2.5)))
        .unwrap();
    device
        .register_pathpoint(Pathpoint::new("f3", Flaky::new(0, "1.1")))
        .unwrap();
    let s = device.read("W1", Advise::Advise).await.unwrap();
    assert!(
        matches!(
            s,
            Sample::Error {
                error: ReadError::Type,
                ..
            }
        ),
        "out of range: {s:?}"
    );
    let s = device.read("f3", Advise::Advise).await.unwrap();
    assert!(matches!(s, Sample::Value { value: PathpointValue::Float(v), .. } if v == f64::from(1.1f32)));

    // Reparse: reading reads the constituents, nested ones too.
    let v = device.read("rd{rd{d2}*2}+1", Advise::Advise).await.unwrap();
    assert!(
        matches!(v, Sample::Value { value: PathpointValue::Float(x), .. } if x == 6.0),
        "{v:?}"
    );
    assert_eq!(
        device.value("rW{d2}*2").unwrap().map(|s| s.ts()),
        device.value("d2").unwrap().map(|s| s.ts())
    );
    // A failed constituent makes the reparse value a failed read.
    let failed = device.value("rf{W1}+{d2}").unwrap().unwrap();
    assert!(matches!(
        failed,
        Sample::Error {
            error: ReadError::Type,
            ..
        }
    ));
    // Not yet read: no value.
    device
        .register_pathpoint(Pathpoint::new("W4", Flaky::new(0, 1)))
        .unwrap();
    assert_eq!(device.value("rW{W4}").unwrap(), None);
    // Bad expressions are errors, not panics; writes to reparse paths do nothing.
    assert!(matches!(device.value("rW{W4"), Err(ClientError::Path(_))));
    assert!(device.read("rW1/0+{d2}", Advise::Advise).await.is_err());
    device.write("rW{W4}", 1, Advise::Force).await.unwrap();
    assert!(matches!(
        device.read("W77", Advise::Advise).await,
        Err(ClientError::NoSuchPathpoint(_))
    ));
    // Reparse values are never queued for upload.
    assert_eq!(device.store_stats().unwrap().samples_pending, 4);
    device.close(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn program_values_intervals_and_orders() {
    let pki = TestPki::new();
    let device = offline_device(&pki);
    let io = Flaky::new(0, 3);
    device
        .register_pathpoint(Pathpoint::shared("W1", io.clone()).min_read_interval(Duration::from_secs(3600)))
        .unwrap();
    let first = device.read("W1", Advise::Advise).await.unwrap();
    let again = device.read("W1", Advise::Force).await.unwrap();
    assert_eq!(first, again, "too soon: the last value, no read");
    assert_eq!(io.reads.load(Ordering::SeqCst), 1);

    device.set_value("u5", 1_000, 42).unwrap();
    assert_eq!(device.value("u5").unwrap(), Some(Sample::value(1_000, "42")));
    assert!(
        device.set_value("u5", 1_000, "again").is_err(),
        "one sample per timestamp"
    );
    device.set_failed("u5", 2_000, ReadError::Malformed).unwrap();
    assert!(
        device.set_value("rW{W1}", 3_000, 1).is_err(),
        "reparse values are computed"
    );
    assert!(device.set_value("Q1", 3_000, 1).is_err());

    // Orders run against the registry; an invalid write is skipped, the rest runs.
    let report = device
        .execute(&[Section::new([
            Order::write("W1", "nonsense"),
            Order::write("W1", 9),
            Order::read("rW{W1}*2"),
        ])])
        .await;
    assert_eq!(
        (report.executed, report.skipped_unrecognized.len()),
        (2, 1),
        "{report}"
    );
    assert_eq!(io.writes.load(Ordering::SeqCst), 1);
    assert_eq!(device.ready().await.sensors, SensorsFrom::Disabled);
    assert!(matches!(
        device.sensor_value("no such"),
        Err(ClientError::NoSuchSensor(_))
    ));
    device.close(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn close_does_not_wait_for_a_server_that_never_answers() {
    // Accepts connections and never answers: the sensor sync hangs in its request.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let pki = TestPki::new();
    let cert = pki.device("silent");
    let (device, _orders) = SmokDevice::builder(cert.cert_pem, cert.key_pem)
        .http_base_url(format!("http://{addr}"))
        .http_auth(AuthMode::ProxyHeader)
        .fetch_orders(false)
        .build()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        device.readiness().sensors,
        SensorsFrom::Pending,
        "the request hangs"
    );
    // The request timeout is 30 s; close() must not wait for it.
    tokio::time::timeout(Duration::from_secs(5), device.close(Duration::from_millis(100)))
        .await
        .expect("close returns without waiting for the hanging request");
    accept.abort();
}
