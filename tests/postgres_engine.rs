//! The server on PostgreSQL end to end: `ngtt serve --db postgres://…` as a child process, a
//! real device (`ngtt-transport`) that uploads and answers orders, a restart (graceful, then
//! `kill -9`), and everything answered is still there. Also the in-process server's
//! order/acknowledgement round trip on PostgreSQL. Each test has a schema of its own; without
//! PostgreSQL they are skipped (unless `NGTT_REQUIRE_POSTGRES=1`).

use std::sync::Arc;
use std::time::Duration;

use ngtt_proto::payload::{Order, PathpointSeries, Sample};
use ngtt_server::storage::SeriesQuery;
use ngtt_server::{OrderState, PostgresStorage, PostgresUrl, Storage};
use ngtt_testkit::cli::Serve;
use ngtt_testkit::postgres::TestDatabase;
use ngtt_testkit::{admin_request, lively_device_config, read_order, TestPki, TestServer, WAIT};
use ngtt_transport::Transport;
use serde_json::Value;

fn upload(ts: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new("W1r4002", [Sample::value(ts, ts as i64)])]
}

/// Opens the test's schema directly, off the async threads.
async fn open(db: &TestDatabase) -> Arc<PostgresStorage> {
    let url = PostgresUrl::parse(&format!("{}&pool_size=2", db.url())).unwrap();
    let storage = tokio::task::spawn_blocking(move || PostgresStorage::connect(&url))
        .await
        .unwrap()
        .unwrap();
    Arc::new(storage)
}

async fn stamps(storage: &Arc<PostgresStorage>, device: &str) -> Vec<u64> {
    let (storage, device) = (Arc::clone(storage), device.to_owned());
    let all = SeriesQuery {
        limit: usize::MAX,
        ..SeriesQuery::default()
    };
    let series = tokio::task::spawn_blocking(move || storage.read_series(&device, &all))
        .await
        .unwrap()
        .unwrap();
    series
        .iter()
        .flat_map(|s| s.values.iter().map(Sample::ts))
        .collect()
}

async fn order_state(serve: &Serve, id: i64) -> String {
    let (status, body) = admin_request(
        reqwest::Method::GET,
        &serve.admin_url(&format!("/v1/orders/{id}")),
        None,
        Some(&serve.token()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["state"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_keeps_answered_orders_and_uploads_across_restarts() {
    let Some(db) = TestDatabase::create("serve_restart") else {
        return;
    };
    let pki = TestPki::new();
    let token_file = pki.scratch("admin-token");
    let serve = Serve::start_postgres(pki.dir(), &db.url(), &token_file).await;

    let (status, body) = admin_request(
        reqwest::Method::POST,
        &serve.admin_url("/v1/devices/pg-dev/orders"),
        Some(read_order("W7")),
        Some(&serve.token()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let order_id = body["id"].as_i64().unwrap();

    let (transport, mut orders) = Transport::spawn(lively_device_config(&pki, "pg-dev", serve.ngtt)).unwrap();
    for ts in 1..=5 {
        transport
            .sync_pathpoints(upload(ts))
            .await
            .expect("upload confirmed");
    }
    let order = tokio::time::timeout(WAIT, orders.recv()).await.unwrap().unwrap();
    assert_eq!(order.sections()[0].orders[0], Order::read("W7"));
    order.ack().await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while order_state(&serve, order_id).await != "confirmed" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order is never confirmed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    transport.close(Duration::from_secs(2)).await;
    assert_eq!(serve.stop().await.code(), Some(0), "graceful stop");

    // Restarted: the answered order and every confirmed upload are there.
    let serve = Serve::start_postgres(pki.dir(), &db.url(), &token_file).await;
    assert_eq!(order_state(&serve, order_id).await, "confirmed");
    let storage = open(&db).await;
    assert_eq!(stamps(&storage, "pg-dev").await, [1, 2, 3, 4, 5]);

    // More uploads, then kill -9 (dropping `Serve`): what was confirmed stays.
    let (transport, _orders) = Transport::spawn(lively_device_config(&pki, "pg-dev", serve.ngtt)).unwrap();
    for ts in 6..=8 {
        transport
            .sync_pathpoints(upload(ts))
            .await
            .expect("upload confirmed");
    }
    drop(serve);
    drop(transport);
    let serve = Serve::start_postgres(pki.dir(), &db.url(), &token_file).await;
    assert_eq!(stamps(&storage, "pg-dev").await, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(order_state(&serve, order_id).await, "confirmed");
    assert_eq!(serve.stop().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_acknowledged_and_rejected_on_postgres_and_survive_a_crash() {
    let Some(db) = TestDatabase::create("orders_crash") else {
        return;
    };
    let pki = TestPki::new();
    let url = PostgresUrl::parse(&format!("{}&pool_size=4", db.url())).unwrap();
    let token_file = pki.scratch("admin-token");
    let use_postgres = |c: &mut ngtt_server::ServerConfig| {
        c.postgres = Some(url.clone());
        c.admin_token_file = Some(token_file.clone());
        c.max_inflight_orders = 2;
    };
    let server = TestServer::start(&pki, pki.scratch("unused.db"), use_postgres).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(server.queue("d1", read_order(&format!("W{i}"))).await);
    }
    let (transport, mut orders) = Transport::spawn(lively_device_config(&pki, "d1", server.addr)).unwrap();
    for i in 0..4 {
        let order = tokio::time::timeout(WAIT, orders.recv()).await.unwrap().unwrap();
        // Queue order, held back by the window of 2 and released as answers come.
        assert_eq!(order.sections()[0].orders[0], Order::read(format!("W{i}")));
        if i == 1 {
            order.nack().await.unwrap();
        } else {
            order.ack().await.unwrap();
        }
    }
    server.until_answered(&ids).await;
    transport
        .sync_pathpoints(upload(42))
        .await
        .expect("upload confirmed");
    transport.close(Duration::from_secs(2)).await;
    server.crash().await;

    let server = TestServer::start(&pki, pki.scratch("unused.db"), use_postgres).await;
    let states: Vec<OrderState> = ids.iter().map(|&id| server.state(id)).collect();
    use OrderState::{Confirmed, Rejected};
    assert_eq!(states, [Confirmed, Rejected, Confirmed, Confirmed]);
    assert_eq!(server.stored_samples("d1"), 1);
    let (status, body): (u16, Value) = server.get("/v1/devices").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("\"d1\""), "{body}");
    assert!(!pki.scratch("unused.db").exists(), "no SQLite file is made");
    server.stop().await;
}

#[test]
fn a_database_that_cannot_be_reached_is_reported_without_its_password() {
    let pki = TestPki::new();
    let pki_dir = pki.dir().to_str().unwrap();
    let token = pki.scratch("admin-token");
    for db in [
        // Nothing listens on port 1 of loopback.
        "postgres://ngtt:s3cret-pw@127.0.0.1:1/test",
        "postgresql://ngtt:s3cret-pw@127.0.0.1:1/test?bogus_option=1",
    ] {
        let out = ngtt_testkit::cli::output(&[
            "serve",
            "--pki",
            pki_dir,
            "--db",
            db,
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--no-http",
            "--admin-token-file",
            token.to_str().unwrap(),
        ]);
        let stderr = ngtt_testkit::cli::stderr(&out);
        assert!(!out.status.success(), "{stderr}");
        assert!(!stderr.contains("s3cret"), "the password leaked: {stderr}");
        assert!(stderr.contains("ngtt:***@127.0.0.1:1"), "{stderr}");
    }
}
