//! Macros, archive settings and plain metadata over real HTTPS with client certificates (device
//! HTTP API) and the admin API: each route's answers, malformed and oversized bodies (a clear
//! 4xx, nothing stored), and isolation between devices (BAOBs included).

use ngtt_testkit::{admin_request as http, TestPki, MINIJSON};
use reqwest::Method;
use serde_json::json;

use ngtt_testkit::baob::*;

#[tokio::test]
async fn a_device_never_sees_another_devices_resources() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let (one, two) = (device(&server, &pki, "one"), device(&server, &pki, "two"));
    assert_eq!(upload(&one, "secret", b"mine", 3).await.0, 200);
    let (status, _) = http(
        Method::PUT,
        &format!("{}/v1/devices/one/metadata/k", server.admin_url()),
        Some(json!({"value": "v"})),
        server.token.as_deref(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = http(
        Method::PUT,
        &format!("{}/v1/devices/one/macros/m", server.admin_url()),
        Some(json!({"commands": [{"path": "W1", "value": 1}], "occurrences": [1000]})),
        server.token.as_deref(),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = http(
        Method::PUT,
        &format!("{}/v1/devices/one/archives", server.admin_url()),
        Some(json!([{"interval": 60, "pathpoints": ["W1"]}])),
        server.token.as_deref(),
    )
    .await;
    assert_eq!(status, 200);

    // Device two sees none of it, and its writes land in its own namespace.
    assert_eq!(download(&two, "secret").await.0, 404);
    assert_eq!(round(&two, json!([])).await["should_download"].clone(), json!([]));
    assert_eq!(
        round(&two, json!([{"key": "secret", "version": 9}])).await["should_upload"].clone(),
        json!(["secret"])
    );
    assert_eq!(upload(&two, "secret", b"theirs", 0).await.0, 200);
    assert_eq!(
        two.simple(Method::GET, "/v1/device/metadata/plain/k")
            .await
            .status,
        404
    );
    assert_eq!(
        two.simple(Method::DELETE, "/v1/device/metadata/plain/k")
            .await
            .status,
        200
    );
    let macros = two
        .simple(Method::GET, "/v1/device/macro/occurrences/0-2000")
        .await;
    assert_eq!((macros.status, macros.body), (200, json!([])));
    assert_eq!(
        two.simple(Method::POST, "/v1/device/macros/m/1000").await.status,
        404
    );
    let archives = two.simple(Method::GET, "/v1/device/pathpoints/archived").await;
    assert_eq!((archives.status, archives.body), (200, json!([])));

    // Device one's are intact.
    assert_eq!(download(&one, "secret").await, (200, Some(3), b"mine".to_vec()));
    assert_eq!(
        one.simple(Method::GET, "/v1/device/metadata/plain/k").await.body["value"],
        "v"
    );
    let (_, macro_one) = server.get("/v1/devices/one/macros/m").await;
    assert_eq!(macro_one["occurrences"][0]["completed"], false);
    assert_eq!(
        one.simple(Method::GET, "/v1/device/pathpoints/archived")
            .await
            .body[0]["pathpoints"],
        json!(["W1"])
    );
    server.stop().await;
}

#[tokio::test]
async fn macro_occurrences_are_served_by_window_and_completed_once() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let url = format!("{}/v1/devices/dev1/macros/heat-up", server.admin_url());
    let body = json!({"commands": [{"path": "W1", "value": 5}, {"path": "f2", "value": 1.5}, {"path": "u3", "value": "on"}],
                      "occurrences": [1_000_000, 1_000_500.5, 2_000_000]});
    let (status, created) = http(Method::PUT, &url, Some(body.clone()), server.token.as_deref()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["occurrences"][1]["timestamp"], 1_000_500.5);

    let window = "/v1/device/macro/occurrences/999000-1008000";
    let mini = dev
        .call(Method::GET, window, None, &[("accept", MINIJSON.into())])
        .await;
    assert_eq!((mini.status, mini.content_type.as_str()), (200, MINIJSON));
    let answer = dev.simple(Method::GET, window).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body, mini.body, "the same answer in JSON and MiniJSON");
    assert_eq!(
        answer.body,
        json!([{"macro_id": "heat-up", "commands": body["commands"],
                "occurrences": [{"timestamp": 1_000_000, "completed": false},
                                {"timestamp": 1_000_500.5, "completed": false}]}])
    );
    // Reported as Python prints it; a repeat is answered the same way and changes nothing.
    for (path, new) in [
        ("/v1/device/macros/heat-up/1000000.0", true),
        ("/v1/device/macros/heat-up/1000000", false),
        ("/v1/device/macros/heat-up/1000500.5", true),
    ] {
        let answer = dev.simple(Method::POST, path).await;
        assert_eq!(
            (answer.status, answer.body["new"].clone()),
            (200, json!(new)),
            "{path}"
        );
    }
    let answer = dev
        .simple(Method::GET, "/v1/device/macro/occurrences/999000-1008000")
        .await;
    assert_eq!(answer.body[0]["occurrences"][0]["completed"], true);
    assert_eq!(answer.body[0]["occurrences"][1]["completed"], true);
    let (_, stored) = server.get("/v1/devices/dev1/macros/heat-up").await;
    assert!(stored["occurrences"][0]["completed_at"].is_i64(), "{stored}");
    assert_eq!(stored["occurrences"][2]["completed"], false);

    // Replacing the macro keeps the completion of occurrences it still has.
    let (status, replaced) = http(Method::PUT, &url, Some(body), server.token.as_deref()).await;
    assert_eq!(status, 200);
    assert_eq!(replaced["occurrences"][0]["completed"], true);

    for (path, status) in [
        ("/v1/device/macros/heat-up/1000001", 404),
        ("/v1/device/macros/other/1000000", 404),
        ("/v1/device/macros/heat-up/abc", 400),
        ("/v1/device/macros/heat-up/-5", 400),
        ("/v1/device/macros/heat-up/1e9", 400),
    ] {
        let answer = dev.simple(Method::POST, path).await;
        assert_eq!(answer.status, status, "{path}: {:?}", answer.body);
        assert!(answer.body["status"].is_string(), "{path}");
    }
    for path in [
        "/v1/device/macro/occurrences/5",
        "/v1/device/macro/occurrences/9-1",
        "/v1/device/macro/occurrences/0-99999999",
    ] {
        assert_eq!(dev.simple(Method::GET, path).await.status, 400, "{path}");
    }
    for bad in [
        json!({"commands": [], "occurrences": []}),
        json!({"commands": [{"path": "W1"}], "occurrences": []}),
        json!({"commands": [{"path": "W1", "value": 1}], "occurrences": ["x"]}),
        json!([1]),
    ] {
        let (status, reason) = http(Method::PUT, &url, Some(bad.clone()), server.token.as_deref()).await;
        assert_eq!(status, 400, "{bad}: {reason}");
    }
    let (status, _) = http(Method::DELETE, &url, None, server.token.as_deref()).await;
    assert_eq!(status, 200);
    assert_eq!(server.get("/v1/devices/dev1/macros/heat-up").await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn archive_settings_are_served_one_entry_per_interval() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let url = format!("{}/v1/devices/dev1/archives", server.admin_url());
    let (status, stored) = http(
        Method::PUT,
        &url,
        Some(
            json!([{"interval": 600, "pathpoints": ["W2", "W1"]}, {"interval": 60, "pathpoints": ["f1"]},
                    {"interval": 600, "pathpoints": ["u9"]}]),
        ),
        server.token.as_deref(),
    )
    .await;
    assert_eq!(status, 200);
    let expected =
        json!([{"interval": 60, "pathpoints": ["f1"]}, {"interval": 600, "pathpoints": ["W1", "W2", "u9"]}]);
    assert_eq!(stored, expected);
    let answer = dev.simple(Method::GET, "/v1/device/pathpoints/archived").await;
    assert_eq!((answer.status, answer.body), (200, expected.clone()));
    let answer = dev
        .call(
            Method::GET,
            "/v1/device/pathpoints/archived",
            None,
            &[("accept", MINIJSON.into())],
        )
        .await;
    assert_eq!(
        (answer.content_type.as_str(), answer.body),
        (MINIJSON, expected.clone())
    );
    for bad in [
        json!({"interval": 60}),
        json!([{"interval": 0, "pathpoints": ["W1"]}]),
        json!([{"interval": 60, "pathpoints": [""]}]),
        json!([{"interval": 60, "pathpoints": ["W1"]}, {"interval": 30, "pathpoints": ["W1"]}]),
        json!([{"interval": -1, "pathpoints": []}]),
    ] {
        let (status, _) = http(Method::PUT, &url, Some(bad.clone()), server.token.as_deref()).await;
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(
        http(Method::GET, &url, None, server.token.as_deref()).await.1,
        expected,
        "unchanged"
    );
    assert_eq!(
        http(Method::DELETE, &url, None, server.token.as_deref()).await,
        (200, json!([]))
    );
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/pathpoints/archived")
            .await
            .body,
        json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn plain_metadata_both_ways() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let path = "/v1/device/metadata/plain/key+with+space%2Fslash";
    let admin = format!(
        "{}/v1/devices/dev1/metadata/key%20with%20space%2Fslash",
        server.admin_url()
    );

    assert_eq!(dev.simple(Method::GET, path).await.status, 404);
    // A JSON body is accepted too, and MiniJSON answered when asked.
    let first = json!({"value": "first", "unless_timestamp_higher": 1_796_000_000});
    assert_eq!(
        dev.json(Method::PUT, path, &first).await.body,
        json!({"stored": true})
    );
    let mini = dev
        .call(Method::GET, path, None, &[("accept", MINIJSON.into())])
        .await;
    assert_eq!(
        (mini.content_type.as_str(), mini.body),
        (MINIJSON, json!({"value": "first", "timestamp": 1_796_000_000}))
    );
    let answer = dev
        .minijson(
            Method::PUT,
            path,
            &json!({"value": "from device", "unless_timestamp_higher": 1_796_062_720.0}),
        )
        .await;
    assert_eq!((answer.status, answer.body), (200, json!({"stored": true})));
    let (status, entry) = http(Method::GET, &admin, None, server.token.as_deref()).await;
    assert_eq!(status, 200);
    assert_eq!(entry["key"], "key with space/slash");
    assert_eq!(entry["value"], "from device");
    assert_eq!(entry["timestamp"], 1_796_062_720i64);
    assert_eq!(entry["updated_by"], "device");
    // An older write does not replace a newer one.
    let answer = dev
        .minijson(
            Method::PUT,
            path,
            &json!({"value": "older", "unless_timestamp_higher": 1_796_062_000}),
        )
        .await;
    assert_eq!(answer.body, json!({"stored": false}));

    // Single precision as the Python client sends it: an operator's write at ...739 does not
    // beat the device's at ...745, sent as ...720 (docs/operations.md, plain metadata).
    let op = json!({"value": "op", "timestamp": 1_796_062_739});
    assert_eq!(
        http(Method::PUT, &admin, Some(op), server.token.as_deref())
            .await
            .0,
        200
    );
    let later = json!({"value": "device later", "unless_timestamp_higher": 1_796_062_720.0});
    assert_eq!(
        dev.minijson(Method::PUT, path, &later).await.body,
        json!({"stored": true})
    );
    let too_old = json!({"value": "too old", "unless_timestamp_higher": 1_796_062_700.5});
    assert_eq!(
        dev.minijson(Method::PUT, path, &too_old).await.body,
        json!({"stored": false})
    );

    let (status, _) = http(
        Method::PUT,
        &admin,
        Some(json!({"value": "from server", "timestamp": 1_900_000_000.5})),
        server.token.as_deref(),
    )
    .await;
    assert_eq!(status, 200);
    let answer = dev.simple(Method::GET, path).await;
    assert_eq!(
        (answer.status, answer.body),
        (200, json!({"value": "from server", "timestamp": 1_900_000_000.5}))
    );
    let (_, list) = server.get("/v1/devices/dev1/metadata").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    for (body, status) in [
        (json!(["value"]), 400),
        (json!({"value": 5}), 400),
        (json!({"unless_timestamp_higher": 5}), 400),
        (json!({"value": "x", "unless_timestamp_higher": -1}), 400),
        (json!({"value": "v".repeat(64 * 1024 + 1)}), 400),
        (json!({"value": "v".repeat(80 * 1024)}), 413),
    ] {
        let answer = dev
            .minijson(Method::PUT, "/v1/device/metadata/plain/other", &body)
            .await;
        assert_eq!(answer.status, status, "{:?}", answer.body);
        assert!(answer.body["status"].is_string());
    }
    assert_eq!(
        dev.simple(Method::GET, "/v1/device/metadata/plain/other")
            .await
            .status,
        404
    );
    for bad in ["/v1/device/metadata/plain/%FF", "/v1/device/metadata/plain/a%0Ab"] {
        assert_eq!(dev.simple(Method::GET, bad).await.status, 400, "{bad}");
    }

    // DELETE is idempotent.
    for deleted in [true, false] {
        let answer = dev.simple(Method::DELETE, path).await;
        assert_eq!((answer.status, answer.body), (200, json!({"deleted": deleted})));
    }
    assert_eq!(dev.simple(Method::GET, path).await.status, 404);
    assert_eq!(
        http(Method::GET, &admin, None, server.token.as_deref()).await.0,
        404
    );
    assert_eq!(
        http(Method::DELETE, &admin, None, server.token.as_deref())
            .await
            .0,
        200
    );
    server.stop().await;
}
