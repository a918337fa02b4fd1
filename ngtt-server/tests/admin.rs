//! The admin HTTP API: queueing, status, listing, read-back, errors and the bearer token.

use ngtt_server::Server;
use ngtt_testkit::{admin_request, read_order, server_config, TestPki, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn queue_status_and_list() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let url = server.admin_url();

    let (status, health) = admin_request(Method::GET, &format!("{url}/healthz"), None, None).await;
    assert_eq!((status, health), (200, json!({"status": "ok"})));

    let sections = json!([
        {"orders": [{"type": "write", "path": "W1", "value": 5, "advise": 1}], "disposition": 1},
        {"orders": [{"type": "wait", "time": 0.5}, {"type": "message", "uuid": "u-1"}]}
    ]);
    let a = server.queue("dev1", sections.clone()).await;
    let b = server.queue("dev1", read_order("W2")).await;
    let c = server.queue("dev2", read_order("W3")).await;
    assert!(a < b && b < c);

    let order = server.order(a).await;
    let keys: Vec<&str> = order.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "device",
            "state",
            "deliveries",
            "queued_at",
            "sent_at",
            "answered_at",
            "answered_via",
            "sections"
        ]
    );
    assert_eq!(order["device"], "dev1");
    assert_eq!(order["state"], "queued");
    assert_eq!(order["deliveries"], 0);
    assert!(
        order["queued_at"].as_i64().unwrap() > 1_600_000_000_000,
        "epoch milliseconds"
    );
    assert_eq!(order["sent_at"], Value::Null);
    assert_eq!(order["sections"], sections);

    let (_, list) = server.get("/v1/devices/dev1/orders").await;
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [a, b]);
    let (_, limited) = server.get("/v1/devices/dev1/orders?state=queued&limit=1").await;
    assert_eq!(limited.as_array().unwrap().len(), 1);
    let (_, none) = server.get("/v1/devices/dev1/orders?state=confirmed").await;
    assert_eq!(none, json!([]));

    let _dev = server.device(&pki, "dev2").await;
    let devices = ngtt_testkit::eventually(|| async {
        let (_, d) = server.get("/v1/devices").await;
        // Registered as connected first, its connection then recorded (committed).
        let recorded = d[1]["environment"] != Value::Null;
        (d.as_array().unwrap().len() == 2 && d[1]["connected"] == true && recorded).then_some(d)
    })
    .await;
    assert_eq!(devices[0]["device"], "dev1");
    assert_eq!(devices[0]["connected"], false);
    assert_eq!(devices[0]["environment"], Value::Null);
    assert_eq!(devices[1]["environment"], "local_development");
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_get_json_4xx() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |_| {}).await;
    let url = server.admin_url();
    let post = |body: &'static str| {
        let url = format!("{url}/v1/devices/dev1/orders");
        let client = server.admin_client();
        async move {
            let response = client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    for (body, needle) in [
        ("not json", "invalid JSON"),
        (r#"{"orders": []}"#, "list of sections"),
        ("[]", "empty"),
        (
            r#"[{"orders": [{"type": "write", "path": "W1"}]}]"#,
            "invalid write order",
        ),
        (r#"[{"orders": [{"path": "W1"}]}]"#, "no type"),
    ] {
        let (status, answer) = post(body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["status"].as_str().unwrap().contains(needle),
            "{body}: {answer}"
        );
    }
    for (path, code) in [
        ("/v1/orders/12345", 404),
        ("/v1/orders/abc", 400),
        ("/v1/devices/dev1/orders?state=lost", 400),
        ("/v1/devices/dev1/orders?limit=0", 400),
        ("/v1/devices/dev1/orders?colour=red", 400),
        ("/v1/devices/dev1/logs?limit=x", 400),
        ("/v1/devices/dev1/pathpoints?from=yesterday", 400),
        ("/v1/nothing", 404),
    ] {
        let (status, answer) = server.get(path).await;
        assert_eq!(status, code, "{path}: {answer}");
        assert!(answer["status"].is_string(), "{path}: {answer}");
    }
    let (status, answer) = admin_request(
        Method::DELETE,
        &format!("{url}/v1/orders/1"),
        None,
        server.token.as_deref(),
    )
    .await;
    assert_eq!(status, 405, "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn bearer_token_is_enforced_when_configured() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&pki, &dir.path().join("db"), |c| {
        c.admin_token = Some("s3cret".into())
    })
    .await;
    let url = server.admin_url();
    let orders = format!("{url}/v1/devices/dev1/orders");
    let (status, answer) = admin_request(Method::POST, &orders, Some(read_order("W1")), None).await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer["status"].as_str().unwrap().contains("token"));
    let (status, _) = admin_request(Method::GET, &orders, None, Some("wrong")).await;
    assert_eq!(status, 401);
    let (status, answer) = admin_request(Method::POST, &orders, Some(read_order("W1")), Some("s3cret")).await;
    assert_eq!(status, 201, "{answer}");
    let (status, _) = admin_request(Method::GET, &format!("{url}/v1/devices"), None, Some("s3cret")).await;
    assert_eq!(status, 200);
    let (status, _) = admin_request(Method::GET, &format!("{url}/healthz"), None, None).await;
    assert_eq!(status, 200, "health check needs no token");
    server.stop().await;
}

#[tokio::test]
async fn every_admin_api_has_a_token_generated_beside_the_database() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut open = server_config(&pki, &db);
    open.admin_listen = Some("0.0.0.0:0".parse().unwrap());
    let server = Server::bind(open.clone())
        .await
        .expect("binds with a generated token");
    let file = ngtt_server::default_admin_token_file(&db);
    assert_eq!(server.admin_token_generated(), Some(file.as_path()));
    let token = server.admin_token().unwrap().to_owned();
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    drop(server);
    let again = Server::bind(open.clone()).await.expect("binds again");
    assert_eq!(again.admin_token(), Some(token.as_str()));
    assert_eq!(
        again.admin_token_generated(),
        None,
        "generated (and shown) only once"
    );
    drop(again);
    open.admin_token = Some("t".into());
    let given = Server::bind(open).await.expect("starts with a given token");
    assert_eq!(given.admin_token(), Some("t"));
    assert!(!given.admin_addr().unwrap().ip().is_loopback());
}
