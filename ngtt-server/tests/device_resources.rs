//! The device HTTP API's resources (HTTP-API.md routes 1, 7–9, 20, 21; the alarms of route 10
//! are in device_events.rs) over real HTTPS with client certificates, set up through the admin
//! API: exact answer shapes in JSON and MiniJSON, the client defects of §10, malformed and
//! oversized bodies (4xx, nothing stored), and isolation between devices.

use ngtt_testkit::{http_device as device, http_server as start, status_of, TestPki, MINIJSON};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn device_information_and_its_admin_resource() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");

    let defaults = json!({"device_id": "dev1", "verbose_name": "dev1", "facets": [],
        "culture_context": {"language": "en", "timezone": "UTC", "units": "metric"}, "slave_devices": []});
    let answer = dev.simple(Method::GET, "/v1/device").await;
    assert_eq!(
        (answer.status, answer.content_type.as_str(), &answer.body),
        (200, "application/json", &defaults)
    );
    assert_eq!(
        server.admin(Method::GET, "/v1/devices/dev1/info", None).await,
        (200, defaults)
    );

    let info = json!({"verbose_name": "Test device", "facets": ["smoke"],
        "culture_context": {"timezone": "Europe/Warsaw", "units": "metric", "language": "pl"},
        "slave_devices": [{"device_id": "1", "master_controller": "dev1", "configuration": "rapid 1",
                           "responsible_service": "rapid"}]});
    let (status, stored) = server
        .admin(Method::PUT, "/v1/devices/dev1/info", Some(info))
        .await;
    assert_eq!(status, 200, "{stored}");
    let expected = json!({"device_id": "dev1", "verbose_name": "Test device", "facets": ["smoke"],
        "culture_context": {"language": "pl", "timezone": "Europe/Warsaw", "units": "metric"},
        "slave_devices": [{"device_id": "1", "master_controller": "dev1", "responsible_service": "rapid",
                           "configuration": "rapid 1"}]});
    assert_eq!(stored, expected);
    assert_eq!(dev.simple(Method::GET, "/v1/device").await.body, expected);
    let mini = dev
        .call(Method::GET, "/v1/device", None, &[("accept", MINIJSON.into())])
        .await;
    assert_eq!((mini.content_type.as_str(), &mini.body), (MINIJSON, &expected));

    // PATCH changes only what it names; the old /settings path still reads the same resource.
    let (status, patched) = server
        .admin(
            Method::PATCH,
            "/v1/devices/dev1/info",
            Some(json!({"culture_context": {"units": "imperial"}})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["culture_context"]["timezone"], "Europe/Warsaw");
    assert_eq!(patched["culture_context"]["units"], "imperial");
    assert_eq!(
        server
            .admin(Method::GET, "/v1/devices/dev1/settings", None)
            .await
            .1,
        patched
    );

    // Bad information: 400 with a reason, nothing changed.
    for bad in [
        json!({"facets": "x"}),
        json!({"culture_context": {"units": "parsecs"}}),
        json!({"verbose_name": "ok", "slave_devices": [{"configuration": "no id"}]}),
        json!({"device_id": "dev2"}),
        json!(["not", "an", "object"]),
    ] {
        let (status, body) = server
            .admin(Method::PUT, "/v1/devices/dev1/info", Some(bad.clone()))
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(!status_of(&body).is_empty());
    }
    assert_eq!(dev.simple(Method::GET, "/v1/device").await.body, patched);
    // Another device sees its own defaults.
    let other = device(&server, &pki, "dev2")
        .simple(Method::GET, "/v1/device")
        .await;
    assert_eq!(
        (
            other.body["verbose_name"].as_str(),
            other.body["slave_devices"].clone()
        ),
        (Some("dev2"), json!([]))
    );
    server.stop().await;
}

#[tokio::test]
async fn sensors_are_served_as_the_admin_set_them() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/sensors").await.body,
        json!([])
    );

    let sensors = json!([{"fqts": "temp boiler", "path": "W1", "type": "std.Number10"},
                         {"fqts": "name", "path": "u2~u3", "type": "std.Unicode"}]);
    let (status, body) = server
        .admin(Method::PUT, "/v1/devices/dev1/sensors", Some(sensors))
        .await;
    assert_eq!(status, 200, "{body}");
    let served = json!([{"fqts": "boiler temp", "path": "W1", "type": "std.Number10"},
                        {"fqts": "name", "path": "u2~u3", "type": "std.Unicode"}]);
    assert_eq!(dev.simple(Method::GET, "/v1/device/sensors").await.body, served);
    let mini = dev
        .call(
            Method::GET,
            "/v1/device/sensors",
            None,
            &[("accept", MINIJSON.into())],
        )
        .await;
    assert_eq!((mini.content_type.as_str(), &mini.body), (MINIJSON, &served));

    // One sensor: created (201), replaced (200), read with its words in any order, deleted.
    let one = json!({"path": "f7", "type": "x(precision=1, multiplier=0.5)"});
    let (status, _) = server
        .admin(
            Method::PUT,
            "/v1/devices/dev1/sensors/zeta%20alpha",
            Some(one.clone()),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .admin(Method::PUT, "/v1/devices/dev1/sensors/alpha%20zeta", Some(one))
        .await;
    assert_eq!(status, 200);
    let (status, got) = server
        .admin(Method::GET, "/v1/devices/dev1/sensors/zeta%20alpha", None)
        .await;
    assert_eq!((status, got["fqts"].as_str()), (200, Some("alpha zeta")));
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/sensors")
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let (status, _) = server
        .admin(Method::DELETE, "/v1/devices/dev1/sensors/alpha%20zeta", None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .admin(Method::DELETE, "/v1/devices/dev1/sensors/alpha%20zeta", None)
        .await;
    assert_eq!(status, 404);

    // A type the published client would eval, a bad path, a duplicate: refused, nothing stored.
    for bad in [
        json!([{"fqts": "a", "path": "W1", "type": "x(__import__('os').system('reboot'))"}]),
        json!([{"fqts": "a", "path": "Q1", "type": "std.Number10"}]),
        json!([{"fqts": "a", "path": "W1", "type": "t"}, {"fqts": "a", "path": "W2", "type": "t"}]),
        json!({"fqts": "a"}),
    ] {
        let (status, body) = server
            .admin(Method::PUT, "/v1/devices/dev1/sensors", Some(bad.clone()))
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(dev.simple(Method::GET, "/v1/device/sensors").await.body, served);
    assert_eq!(
        device(&server, &pki, "dev2")
            .simple(Method::GET, "/v1/device/sensors")
            .await
            .body,
        json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn predicates_with_silencing() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/predicates").await.body,
        json!([])
    );

    let (status, body) = server.admin(Method::PUT,
        "/v1/devices/dev1/predicates/p1",
        Some(
            json!({"statistic": "temp.high", "configuration": {"max": 80}, "verbose_name": "Boiler too hot"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let silencing =
        json!([{"start": {"day": 1, "hour": 8, "minute": 0}, "stop": {"day": 5, "hour": 16, "minute": 30}}]);
    let (status, body) = server
        .admin(
            Method::PATCH,
            "/v1/devices/dev1/predicates/p1",
            Some(json!({"silencing": silencing, "group": "A"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let served = json!([{"predicate_id": "p1", "online": true, "statistic": "temp.high",
        "configuration": {"max": 80}, "verbose_name": "Boiler too hot", "group": "A", "silencing": silencing}]);
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/predicates").await.body,
        served
    );
    let mini = dev
        .call(
            Method::GET,
            "/v1/device/predicates",
            None,
            &[("accept", MINIJSON.into())],
        )
        .await;
    assert_eq!(mini.body, served);

    // Offline keeps it listed with online false; bad changes are refused and change nothing.
    let (status, _) = server
        .admin(
            Method::PATCH,
            "/v1/devices/dev1/predicates/p1",
            Some(json!({"online": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/predicates").await.body[0]["online"],
        false
    );
    for bad in [
        json!({"silencing": [{"start": {"day": 7, "hour": 23, "minute": 0}, "stop": {"day": 1, "hour": 1, "minute": 0}}]}),
        json!({"silencing": [{"start": {"day": 0, "hour": 0, "minute": 0}, "stop": {"day": 1, "hour": 0, "minute": 0}}]}),
        json!({"online": "yes"}),
        json!({"configuration": null}),
    ] {
        let (status, body) = server
            .admin(Method::PATCH, "/v1/devices/dev1/predicates/p1", Some(bad.clone()))
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = server
        .admin(Method::PUT, "/v1/devices/dev1/predicates/p2", Some(json!({})))
        .await;
    assert_eq!(status, 400, "a predicate needs a statistic");
    let (status, _) = server
        .admin(
            Method::PATCH,
            "/v1/devices/dev1/predicates/p9",
            Some(json!({"online": true})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/predicates").await.body[0]["silencing"],
        silencing
    );
    assert_eq!(
        device(&server, &pki, "dev2")
            .simple(Method::GET, "/v1/device/predicates")
            .await
            .body,
        json!([])
    );
    let (status, _) = server
        .admin(Method::DELETE, "/v1/devices/dev1/predicates/p1", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/predicates").await.body,
        json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn sensor_writes_are_logged_once() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let record = json!({"timestamp": 1_796_062_739_000_i64, "who": "operator", "hr_sensor": "Boiler temperature",
        "hr_value": "21.5 °C", "fqts": "boiler temp", "value": "215", "reason": "manual"});
    let batch = vec![record.clone(), record.clone()];
    let answer = dev
        .minijson(Method::PUT, "/v1/device/sensor/write_log", &batch)
        .await;
    assert_eq!((answer.status, answer.body.clone()), (200, json!({"stored": 1})));
    let again = dev
        .minijson(Method::PUT, "/v1/device/sensor/write_log", &vec![record.clone()])
        .await;
    assert_eq!(again.body, json!({"stored": 0}));

    let mut bad = record.clone();
    bad["timestamp"] = json!(1_796_062_740_000_i64);
    bad.as_object_mut().unwrap().remove("who");
    let mut good = record.clone();
    good["timestamp"] = json!(1_796_062_741_000_i64);
    let refused = dev
        .minijson(Method::PUT, "/v1/device/sensor/write_log", &vec![good, bad])
        .await;
    assert_eq!(refused.status, 400);
    assert!(status_of(&refused.body).contains("record 1"), "{}", refused.body);
    let not_list = dev
        .minijson(Method::PUT, "/v1/device/sensor/write_log", &record)
        .await;
    assert_eq!(not_list.status, 400);
    let big = vec![b' '; (16 << 20) + 1];
    let oversized = dev
        .call(
            Method::PUT,
            "/v1/device/sensor/write_log",
            Some(("application/json", big)),
            &[],
        )
        .await;
    assert_eq!(oversized.status, 413, "{:?}", oversized.body);

    let (status, log) = server
        .admin(Method::GET, "/v1/devices/dev1/sensor-writes", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        log.as_array().map(Vec::len),
        Some(1),
        "nothing of the refused batch: {log}"
    );
    assert_eq!(
        (log[0]["who"].as_str(), log[0]["value"].as_str()),
        (Some("operator"), Some("215"))
    );
    let (_, filtered) = server
        .admin(
            Method::GET,
            "/v1/devices/dev1/sensor-writes?fqts=temp%20boiler",
            None,
        )
        .await;
    assert_eq!(filtered.as_array().map(Vec::len), Some(1));
    let (_, theirs) = server
        .admin(Method::GET, "/v1/devices/dev2/sensor-writes", None)
        .await;
    assert_eq!(theirs, json!([]));
    server.stop().await;
}

#[tokio::test]
async fn slave_instrumentation_is_the_masters_only() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let info = json!({"slave_devices": [{"device_id": "7", "configuration": "modbus 9600 8n1"}]});
    assert_eq!(
        server
            .admin(Method::PUT, "/v1/devices/dev1/info", Some(info))
            .await
            .0,
        200
    );

    let path = "/v1/device/instrumentation/7";
    let answer = dev.simple(Method::GET, path).await;
    assert_eq!(
        (answer.status, answer.body.clone()),
        (200, json!({"linkstate": "{}", "instrumentation": ""}))
    );
    let linkstate = "{\"status\":false,\"failed_devices\":[3]}";
    let patched = dev
        .minijson(Method::PATCH, path, &json!({"linkstate": linkstate}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let patched = dev
        .minijson(Method::PATCH, path, &json!({"instrumentation": "CRC errors: 4"}))
        .await;
    assert_eq!(
        patched.body,
        json!({"linkstate": linkstate, "instrumentation": "CRC errors: 4"})
    );
    let mini = dev
        .call(Method::GET, path, None, &[("accept", MINIJSON.into())])
        .await;
    assert_eq!(mini.body, patched.body);

    for bad in [
        json!({}),
        json!({"linkstate": "not json"}),
        json!({"colour": "x"}),
        json!({"instrumentation": 3}),
    ] {
        let answer = dev.minijson(Method::PATCH, path, &bad).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
    }
    let big = json!({"instrumentation": "x".repeat(300 << 10)});
    assert_eq!(dev.minijson(Method::PATCH, path, &big).await.status, 413);
    assert_eq!(dev.simple(Method::GET, path).await.body, patched.body);

    // Another device cannot read or change dev1's slave; unknown slaves are 404.
    let dev2 = device(&server, &pki, "dev2");
    assert_eq!(dev2.simple(Method::GET, path).await.status, 404);
    assert_eq!(
        dev2.minijson(Method::PATCH, path, &json!({"instrumentation": "x"}))
            .await
            .status,
        404
    );
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/instrumentation/8")
            .await
            .status,
        404
    );
    let (status, seen) = server
        .admin(Method::GET, "/v1/devices/dev1/slaves/7/instrumentation", None)
        .await;
    assert_eq!(
        (status, seen["instrumentation"].as_str()),
        (200, Some("CRC errors: 4"))
    );
    assert_eq!(seen["linkstate_parsed"]["failed_devices"], json!([3]));
    let (status, _) = server
        .admin(
            Method::PATCH,
            "/v1/devices/dev1/slaves/7/instrumentation",
            Some(json!({"linkstate": {"status": true}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        dev.simple(Method::GET, path).await.body["linkstate"],
        "{\"status\":true}"
    );
    server.stop().await;
}
