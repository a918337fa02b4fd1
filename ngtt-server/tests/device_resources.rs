//! BAOBs, macros, archive settings and plain metadata over real HTTPS with client certificates
//! (device HTTP API) and the admin API: each route's answers, malformed and oversized bodies
//! (a clear 4xx, nothing stored), and isolation between devices.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::http::{HttpDevice, MINIJSON};
use support::{http, Pki, TestServer};

/// Largest BAOB of these tests' servers: small enough to test the limit quickly, larger than
/// two storage chunks (1 MiB).
const MAX_BAOB: u64 = 3 << 20;

async fn start(pki: &Pki, dir: &tempfile::TempDir) -> TestServer {
    TestServer::start(pki, &dir.path().join("db"), |c| {
        c.http_listen = Some("127.0.0.1:0".parse().expect("addr"));
        c.max_baob_len = MAX_BAOB;
    })
    .await
}

fn device(server: &TestServer, pki: &Pki, id: &str) -> HttpDevice {
    HttpDevice::https(server.http.expect("HTTP API enabled"), pki, Some(&pki.device(id)))
}

/// A multipart body as the Python client sends it: `file`, then `data` with `{"version":N}`.
fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "b0undaryXyZ";
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(dev: &HttpDevice, key: &str, bytes: &[u8], version: i64) -> (u16, Value) {
    let data = format!("{{\"version\":{version}}}");
    let (ct, body) = multipart(&[("file", bytes), ("data", data.as_bytes())]);
    let answer = dev
        .call(
            Method::PUT,
            &format!("/v1/device/baobs/{key}"),
            Some((&ct, body)),
            &[],
        )
        .await;
    (answer.status, answer.body)
}

/// `GET /v1/device/baobs/{key}`: status, version header, bytes.
async fn download(dev: &HttpDevice, key: &str) -> (u16, Option<i64>, Vec<u8>) {
    let response = dev
        .client
        .get(format!("{}/v1/device/baobs/{key}", dev.base))
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let version = response
        .headers()
        .get("x-smok-baob-version")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, version, response.bytes().await.expect("body").to_vec())
}

async fn round(dev: &HttpDevice, held: Value) -> Value {
    let answer = dev.minijson(Method::POST, "/v1/device/baobs", &held).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.content_type, "application/json");
    answer.body
}

async fn admin_put_baob(
    server: &TestServer,
    device: &str,
    key: &str,
    bytes: Vec<u8>,
    query: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .put(format!(
            "{}/v1/devices/{device}/baobs/{key}{query}",
            server.admin_url()
        ))
        .body(bytes)
        .send()
        .await
        .expect("admin answer");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn baobs_both_ways_with_tombstones() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");

    // Made on the server: the device is told to download it, and gets it with its version.
    let (status, stored) = admin_put_baob(&server, "dev1", "config", b"server-bytes".to_vec(), "").await;
    assert_eq!(
        (status, &stored),
        (200, &json!({"key": "config", "version": 0, "size": 12}))
    );
    let plan = round(&dev, json!([])).await;
    assert_eq!(
        plan,
        json!({"should_delete": [], "should_download": ["config"], "should_upload": []})
    );
    assert_eq!(
        download(&dev, "config").await,
        (200, Some(0), b"server-bytes".to_vec())
    );

    // Made on the device (unknown to the server): uploaded, the version stored as sent.
    let plan = round(
        &dev,
        json!([{"key": "config", "version": 0}, {"key": "local", "version": 4}]),
    )
    .await;
    assert_eq!(plan["should_upload"], json!(["local"]));
    assert_eq!(plan["should_download"], json!([]));
    let (status, body) = upload(&dev, "local", b"device-bytes", 4).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"key": "local", "version": 4, "size": 12}))
    );
    let (_, list) = server.get("/v1/devices/dev1/baobs").await;
    assert_eq!(list[1]["key"], "local");
    assert_eq!(list[1]["version"], 4);
    assert_eq!(list[1]["updated_by"], "device");
    let raw = reqwest::get(format!("{}/v1/devices/dev1/baobs/local", server.admin_url()))
        .await
        .unwrap();
    assert_eq!(raw.headers()["x-smok-baob-version"], "4");
    assert_eq!(raw.bytes().await.unwrap().as_ref(), b"device-bytes");
    let plan = round(
        &dev,
        json!([{"key": "config", "version": 0}, {"key": "local", "version": 4}]),
    )
    .await;
    assert_eq!(
        plan,
        json!({"should_delete": [], "should_download": [], "should_upload": []})
    );

    // Newer on the device: upload; newer on the server: download.
    let (status, _) = admin_put_baob(&server, "dev1", "config", b"v1".to_vec(), "").await;
    assert_eq!(status, 200);
    let plan = round(
        &dev,
        json!([{"key": "config", "version": 0}, {"key": "local", "version": 5}]),
    )
    .await;
    assert_eq!(plan["should_download"], json!(["config"]));
    assert_eq!(plan["should_upload"], json!(["local"]));
    assert_eq!(download(&dev, "config").await, (200, Some(1), b"v1".to_vec()));

    // An upload that is not newer is refused, and changes nothing.
    for stale in [4, 3] {
        let (status, body) = upload(&dev, "local", b"stale", stale).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["status"].as_str().unwrap().contains("version 4"), "{body}");
    }
    let (status, body) = admin_put_baob(&server, "dev1", "local", b"x".to_vec(), "?version=2").await;
    assert_eq!(status, 409, "{body}");
    let (_, list) = server.get("/v1/devices/dev1/baobs").await;
    assert_eq!(
        (list[1]["version"].clone(), list[1]["size"].clone()),
        (json!(4), json!(12))
    );

    // Deleted on the server: a tombstone tells the device to delete its copy.
    let (status, body) = http(
        Method::DELETE,
        &format!("{}/v1/devices/dev1/baobs/config", server.admin_url()),
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({"key": "config", "version": 1, "deleted": true}))
    );
    let plan = round(
        &dev,
        json!([{"key": "config", "version": 1}, {"key": "local", "version": 4}]),
    )
    .await;
    assert_eq!(plan["should_delete"], json!(["config"]));
    assert_eq!(download(&dev, "config").await.0, 404);
    let (status, body) = upload(&dev, "config", b"again", 7).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["status"].as_str().unwrap().contains("deleted"), "{body}");
    let (_, list) = server.get("/v1/devices/dev1/baobs").await;
    assert_eq!(list[0]["deleted"], true);
    // An operator may bring it back: the version continues after the tombstone's.
    let (status, body) = admin_put_baob(&server, "dev1", "config", b"back".to_vec(), "").await;
    assert_eq!((status, body["version"].clone()), (200, json!(2)));

    // MiniJSON when asked.
    let answer = dev
        .call(
            Method::POST,
            "/v1/device/baobs",
            Some((MINIJSON, minijson::to_vec(&json!([])).unwrap())),
            &[("accept", MINIJSON.into())],
        )
        .await;
    assert_eq!((answer.status, answer.content_type.as_str()), (200, MINIJSON));
    assert_eq!(answer.body["should_download"], json!(["config", "local"]));
    server.stop().await;
}

#[tokio::test]
async fn large_baobs_stream_in_chunks_and_the_limit_holds() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let big: Vec<u8> = (0..(5u32 << 19)).map(|i| (i % 251) as u8).collect(); // 2.5 MiB
    let (status, body) = upload(&dev, "big", &big, 0).await;
    assert_eq!(status, 200, "{body}");
    let (status, version, bytes) = download(&dev, "big").await;
    assert_eq!((status, version), (200, Some(0)));
    assert!(bytes == big, "the bytes come back as uploaded");

    // One byte over the limit: 413, and the stored BAOB is untouched.
    let too_big = vec![7u8; usize::try_from(MAX_BAOB).unwrap() + 1];
    let (status, body) = upload(&dev, "big", &too_big, 1).await;
    assert_eq!(status, 413, "{body}");
    let (status, body) = admin_put_baob(&server, "dev1", "big", too_big, "").await;
    assert_eq!(status, 413, "{body}");
    let (_, list) = server.get("/v1/devices/dev1/baobs").await;
    assert_eq!(
        list,
        json!([{"key": "big", "version": 0, "size": big.len(), "deleted": false,
        "updated_at": list[0]["updated_at"], "updated_by": "device"}])
    );
    // The refused uploads' staged chunks are removed: only the stored BAOB's contents remain.
    let db = rusqlite::Connection::open(&server.db_path).unwrap();
    let deadline = std::time::Instant::now() + support::WAIT;
    loop {
        let contents: i64 = db
            .query_row("SELECT COUNT(*) FROM baob_contents", [], |r| r.get(0))
            .unwrap();
        if contents == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{contents} contents left");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn malformed_baob_requests_are_refused_and_store_nothing() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    for (body, needle) in [
        (json!({"key": "a"}), "key, version"),
        (json!([{"key": "a"}]), "version"),
        (json!([{"key": "a", "version": -1}]), "negative"),
        (
            json!([{"key": "a", "version": 1}, {"key": "a", "version": 2}]),
            "twice",
        ),
        (json!([{"key": 5, "version": 1}]), "key"),
    ] {
        let answer = dev.minijson(Method::POST, "/v1/device/baobs", &body).await;
        assert_eq!(answer.status, 400, "{body}: {:?}", answer.body);
        assert!(
            answer.body["status"].as_str().unwrap().contains(needle),
            "{body}: {:?}",
            answer.body
        );
    }
    // A key that cannot be a URL segment is left out of the plan; the others still sync.
    let plan = round(
        &dev,
        json!([{"key": "a b", "version": 1}, {"key": "ok", "version": 0}]),
    )
    .await;
    assert_eq!(plan["should_upload"], json!(["ok"]));
    let oversized = vec![b' '; (1 << 20) + 1];
    let answer = dev
        .call(
            Method::POST,
            "/v1/device/baobs",
            Some(("application/json", oversized)),
            &[],
        )
        .await;
    assert_eq!(answer.status, 413);

    let bad_uploads: Vec<(String, Vec<u8>, &str)> = {
        let mut v = Vec::new();
        let (ct, body) = multipart(&[("file", b"x")]);
        v.push((ct, body, "no data part"));
        let (ct, body) = multipart(&[("data", b"{\"version\":1}")]);
        v.push((ct, body, "no file part"));
        let (ct, body) = multipart(&[("file", b"x"), ("data", b"{\"version\":\"1\"}")]);
        v.push((ct, body, "data part"));
        let (ct, body) = multipart(&[("file", b"x"), ("data", b"{\"version\":-3}")]);
        v.push((ct, body, "negative"));
        let (ct, body) = multipart(&[("file", b"x"), ("file", b"y"), ("data", b"{\"version\":1}")]);
        v.push((ct, body, "twice"));
        let (ct, body) = multipart(&[("other", b"x")]);
        v.push((ct, body, "unexpected part"));
        let (ct, body) = multipart(&[("file", b"x"), ("data", &[b' '; 5000])]);
        v.push((ct, body, "larger"));
        v.push(("application/json".into(), b"{}".to_vec(), "multipart"));
        v.push((
            "multipart/form-data; boundary=zz".into(),
            b"--zz\r\ngarbage".to_vec(),
            "multipart",
        ));
        v
    };
    for (ct, body, needle) in bad_uploads {
        let answer = dev
            .call(Method::PUT, "/v1/device/baobs/k", Some((&ct, body)), &[])
            .await;
        assert!((400..500).contains(&answer.status), "{needle}: {:?}", answer);
        let reason = answer.body["status"].as_str().unwrap_or_default().to_owned();
        assert!(reason.to_lowercase().contains(needle), "{needle}: {reason}");
    }
    for key in ["a%20b", "a%2Fb", "%25"] {
        let (status, body) = upload(&dev, key, b"x", 0).await;
        assert_eq!(status, 400, "{key}: {body}");
        assert_eq!(download(&dev, key).await.0, 400, "{key}");
    }
    let (_, list) = server.get("/v1/devices/dev1/baobs").await;
    assert_eq!(list, json!([]), "nothing was stored");
    let (status, _) = admin_put_baob(&server, "dev1", "k", b"x".to_vec(), "?version=x").await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn a_device_never_sees_another_devices_resources() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let (one, two) = (device(&server, &pki, "one"), device(&server, &pki, "two"));
    assert_eq!(upload(&one, "secret", b"mine", 3).await.0, 200);
    let (status, _) = http(
        Method::PUT,
        &format!("{}/v1/devices/one/metadata/k", server.admin_url()),
        Some(json!({"value": "v"})),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = http(
        Method::PUT,
        &format!("{}/v1/devices/one/macros/m", server.admin_url()),
        Some(json!({"commands": [{"path": "W1", "value": 1}], "occurrences": [1000]})),
        None,
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = http(
        Method::PUT,
        &format!("{}/v1/devices/one/archives", server.admin_url()),
        Some(json!([{"interval": 60, "pathpoints": ["W1"]}])),
        None,
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
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    let dev = device(&server, &pki, "dev1");
    let url = format!("{}/v1/devices/dev1/macros/heat-up", server.admin_url());
    let body = json!({"commands": [{"path": "W1", "value": 5}, {"path": "f2", "value": 1.5}, {"path": "u3", "value": "on"}],
                      "occurrences": [1_000_000, 1_000_500.5, 2_000_000]});
    let (status, created) = http(Method::PUT, &url, Some(body.clone()), None).await;
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
    let (status, replaced) = http(Method::PUT, &url, Some(body), None).await;
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
        let (status, reason) = http(Method::PUT, &url, Some(bad.clone()), None).await;
        assert_eq!(status, 400, "{bad}: {reason}");
    }
    let (status, _) = http(Method::DELETE, &url, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(server.get("/v1/devices/dev1/macros/heat-up").await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn archive_settings_are_served_one_entry_per_interval() {
    let pki = Pki::new();
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
        None,
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
        let (status, _) = http(Method::PUT, &url, Some(bad.clone()), None).await;
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(http(Method::GET, &url, None, None).await.1, expected, "unchanged");
    assert_eq!(http(Method::DELETE, &url, None, None).await, (200, json!([])));
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
    let pki = Pki::new();
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
    let (status, entry) = http(Method::GET, &admin, None, None).await;
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
    assert_eq!(http(Method::PUT, &admin, Some(op), None).await.0, 200);
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
        None,
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
    assert_eq!(http(Method::GET, &admin, None, None).await.0, 404);
    assert_eq!(http(Method::DELETE, &admin, None, None).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn ngtt_sync_baob_answers_from_the_same_store() {
    use ngtt_proto::payload::{SyncBaobRequest, SyncBaobResponse};
    use ngtt_proto::{Frame, FrameType};

    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(&pki, &dir).await;
    for key in ["srv", "gone", "fresh"] {
        assert_eq!(
            admin_put_baob(&server, "dev1", key, b"x".to_vec(), "?version=2")
                .await
                .0,
            200
        );
    }
    let (status, _) = http(
        Method::DELETE,
        &format!("{}/v1/devices/dev1/baobs/gone", server.admin_url()),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    // Another device's BAOB is never mentioned.
    assert_eq!(
        admin_put_baob(&server, "dev2", "theirs", b"x".to_vec(), "")
            .await
            .0,
        200
    );

    let mut dev = server.device(&pki, "dev1").await;
    let request: SyncBaobRequest = SyncBaobRequest(
        [
            ("srv", 1),
            ("gone", 2),
            ("mine", 0),
            ("asked", -1),
            ("fresh", -1),
            ("bad key", 0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    );
    dev.send(Frame::sync_baob_request(9, &request).unwrap()).await;
    let answer = dev.recv().await;
    assert_eq!((answer.kind, answer.tid), (FrameType::SyncBaobResponse, 9));
    let response: SyncBaobResponse = answer.payload_as().unwrap();
    assert_eq!(response.download, ["fresh", "srv"]);
    assert_eq!(response.upload, ["mine"]);
    assert_eq!(response.delete, ["gone"]);

    // Nothing to do: an empty answer without "delete", as NGTT.md spells it.
    dev.send(
        Frame::sync_baob_request(
            10,
            &SyncBaobRequest([("srv".to_owned(), 2), ("fresh".to_owned(), 2)].into()),
        )
        .unwrap(),
    )
    .await;
    let answer = dev.recv().await;
    let text = minijson::from_slice::<minijson::Value>(&answer.payload).unwrap();
    assert_eq!(Value::from(text), json!({"download": [], "upload": []}));
    server.stop().await;
}
