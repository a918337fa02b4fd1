//! `smok-client`'s error paths end to end: refusals (4xx, DATA_STREAM_REJECT) are final, server
//! faults (5xx) and lost links are retried, NGTT never falls back to HTTP polling, and an order
//! in flight when the NGTT connection drops is delivered again. The real server is used where it
//! can produce the condition, `ngtt_testkit::fakes` where it cannot (5xx, DATA_STREAM_REJECT).

use std::time::Duration;

use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_server::storage::{AnsweredVia, SeriesQuery};
use ngtt_server::OrderState;
use ngtt_testkit::fakes::{RejectingNgtt, ScriptedHttp};
use ngtt_testkit::smok::{
    any_port, device_builder, next_order, start_server, ten_samples, until_link, vacant_addr, Mode, T0,
};
use ngtt_testkit::TestPki;
use ngtt_testkit::{init_logging, read_order, WAIT};
use smok_client::{AuthMode, ClientError, LinkState, SmokDevice, Via};
use tokio::time::{sleep, timeout};

fn http_status(err: &ClientError) -> Option<u16> {
    match err {
        ClientError::Http(e) => e.status(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upload_over_http_is_not_retried() {
    init_logging();
    let pki = TestPki::new();
    // The real server refuses a body over 16 MiB (413).
    let server = start_server(&pki, pki.scratch("db"), any_port(), any_port()).await;
    let (device, _orders) = device_builder(&pki, "dev", Mode::Http, server.addr, server.http_addr())
        .fetch_orders(false)
        .build()
        .unwrap();
    let huge = "x".repeat(17 << 20);
    let upload = vec![PathpointSeries::new("uNote", [Sample::value(T0, huge.as_str())])];
    let err = timeout(WAIT, device.sync_pathpoints(upload))
        .await
        .expect("refused in time, not retried")
        .expect_err("too large");
    assert!(
        err.is_clients_fault() && !err.is_server_fault() && !err.is_no_link(),
        "{err}"
    );
    assert_eq!(http_status(&err), Some(413));
    device.close(Duration::from_secs(2)).await;
    server.stop().await;

    // Counting the attempts: a server refusing the first upload with 400 sees it once.
    let fake = ScriptedHttp::start(&[400]).await;
    let (device, _orders) = device_builder(&pki, "dev", Mode::Http, vacant_addr(), fake.addr)
        .http_base_url(fake.url())
        .http_auth(AuthMode::ProxyHeader)
        .fetch_orders(false)
        .sync_sensors(false) // the script answers requests in turn, whatever their route
        .sync_predicates(false)
        .sync_macros(false)
        .sync_time_zone(false)
        .baobs(false)
        .archives(false)
        .build()
        .unwrap();
    let err = device
        .sync_pathpoints(ten_samples("W1"))
        .await
        .expect_err("refused");
    assert!(err.is_clients_fault(), "{err}");
    assert_eq!(http_status(&err), Some(400));
    sleep(Duration::from_millis(200)).await;
    assert_eq!(
        fake.requests("/v1/device/pathpoints"),
        1,
        "a 4xx is never retried"
    );
    device
        .sync_pathpoints(ten_samples("W1"))
        .await
        .expect("the next upload goes through");
    device.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upload_over_ngtt_is_not_retried() {
    init_logging();
    let pki = TestPki::new();
    let fake = RejectingNgtt::start(&pki).await;
    let (device, _orders) = device_builder(&pki, "dev", Mode::Ngtt, fake.addr, vacant_addr())
        .fetch_orders(false)
        .build()
        .unwrap();
    let err = timeout(WAIT, device.sync_pathpoints(ten_samples("W1")))
        .await
        .expect("answered in time")
        .expect_err("DATA_STREAM_REJECT");
    assert!(
        err.is_clients_fault() && !err.is_no_link() && !err.is_server_fault(),
        "{err}"
    );
    assert!(
        err.to_string().contains("unknown pathpoint"),
        "the reason is kept: {err}"
    );
    // Keepalives go on (a ping every 500 ms), the refused upload is not sent again.
    sleep(Duration::from_millis(700)).await;
    assert_eq!((fake.uploads(), fake.connections()), (1, 1));
    assert!(device.link_state().is_up());
    device.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_over_http_are_retried_with_backoff() {
    init_logging();
    let pki = TestPki::new();
    let fake = ScriptedHttp::start(&[503, 503, 503]).await;
    let (device, _orders) = device_builder(&pki, "dev", Mode::Http, vacant_addr(), fake.addr)
        .http_base_url(fake.url())
        .http_auth(AuthMode::ProxyHeader)
        .http_retry(Duration::from_millis(10), Duration::from_millis(50))
        .fetch_orders(false)
        .sync_sensors(false) // the script answers requests in turn, whatever their route
        .sync_predicates(false)
        .sync_macros(false)
        .sync_time_zone(false)
        .baobs(false)
        .archives(false)
        .build()
        .unwrap();
    // Requests that are not uploads are not retried: the caller sees the 5xx.
    let err = device.device_info().await.expect_err("503");
    assert!(
        err.is_server_fault() && !err.is_clients_fault() && !err.is_no_link(),
        "{err}"
    );
    assert!(matches!(device.link_state(), LinkState::Down { attempt: 1, .. }));
    // An upload is retried until it is stored: two more 503s, then 200.
    timeout(WAIT, device.sync_pathpoints(ten_samples("W1")))
        .await
        .expect("in time")
        .expect("stored after the retries");
    assert_eq!(fake.requests("/v1/device/pathpoints"), 3);
    assert!(device.link_state().is_up());
    device.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_link_over_http_retries_until_the_server_appears() {
    init_logging();
    let pki = TestPki::new();
    let http = vacant_addr();
    let (device, _orders) = device_builder(&pki, "dev", Mode::Http, vacant_addr(), http)
        .build()
        .unwrap();
    until_link(&device, "down", |s| matches!(s, LinkState::Down { .. })).await;
    assert!(device
        .device_info()
        .await
        .expect_err("nothing listens")
        .is_no_link());
    let upload = tokio::spawn({
        let device = device.clone();
        async move { device.sync_pathpoints(ten_samples("W1")).await }
    });
    sleep(Duration::from_millis(200)).await;
    assert!(!upload.is_finished(), "the upload waits for the server");

    let server = start_server(&pki, pki.scratch("db"), any_port(), http).await;
    timeout(WAIT, upload)
        .await
        .expect("in time")
        .unwrap()
        .expect("stored");
    let stored = server
        .handle
        .storage()
        .read_series("dev", &SeriesQuery::default());
    assert_eq!(stored.unwrap(), ten_samples("W1"));
    until_link(&device, "up", |s| s.is_up()).await;
    device.close(Duration::from_secs(2)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ngtt_down_at_start_does_not_fall_back_to_polling() {
    init_logging();
    let pki = TestPki::new();
    let (ngtt, db) = (vacant_addr(), pki.scratch("db"));
    // The HTTP API is up, the NGTT listener is not.
    let first = start_server(&pki, db.clone(), any_port(), any_port()).await;
    let http = first.http_addr();
    let id = first.queue("dev", read_order("W1")).await;
    let (device, mut orders) = device_builder(&pki, "dev", Mode::Ngtt, ngtt, http)
        .build()
        .unwrap();
    until_link(&device, "down", |s| matches!(s, LinkState::Down { .. })).await;
    // Configuration still comes over HTTP...
    assert_eq!(device.device_info().await.unwrap().device_id, "dev");
    // ...but orders are not polled there: six HTTP poll intervals later it is still queued.
    sleep(Duration::from_millis(300)).await;
    assert_eq!(
        first.state(id),
        OrderState::Queued,
        "no silent fallback to HTTP polling"
    );
    assert!(timeout(Duration::from_millis(50), orders.recv()).await.is_err());
    first.stop().await;

    let server = start_server(&pki, db, ngtt, http).await;
    let order = next_order(&mut orders).await;
    assert_eq!(order.via(), Via::Ngtt);
    order.ack().await.unwrap();
    server
        .until("confirmed", |s| s.state(id) == OrderState::Confirmed)
        .await;
    let record = server.handle.storage().order(id).unwrap().unwrap();
    assert_eq!(record.answered_via, Some(AnsweredVia::Ngtt));
    device.close(Duration::from_secs(2)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ngtt_reconnect_redelivers_the_pending_order() {
    init_logging();
    let pki = TestPki::new();
    let db = pki.scratch("db");
    let server = start_server(&pki, db.clone(), any_port(), any_port()).await;
    let (addr, http) = (server.addr, server.http_addr());
    let (device, mut orders) = device_builder(&pki, "dev", Mode::Ngtt, addr, http)
        .build()
        .unwrap();
    let id = server.queue("dev", read_order("W1")).await;
    let order = next_order(&mut orders).await;
    server.stop().await;
    // Once the device has seen its link go down (not before: an ack racing the close may still
    // be written into the dying connection), the order cannot be acknowledged any more.
    until_link(&device, "not up", |s| !s.is_up()).await;
    let err = order.ack().await.expect_err("the connection it came on is gone");
    assert!(err.is_no_link(), "{err}");

    let server = start_server(&pki, db, addr, http).await;
    let again = next_order(&mut orders).await;
    assert_eq!(
        again.sections()[0].orders[0],
        smok_client::orders::Order::read("W1")
    );
    again.ack().await.unwrap();
    server
        .until("confirmed", |s| s.state(id) == OrderState::Confirmed)
        .await;
    assert_eq!(server.handle.storage().order(id).unwrap().unwrap().deliveries, 2);
    until_link(&device, "up", |s| s.is_up()).await;
    device.close(Duration::from_secs(2)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_are_neither_link_nor_refusal() {
    let pki = TestPki::new();
    let device = pki.device("dev");
    let builder = SmokDevice::builder(device.cert_pem, device.key_pem);
    let no_ca = builder.clone().use_ngtt(true).ngtt_server("127.0.0.1:1").build();
    // Local development (environment 2) has no default server for either transport.
    let no_url = builder.clone().ca_pem(pki.ca_pem()).build();
    let no_ngtt = builder
        .clone()
        .ca_pem(pki.ca_pem())
        .http_base_url("https://127.0.0.1:1")
        .use_ngtt(true)
        .build();
    for result in [no_ca, no_url, no_ngtt] {
        let err = result.expect_err("not a usable configuration");
        assert!(
            !err.is_no_link() && !err.is_clients_fault() && !err.is_server_fault(),
            "{err}"
        );
    }

    // A data-only device gets no orders, and says so at once; closing is final.
    let (device, mut orders) = device_builder(&pki, "dev", Mode::Http, vacant_addr(), vacant_addr())
        .fetch_orders(false)
        .build()
        .unwrap();
    assert!(orders.recv().await.is_none());
    device.close(Duration::from_millis(100)).await;
    assert_eq!(device.link_state(), LinkState::Closed);
}
