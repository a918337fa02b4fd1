//! Every method of the client against the real `ngtt-server` device HTTP API, in process:
//! mutual TLS, header mode behind a (pretend) proxy, MiniJSON and JSON answers.

use ngtt_proto::payload::{Level, LogRecord, Order, PathpointSeries, Sample, Section};
use ngtt_testkit::smok::{http_config, start_http_server};
use ngtt_testkit::TestPki;
use reqwest::Method;
use serde_json::json;
use smok_http::{CultureContext, HttpClient, PathpointRegistration, StorageLevel};

#[tokio::test]
async fn every_method_over_mutual_tls() {
    let pki = TestPki::new();
    let server = start_http_server(&pki, false).await;
    let client = HttpClient::new(http_config(&pki, &server, "dev1", false)).expect("client");

    // Device information: defaults, then what the admin set.
    let info = client.device_info().await.expect("device info");
    assert_eq!(info.device_id, "dev1");
    assert_eq!(info.verbose_name, "dev1");
    assert_eq!(info.culture_context, CultureContext::default());
    let settings = json!({"verbose_name": "Boiler room", "facets": ["heating"],
        "slave_devices": [{"device_id": "s1", "master_controller": "m1",
                           "responsible_service": "modbus", "configuration": {"unit": 3}}]});
    let (status, _) = server
        .admin(Method::PUT, "/v1/devices/dev1/settings", Some(settings))
        .await;
    assert_eq!(status, 200);
    let info = client.device_info().await.expect("device info");
    assert_eq!(
        (info.verbose_name.as_str(), info.facets.as_slice()),
        ("Boiler room", &["heating".to_owned()][..])
    );
    assert_eq!(info.slave_devices[0].responsible_service, "modbus");
    assert_eq!(info.slave_devices[0].configuration, json!({"unit": 3}));

    // Orders: none, then the queued ones, once.
    assert!(client.fetch_orders().await.expect("orders").is_empty());
    let sections = json!([{"orders": [{"type": "write", "path": "W1", "value": 5}], "disposition": 1},
                          {"orders": [{"type": "message", "uuid": "m-1"}]}]);
    let (status, queued) = server
        .admin(Method::POST, "/v1/devices/dev1/orders", Some(sections))
        .await;
    assert_eq!(status, 201);
    let orders = client.fetch_orders().await.expect("orders");
    assert_eq!(
        orders,
        [
            Section::new([Order::write("W1", 5)]).cannot_join(),
            Section::new([Order::message("m-1")])
        ]
    );
    assert!(client.fetch_orders().await.expect("orders").is_empty());
    let (_, order) = server
        .admin(Method::GET, &format!("/v1/orders/{}", queued["id"]), None)
        .await;
    assert_eq!(
        (order["state"].as_str(), order["answered_via"].as_str()),
        (Some("confirmed"), Some("http"))
    );

    // Message reports (repeatable), with a uuid that needs escaping in the path.
    client.report_message("m-1").await.expect("report");
    client.report_message("m-1").await.expect("report again");
    client.report_message("a/b c").await.expect("report");
    let (_, messages) = server.admin(Method::GET, "/v1/devices/dev1/messages", None).await;
    assert_eq!(messages.as_array().map(Vec::len), Some(2));
    assert_eq!(messages[1]["uuid"], "a/b c");

    // Pathpoint data.
    let upload = vec![
        PathpointSeries::new("W1", [Sample::value(1000, 5)]),
        PathpointSeries::new(
            "fA",
            [Sample::value(2000, 2.5), Sample::error(3000, "timeout".into())],
        ),
    ];
    client.sync_pathpoints(&upload).await.expect("upload");
    let (_, stored) = server
        .admin(Method::GET, "/v1/devices/dev1/pathpoints", None)
        .await;
    assert_eq!(
        stored,
        json!([{"path": "W1", "values": [[1000, 5]]},
               {"path": "fA", "values": [[2000, 2.5], [false, 3000, "timeout"]]}])
    );

    // Pathpoint registration.
    let all = client
        .register_pathpoints(&[
            PathpointRegistration::new("W1", StorageLevel::Trend),
            PathpointRegistration::new("B2", StorageLevel::Permanent),
        ])
        .await
        .expect("register");
    assert_eq!(
        all,
        [
            PathpointRegistration::new("B2", StorageLevel::Permanent),
            PathpointRegistration::new("W1", StorageLevel::Trend)
        ]
    );
    assert_eq!(client.register_pathpoints(&[]).await.expect("list"), all);

    // Logs, one long enough to travel compressed.
    let long = "y".repeat(4000);
    client
        .send_logs(&[
            LogRecord::new("svc", 1, Level(20), "started"),
            LogRecord::new("svc", 2, Level(40), long.clone()),
        ])
        .await
        .expect("logs");
    let (_, logs) = server.admin(Method::GET, "/v1/devices/dev1/logs", None).await;
    assert_eq!(logs[0]["message"], "started");
    assert_eq!(logs[1]["message"], long.as_str());
    server.stop().await;
}

#[tokio::test]
async fn json_answers_decode_too() {
    let pki = TestPki::new();
    let server = start_http_server(&pki, false).await;
    let client = HttpClient::new(http_config(&pki, &server, "dev2", false).with_accept_minijson(false))
        .expect("client");
    assert_eq!(client.device_info().await.expect("info").device_id, "dev2");
    assert!(client.fetch_orders().await.expect("orders").is_empty());
    let all = client
        .register_pathpoints(&[PathpointRegistration::new("uName", StorageLevel::Permanent)])
        .await
        .expect("register");
    assert_eq!(all.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn header_mode_behind_a_tls_terminating_proxy() {
    let pki = TestPki::new();
    let server = start_http_server(&pki, true).await;
    let client = HttpClient::new(http_config(&pki, &server, "dev3", true)).expect("client");
    assert_eq!(client.base_url().scheme(), "http");
    let info = client.device_info().await.expect("device info");
    assert_eq!(info.device_id, "dev3");
    client
        .sync_pathpoints(&[PathpointSeries::new("W1", [Sample::value(1, 1)])])
        .await
        .expect("upload");
    let (_, stored) = server
        .admin(Method::GET, "/v1/devices/dev3/pathpoints", None)
        .await;
    assert_eq!(stored, json!([{"path": "W1", "values": [[1, 1]]}]));
    server.stop().await;
}
