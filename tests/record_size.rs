//! Our own transport reads frames whole whatever the server's TLS record size (NGTT.md §8,
//! docs/transport.md "Reading whole records"): a 100 KB and a 2.5 KB order arrive and are
//! confirmed from a server writing 512-byte records and from one writing 16 KiB records.

use std::time::Duration;

use ngtt_server::OrderState;
use ngtt_testkit::{init_logging, lively_device_config as device_config, TestPki, TestServer, WAIT};
use ngtt_transport::Transport;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_orders_arrive_whole_at_either_record_size() {
    init_logging();
    let pki = TestPki::new();
    for max_record in [512, 16_384] {
        let db = pki.scratch(&format!("db-{max_record}"));
        let server = TestServer::start(&pki, db, |c| {
            c.tls_max_record = max_record;
        })
        .await;
        let (transport, mut orders) = Transport::spawn(device_config(&pki, "dev", server.addr)).unwrap();
        for size in [2_500, 100_000] {
            let value = "v".repeat(size);
            let id = server
                .queue(
                    "dev",
                    json!([{"orders": [{"type": "write", "path": "uNote", "value": value}]}]),
                )
                .await;
            let order = tokio::time::timeout(WAIT, orders.recv())
                .await
                .expect("the order arrives")
                .expect("an order");
            let value_len = match &order.sections()[0].orders[0] {
                ngtt_proto::payload::Order::Write(w) => match &w.value {
                    ngtt_proto::payload::WriteValue::Text(t) => t.len(),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            };
            assert_eq!(value_len, size, "record size {max_record}");
            order.ack().await.unwrap();
            server
                .until("the order confirmed", |s| s.state(id) == OrderState::Confirmed)
                .await;
        }
        transport.close(Duration::from_secs(2)).await;
        server.stop().await;
    }
}
