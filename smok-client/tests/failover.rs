//! A `smok-client` device given several NGTT server nodes (issue 11, "Devices find a live
//! node"), against real servers over real TLS: it skips a dead first address, and when the
//! node it is connected to dies it moves on to the next one and keeps working there — orders
//! acknowledged, uploads confirmed. The same with one name standing for both nodes, resolved by
//! the device's own resolver (`SmokDeviceBuilder::ngtt_resolver`).

use ngtt_server::OrderState;
use ngtt_testkit::smok::{
    any_port, device_builder, next_order, start_server, ten_samples, vacant_addr, Mode,
};
use ngtt_testkit::{read_order, TableResolver, TestPki, TestServer, WAIT};
use smok_client::{DeviceOrders, SmokDevice};
use tokio::time::timeout;

/// `server` delivers an order that the device acknowledges, and stores an upload of `path`.
async fn served_by(server: &TestServer, device: &SmokDevice, orders: &mut DeviceOrders, path: &str) {
    let id = server.queue("dev", read_order(path)).await;
    let order = next_order(orders).await;
    order.ack().await.expect("acknowledged");
    server
        .until("the ORDER_CONFIRM", |s| s.state(id) == OrderState::Confirmed)
        .await;
    timeout(WAIT, device.sync_pathpoints(ten_samples(path)))
        .await
        .expect("uploaded in time")
        .expect("stored");
    assert_eq!(server.stored_samples("dev"), 10, "the upload is on this node");
}

/// Two nodes, each on a database of its own.
async fn two_nodes(pki: &TestPki) -> (TestServer, TestServer) {
    let first = start_server(pki, pki.scratch("first.db"), any_port(), any_port()).await;
    let second = start_server(pki, pki.scratch("second.db"), any_port(), any_port()).await;
    (first, second)
}

/// The device is served by `first` only, then `first` dies and `second` serves it.
async fn moves_from_first_to_second(
    first: TestServer,
    second: &TestServer,
    device: &SmokDevice,
    orders: &mut DeviceOrders,
) {
    served_by(&first, device, orders, "W1").await;
    assert_eq!(second.stored_samples("dev"), 0);
    first.crash().await;
    served_by(second, device, orders, "W2").await;
}

#[tokio::test]
async fn the_device_skips_a_dead_node_and_moves_on_when_its_node_dies() {
    let pki = TestPki::new();
    let (first, second) = two_nodes(&pki).await;
    let dead = vacant_addr();
    let (device, mut orders) = device_builder(&pki, "dev", Mode::Ngtt, dead, first.http_addr())
        .ngtt_servers([dead, first.addr, second.addr].map(|a| a.to_string()))
        .sync_sensors(false)
        .build()
        .expect("device");
    moves_from_first_to_second(first, &second, &device, &mut orders).await;
    device.close(WAIT).await;
    second.stop().await;
}

#[tokio::test]
async fn one_name_for_two_nodes_through_the_device_resolver() {
    let pki = TestPki::new();
    let (first, second) = two_nodes(&pki).await;
    let resolver = TableResolver::new();
    resolver.set("nodes.test", [first.addr, second.addr]);
    let (device, mut orders) = device_builder(&pki, "dev", Mode::Ngtt, vacant_addr(), first.http_addr())
        .ngtt_server("nodes.test:2405")
        .ngtt_resolver(resolver.clone())
        .sync_sensors(false)
        .build()
        .expect("device");
    moves_from_first_to_second(first, &second, &device, &mut orders).await;
    assert!(resolver.lookups("nodes.test") >= 1);
    device.close(WAIT).await;
    second.stop().await;
}
