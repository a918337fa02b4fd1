//! BAOBs over real HTTPS with client certificates (device HTTP API), the admin API and NGTT's
//! SYNC_BAOB frames: reconcile rules, tombstones, streaming in chunks, the size limit, and
//! malformed or oversized requests (a clear 4xx, nothing stored).

use ngtt_testkit::{admin_request as http, TestPki, MINIJSON};
use reqwest::Method;
use serde_json::{json, Value};

use ngtt_testkit::baob::*;

#[tokio::test]
async fn baobs_both_ways_with_tombstones() {
    let pki = TestPki::new();
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
    let raw = server
        .admin_client()
        .get(format!("{}/v1/devices/dev1/baobs/local", server.admin_url()))
        .send()
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
        server.token.as_deref(),
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
    let pki = TestPki::new();
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
    let db = rusqlite::Connection::open(&server.db).unwrap();
    let deadline = std::time::Instant::now() + ngtt_testkit::WAIT;
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
    let pki = TestPki::new();
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
    for (method, path) in [
        (Method::DELETE, "/v1/device/baobs"),
        (Method::POST, "/v1/device/baobs/k"),
        (Method::PATCH, "/v1/device/metadata/plain/k"),
    ] {
        let answer = dev.simple(method, path).await;
        assert_eq!(answer.status, 405, "{path}");
        assert!(answer.body["status"].is_string(), "{path}");
    }
    let (status, _) = admin_put_baob(&server, "dev1", "k", b"x".to_vec(), "?version=x").await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn ngtt_sync_baob_answers_from_the_same_store() {
    use ngtt_proto::payload::{SyncBaobRequest, SyncBaobResponse};
    use ngtt_proto::{Frame, FrameType};

    let pki = TestPki::new();
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
        server.token.as_deref(),
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
