//! Several server nodes (issue 11, "Devices find a live node"), over real TLS against real
//! servers: a dead first address is skipped, the loss of the node in use moves the device to
//! the next one, and a DNS name stands for its addresses — one name for two nodes (a resolver of
//! the test's, [`TableResolver`]: the device moves from one to the other without a new
//! configuration), and a name whose answer changes is resolved again. After every move, orders
//! are acknowledged and uploads confirmed by the node the device reached.

use std::net::SocketAddr;

use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_server::OrderState;
use ngtt_testkit::smok::vacant_addr;
use ngtt_testkit::{device_config, read_order, TableResolver, TestPki, TestServer, PATIENCE};
use ngtt_transport::{ConnectionState, Orders, Transport};

/// Device `id` of `pki` with these servers, in this order.
fn spawn(pki: &TestPki, id: &str, servers: &[String]) -> (Transport, Orders) {
    let config = device_config(pki, id, vacant_addr())
        .with_servers(servers)
        .expect("servers");
    Transport::spawn(config).expect("spawn")
}

/// Device `id` of `pki` whose only server is the name `name`, resolved by `resolver`.
fn spawn_named(pki: &TestPki, id: &str, name: &str, resolver: &TableResolver) -> (Transport, Orders) {
    let config = device_config(pki, id, vacant_addr())
        .with_servers([format!("{name}:2405")])
        .expect("servers")
        .with_resolver(resolver.clone());
    Transport::spawn(config).expect("spawn")
}

/// Waits until the transport is connected to `addr`.
async fn moved_to(transport: &Transport, addr: SocketAddr) {
    let mut watch = transport.watch_state();
    tokio::time::timeout(
        PATIENCE,
        watch.wait_for(|s| matches!(s, ConnectionState::Connected { server, .. } if *server == addr)),
    )
    .await
    .expect("connected to the expected server in time")
    .expect("transport alive");
}

/// Waits until the transport is connected, and returns the server address it is connected to.
async fn connected_to(transport: &Transport) -> SocketAddr {
    let mut watch = transport.watch_state();
    let state = tokio::time::timeout(PATIENCE, watch.wait_for(ConnectionState::is_connected))
        .await
        .expect("connected in time")
        .expect("transport alive")
        .clone();
    match state {
        ConnectionState::Connected { server, .. } => server,
        other => unreachable!("{other:?}"),
    }
}

/// `server` delivers an order to the device, which acknowledges it, and confirms an upload
/// whose samples it then holds.
async fn serves(server: &TestServer, transport: &Transport, orders: &mut Orders, id: &str, value: i64) {
    let order_id = server.queue(id, read_order("W1")).await;
    let order = tokio::time::timeout(PATIENCE, orders.recv())
        .await
        .expect("order in time")
        .expect("orders stream open");
    order.ack().await.expect("acknowledged");
    server.until_answered(&[order_id]).await;
    assert_eq!(server.state(order_id), OrderState::Confirmed);
    let before = server.stored_samples(id);
    let series = vec![PathpointSeries::new(
        "W1",
        [Sample::value(1_700_000_000_000 + value.unsigned_abs(), value)],
    )];
    tokio::time::timeout(PATIENCE, transport.sync_pathpoints(series))
        .await
        .expect("answered in time")
        .expect("upload confirmed");
    assert_eq!(server.stored_samples(id), before + 1);
}

#[tokio::test]
async fn a_dead_first_server_is_skipped() {
    let pki = TestPki::new();
    let live = TestServer::start(&pki, pki.scratch("live.db"), |_| {}).await;
    let dead = vacant_addr();
    let (transport, mut orders) = spawn(&pki, "dev-skip", &[dead.to_string(), live.addr.to_string()]);
    assert_eq!(connected_to(&transport).await, live.addr);
    serves(&live, &transport, &mut orders, "dev-skip", 1).await;
    assert!(transport.close(PATIENCE).await.flushed);
    live.stop().await;
}

#[tokio::test]
async fn the_device_moves_on_when_its_server_dies_and_keeps_delivering() {
    let pki = TestPki::new();
    let first = TestServer::start(&pki, pki.scratch("first.db"), |_| {}).await;
    let second = TestServer::start(&pki, pki.scratch("second.db"), |_| {}).await;
    let servers = [first.addr.to_string(), second.addr.to_string()];
    let (transport, mut orders) = spawn(&pki, "dev-move", &servers);
    assert_eq!(connected_to(&transport).await, first.addr);
    serves(&first, &transport, &mut orders, "dev-move", 1).await;

    // An upload made as the node dies is confirmed all the same (by it, or replayed to the
    // next one).
    let pending = transport.sync_pathpoints(vec![PathpointSeries::new(
        "W2",
        [Sample::value(1_700_000_000_100, 7)],
    )]);
    first.crash().await;
    let mut watch = transport.watch_state();
    let state = tokio::time::timeout(
        PATIENCE,
        watch.wait_for(|s| matches!(s, ConnectionState::Connected { server, .. } if *server == second.addr)),
    )
    .await
    .expect("moved to the second server in time")
    .expect("transport alive")
    .clone();
    assert!(
        matches!(state, ConnectionState::Connected { epoch: 2, .. }),
        "{state:?}"
    );
    drop(watch);
    tokio::time::timeout(PATIENCE, pending)
        .await
        .expect("answered in time")
        .expect("upload confirmed");
    serves(&second, &transport, &mut orders, "dev-move", 2).await;
    assert!(transport.close(PATIENCE).await.flushed);
    second.stop().await;
}

#[tokio::test]
async fn a_dns_name_is_resolved_and_tried_like_an_address() {
    let pki = TestPki::new();
    let live = TestServer::start(&pki, pki.scratch("named.db"), |_| {}).await;
    let dead = vacant_addr();
    // `localhost` resolves (through the system's resolver) to the loopback address(es): every
    // one is a target, tried in turn after the dead node's.
    let servers = [
        format!("localhost:{}", dead.port()),
        format!("localhost:{}", live.addr.port()),
    ];
    let (transport, mut orders) = spawn(&pki, "dev-named", &servers);
    let server = connected_to(&transport).await;
    assert_eq!(server.port(), live.addr.port());
    assert!(server.ip().is_loopback());
    serves(&live, &transport, &mut orders, "dev-named", 3).await;
    assert!(transport.close(PATIENCE).await.flushed);
    live.stop().await;
}

#[tokio::test]
async fn one_name_for_two_nodes_moves_the_device_to_the_second_when_the_first_dies() {
    let pki = TestPki::new();
    let first = TestServer::start(&pki, pki.scratch("first.db"), |_| {}).await;
    let second = TestServer::start(&pki, pki.scratch("second.db"), |_| {}).await;
    let resolver = TableResolver::new();
    resolver.set("nodes.test", [first.addr, second.addr]);
    let (transport, mut orders) = spawn_named(&pki, "dev-nodes", "nodes.test", &resolver);
    assert_eq!(connected_to(&transport).await, first.addr);
    serves(&first, &transport, &mut orders, "dev-nodes", 1).await;

    first.crash().await;
    moved_to(&transport, second.addr).await;
    serves(&second, &transport, &mut orders, "dev-nodes", 2).await;
    assert!(transport.close(PATIENCE).await.flushed);
    second.stop().await;
}

#[tokio::test]
async fn a_name_is_resolved_again_and_its_new_address_followed() {
    let pki = TestPki::new();
    let first = TestServer::start(&pki, pki.scratch("first.db"), |_| {}).await;
    let second = TestServer::start(&pki, pki.scratch("second.db"), |_| {}).await;
    let resolver = TableResolver::new();
    resolver.set("moving.test", [first.addr]);
    let (transport, mut orders) = spawn_named(&pki, "dev-moving", "moving.test", &resolver);
    assert_eq!(connected_to(&transport).await, first.addr);
    serves(&first, &transport, &mut orders, "dev-moving", 1).await;
    let lookups = resolver.lookups("moving.test");

    // The name now stands for the second node only; the first dies. The device backs off (its
    // only target failed), resolves the name again and reaches the second node.
    resolver.set("moving.test", [second.addr]);
    first.crash().await;
    moved_to(&transport, second.addr).await;
    assert!(resolver.lookups("moving.test") > lookups);
    serves(&second, &transport, &mut orders, "dev-moving", 2).await;
    assert!(transport.close(PATIENCE).await.flushed);
    second.stop().await;
}
