//! The device's time zone (issue 10: one owner, from the culture context) against a real
//! server (in-process, the same code as `ngtt serve`) in both modes: the zone set with the
//! admin API reaches the device's silencing, `timezone()` and `local_time()`; a change made on
//! the server reaches them too; a device restarted without network has the zone it stored, and
//! follows the server again once it is back. Against a hostile server: malformed answers and
//! unusable zone names are logged and skipped, the known zone stays, the other syncs go on.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ngtt_testkit::hostile::{hostile_device, json_answer, serve_plain};
use ngtt_testkit::smok::{device_builder, start_server, vacant_addr, Mode};
use ngtt_testkit::{both_modes, init_logging, wait_until, TestPki, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use smok_client::alarm::{DeviceZone, PredicateInfo, Statistic, StatisticContext};
use smok_client::local_time::offset_at;
use smok_client::store::{SqliteStore, StateStore};
use smok_client::{SmokDevice, SmokDeviceBuilder};

both_modes!(the_zone_follows_the_server_and_survives_a_restart);

/// What the `watch` statistic saw at its last tick.
const UNSEEN: u8 = 0;
const SILENCED: u8 = 1;
const ACTIVE: u8 = 2;

/// Records at each tick whether its predicate is silenced.
struct Watch(Arc<AtomicU8>);

impl Statistic for Watch {
    fn tick(&mut self, ctx: &mut StatisticContext<'_>) {
        let seen = if ctx.is_silenced() { SILENCED } else { ACTIVE };
        self.0.store(seen, Ordering::SeqCst);
    }
}

const WEEK: i64 = 7 * 1440;

fn minute_of_week(zone: &str, at: SystemTime) -> i64 {
    let w = DeviceZone::named(zone).unwrap().week_time(at).unwrap();
    (w.day as i64 - 1) * 1440 + w.hour as i64 * 60 + w.minute as i64
}

fn week_time(minute: i64) -> Value {
    json!({"day": minute / 1440 + 1, "hour": minute % 1440 / 60, "minute": minute % 60})
}

/// A zone far from UTC (Tokyo, or Los Angeles when Tokyo is near the end of its week) and a
/// silencing period from an hour before now to an hour after now in that zone: silenced in
/// that zone, not in UTC (at least 7 hours away), whatever the day.
fn silenced_in_a_far_zone() -> (&'static str, Value) {
    let now = SystemTime::now();
    for zone in ["Asia/Tokyo", "America/Los_Angeles"] {
        let m = minute_of_week(zone, now);
        if (60..WEEK - 60).contains(&m) {
            let period = json!({"start": week_time(m - 60), "stop": week_time(m + 60)});
            return (zone, period);
        }
    }
    unreachable!("Tokyo and Los Angeles are 16 hours apart: one is far from Monday 00:00")
}

async fn set_zone(server: &TestServer, id: &str, zone: &str) {
    let body = json!({"culture_context": {"language": "en", "timezone": zone, "units": "metric"}});
    let (status, answer) = server
        .admin(Method::PATCH, &format!("/v1/devices/{id}/info"), Some(body))
        .await;
    assert!((200..300).contains(&status), "{status} {answer}");
}

/// A device refreshing its zone every 100 ms, predicates synced every 200 ms and ticked every
/// 50 ms, the `watch` statistic reporting into `seen`.
fn device(builder: SmokDeviceBuilder, seen: &Arc<AtomicU8>) -> SmokDevice {
    let (device, _orders) = builder
        .time_zone_refresh_interval(Duration::from_millis(100))
        .predicate_sync_interval(Duration::from_millis(200))
        .predicate_tick(Duration::from_millis(50))
        .schedule_timeout(Duration::from_secs(10))
        .sync_sensors(false)
        .fetch_orders(false)
        .build()
        .expect("device");
    let seen = seen.clone();
    device.register_statistic("watch", move |_: &PredicateInfo| Ok(Watch(seen.clone())));
    device
}

async fn local_offset_is(device: &SmokDevice, zone: &str) {
    let local = device.local_time().await.expect("the local time");
    let expected = offset_at(zone, SystemTime::now()).unwrap();
    assert_eq!(local.offset(), expected, "the local time in {zone}");
}

async fn the_zone_follows_the_server_and_survives_a_restart(mode: Mode) {
    init_logging();
    let pki = TestPki::new();
    let (ngtt, http) = (vacant_addr(), vacant_addr());
    let db = pki.dir().join("ngtt.db");
    let store_path = pki.dir().join("device.db");
    let id = "zone-1";
    let (far, period) = silenced_in_a_far_zone();
    let server = start_server(&pki, db.clone(), ngtt, http).await;
    set_zone(&server, id, far).await;
    let (status, answer) = server
        .admin(
            Method::PUT,
            &format!("/v1/devices/{id}/predicates/p1"),
            Some(
                json!({"statistic": "watch", "verbose_name": "Watch", "configuration": {},
                        "silencing": [period]}),
            ),
        )
        .await;
    assert!((200..300).contains(&status), "{status} {answer}");

    let store = Arc::new(SqliteStore::open(&store_path).unwrap());
    let seen = Arc::new(AtomicU8::new(UNSEEN));
    let first = device(
        device_builder(&pki, id, mode, ngtt, http).store(store.clone()),
        &seen,
    );
    wait_until("the server's zone on the device", || {
        first.time_zone().name() == far
    })
    .await;
    assert_eq!(first.timezone().await.unwrap(), far);
    local_offset_is(&first, far).await;
    wait_until("the predicate silenced in that zone", || {
        seen.load(Ordering::SeqCst) == SILENCED
    })
    .await;

    // Changed on the server: silencing, the zone and the stored copy follow.
    set_zone(&server, id, "UTC").await;
    wait_until("UTC on the device", || first.time_zone().name() == "UTC").await;
    wait_until("the predicate no longer silenced", || {
        seen.load(Ordering::SeqCst) == ACTIVE
    })
    .await;
    assert_eq!(first.timezone().await.unwrap(), "UTC");
    local_offset_is(&first, "UTC").await;
    set_zone(&server, id, "Europe/Warsaw").await;
    wait_until("Warsaw on the device", || {
        first.time_zone().name() == "Europe/Warsaw"
    })
    .await;
    let stored = store.get_state("timezone").unwrap();
    assert_eq!(stored.as_deref(), Some(&b"Europe/Warsaw"[..]), "stored");
    first.close(Duration::from_secs(2)).await;
    drop(first);
    drop(store);
    server.stop().await;

    // Restarted without network: the stored zone, at once, for silencing and the local time.
    let seen = Arc::new(AtomicU8::new(UNSEEN));
    let second = device(
        device_builder(&pki, id, mode, ngtt, http).store_path(&store_path),
        &seen,
    );
    assert_eq!(second.time_zone().name(), "Europe/Warsaw");
    assert_eq!(second.timezone().await.unwrap(), "Europe/Warsaw");
    local_offset_is(&second, "Europe/Warsaw").await;
    wait_until("the cached predicate ticked offline, not silenced", || {
        seen.load(Ordering::SeqCst) == ACTIVE
    })
    .await;

    // The server back, the zone changed there: the device follows, silencing too.
    let server = start_server(&pki, db, ngtt, http).await;
    set_zone(&server, id, far).await;
    wait_until("the new zone after the restart", || {
        second.time_zone().name() == far
    })
    .await;
    wait_until("silenced again", || seen.load(Ordering::SeqCst) == SILENCED).await;
    local_offset_is(&second, far).await;
    second.close(Duration::from_secs(2)).await;
}

/// `GET /v1/device` answers in turn: not device info, Warsaw, then forever an unknown zone, a
/// path, a 503 and a name with a newline.
async fn hostile_info(calls: Arc<AtomicUsize>) -> Response {
    let info = |zone: &str| {
        json_answer(
            json!({"device_id": "tz-hostile", "verbose_name": "x", "facets": [],
            "culture_context": {"language": "en", "timezone": zone, "units": "metric"},
            "slave_devices": []}),
        )
    };
    match calls.fetch_add(1, Ordering::SeqCst) {
        0 => json_answer(json!(["not", "device", "info"])),
        1 => info("Europe/Warsaw"),
        n => match n % 4 {
            0 => info("Mars/Olympus_Mons"),
            1 => info("../../../../etc/passwd"),
            2 => (StatusCode::SERVICE_UNAVAILABLE, "later").into_response(),
            _ => info("Europe/Warsaw\nforged log line"),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_zone_answers_keep_the_known_zone() {
    init_logging();
    let calls = Arc::new(AtomicUsize::new(0));
    let info_calls = calls.clone();
    let predicates = json!([{"predicate_id": "p", "online": true, "statistic": "watch",
                             "verbose_name": "P", "group": "A", "configuration": {}}]);
    let app = Router::new()
        .route("/v1/device", get(move || hostile_info(info_calls.clone())))
        .route(
            "/v1/device/predicates",
            get(move || {
                let list = predicates.clone();
                async move { json_answer(list) }
            }),
        );
    let addr = serve_plain(app).await;
    let pki = TestPki::new();
    let seen = Arc::new(AtomicU8::new(UNSEEN));
    let device = device(hostile_device(&pki, "tz-hostile", addr), &seen);

    wait_until("Warsaw, then eight answers more", || {
        calls.load(Ordering::SeqCst) >= 10
    })
    .await;
    assert_eq!(device.time_zone().name(), "Europe/Warsaw", "the known zone stays");
    assert_eq!(device.timezone().await.unwrap(), "Europe/Warsaw");
    local_offset_is(&device, "Europe/Warsaw").await;
    // The predicate sync went on beside it.
    wait_until("the predicate ticked", || seen.load(Ordering::SeqCst) == ACTIVE).await;
    assert_eq!(device.predicates().len(), 1);
    device.close(Duration::from_secs(2)).await;
}
