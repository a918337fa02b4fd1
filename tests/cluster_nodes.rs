//! Several `ngtt serve` nodes (child processes) on one PostgreSQL database: orders queued on
//! one node reach devices connected to the others; a node killed with `kill -9` loses nothing
//! (its devices reconnect to the survivors, every order is delivered, every confirmed upload is
//! stored), and its devices get their orders before its lease ttl could have expired (its node
//! lock tells its death); a device flapping between two nodes has no order confirmed without its
//! confirm and none stuck. Devices are raw NGTT clients that choose their node explicitly. Each test has a
//! schema of its own; without PostgreSQL they are skipped (unless `NGTT_REQUIRE_POSTGRES=1`).

use std::collections::BTreeSet;

use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::cli::Serve;
use ngtt_testkit::postgres::TestDatabase;
use ngtt_testkit::{admin_request, eventually, read_order, read_path, RawDevice, TestPki};
use serde_json::Value;

/// `count` nodes on `db`, started one after the other (the first writes the admin token).
async fn nodes(pki: &TestPki, db: &TestDatabase, count: usize, extra: &[&str]) -> Vec<Serve> {
    let token = pki.scratch("admin-token");
    let mut nodes = Vec::new();
    for i in 0..count {
        let id = format!("node{i}");
        let mut args = vec!["--node-id", id.as_str()];
        args.extend_from_slice(extra);
        nodes.push(Serve::start_postgres_with(pki.dir(), &db.url(), &token, &args).await);
    }
    nodes
}

/// Queues an order reading `path` for `device` through `node`'s admin API; its id.
async fn queue(node: &Serve, device: &str, path: &str) -> i64 {
    let url = node.admin_url(&format!("/v1/devices/{device}/orders"));
    let (status, body) = admin_request(
        reqwest::Method::POST,
        &url,
        Some(read_order(path)),
        Some(&node.token()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().expect("order id")
}

async fn get(node: &Serve, path: &str) -> Value {
    let (status, body) = admin_request(
        reqwest::Method::GET,
        &node.admin_url(path),
        None,
        Some(&node.token()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The paths of `device`'s orders in `state`.
async fn paths_in(node: &Serve, device: &str, state: &str) -> BTreeSet<String> {
    let orders = get(node, &format!("/v1/devices/{device}/orders?state={state}")).await;
    orders
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| {
            o["sections"][0]["orders"][0]["path"]
                .as_str()
                .map_or_else(|| o.to_string(), str::to_owned)
        })
        .collect()
}

/// Waits until every order in `ids` is confirmed (read through `node`).
async fn until_confirmed(node: &Serve, ids: &[i64]) {
    for id in ids {
        eventually(|| async move {
            let order = get(node, &format!("/v1/orders/{id}")).await;
            (order["state"] == "confirmed").then_some(())
        })
        .await;
    }
}

/// A device connected to `node`, asking for its orders (no PING: waiting for its echo would
/// skip the orders already pending).
async fn connect(node: &Serve, pki: &TestPki, id: &str) -> RawDevice {
    let mut device = RawDevice::connect(node.ngtt, pki, Some(&pki.device(id)))
        .await
        .expect("device connects");
    device.fetch_orders().await;
    device
}

/// The next ORDER on `device` (skipping other frames): its tid and the path it reads.
async fn next_order(device: &mut RawDevice) -> (u16, String) {
    loop {
        let frame = device.recv().await;
        if frame.kind == FrameType::Order {
            let sections = frame
                .payload_as::<Vec<ngtt_proto::payload::Section>>()
                .expect("sections");
            return (frame.tid, read_path(&sections));
        }
    }
}

/// Uploads one sample at `ts` and waits for its DATA_STREAM_CONFIRM.
async fn upload(device: &mut RawDevice, tid: u16, ts: u64) {
    let series = [PathpointSeries::new("W1r4002", [Sample::value(ts, ts as i64)])];
    device
        .send(Frame::data_stream(tid, &series).expect("frame"))
        .await;
    loop {
        let frame = device.recv().await;
        if frame.kind == FrameType::DataStreamConfirm && frame.tid == tid {
            return;
        }
        assert_ne!(frame.kind, FrameType::DataStreamReject, "upload rejected");
    }
}

/// The sample timestamps stored for `device`.
async fn stored(node: &Serve, device: &str) -> BTreeSet<u64> {
    let series = get(node, &format!("/v1/devices/{device}/pathpoints")).await;
    series
        .as_array()
        .expect("series")
        .iter()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v[0].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_queued_on_one_node_reach_devices_connected_to_the_others() {
    let Some(db) = TestDatabase::create("cluster_cross") else {
        return;
    };
    let pki = TestPki::new();
    // No sweep within the test: only the notifications can deliver in time.
    let nodes = nodes(&pki, &db, 3, &["--cluster-sweep", "3600"]).await;
    let mut on_1 = connect(&nodes[1], &pki, "cross-1").await;
    let mut on_2 = connect(&nodes[2], &pki, "cross-2").await;
    let first = queue(&nodes[0], "cross-1", "A1").await;
    let second = queue(&nodes[0], "cross-2", "A2").await;
    let third = queue(&nodes[2], "cross-1", "A3").await;
    for (device, want) in [(&mut on_1, "A1"), (&mut on_2, "A2")] {
        let (tid, path) = next_order(device).await;
        assert_eq!(path, want);
        device.send(Frame::order_confirm(tid)).await;
    }
    let (tid, path) = next_order(&mut on_1).await;
    assert_eq!(path, "A3");
    on_1.send(Frame::order_confirm(tid)).await;
    until_confirmed(&nodes[0], &[first, second, third]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_loses_no_order_and_no_confirmed_upload() {
    let Some(db) = TestDatabase::create("cluster_kill") else {
        return;
    };
    let pki = TestPki::new();
    let mut nodes = nodes(&pki, &db, 3, &["--lease-ttl", "3", "--cluster-sweep", "2"]).await;
    let ids: Vec<String> = (0..4).map(|i| format!("kill-{i}")).collect();
    let mut devices = Vec::new();
    let mut orders: Vec<Vec<i64>> = Vec::new();
    let mut uploads = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let mut device = connect(&nodes[0], &pki, id).await;
        let mut confirmed = BTreeSet::new();
        for n in 0..3u64 {
            let ts = 1_700_000_000_000 + 1000 * i as u64 + n;
            upload(&mut device, 100 + n as u16, ts).await;
            confirmed.insert(ts);
        }
        uploads.push(confirmed);
        devices.push(device);
    }
    for id in &ids {
        let mut mine = Vec::new();
        for n in 0..3 {
            mine.push(queue(&nodes[2], id, &format!("K{n}")).await);
        }
        orders.push(mine);
    }
    // Each device confirms its first order and leaves the others unanswered.
    for device in &mut devices {
        let (tid, path) = next_order(device).await;
        assert_eq!(path, "K0");
        device.send(Frame::order_confirm(tid)).await;
        for want in ["K1", "K2"] {
            assert_eq!(next_order(device).await.1, want);
        }
    }
    let first_confirms: Vec<i64> = orders.iter().map(|mine| mine[0]).collect();
    until_confirmed(&nodes[2], &first_confirms).await;

    // kill -9 (the child is killed on drop), devices and all.
    drop(nodes.remove(0));
    drop(devices);
    for (i, id) in ids.iter().enumerate() {
        let node = &nodes[i % 2];
        let mut device = connect(node, &pki, id).await;
        let later = queue(&nodes[(i + 1) % 2], id, "K3").await;
        orders[i].push(later);
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let (tid, path) = next_order(&mut device).await;
            device.send(Frame::order_confirm(tid)).await;
            seen.push(path);
        }
        seen.sort();
        assert_eq!(
            seen,
            ["K1", "K2", "K3"],
            "{id}: the unanswered orders again, then the new one"
        );
        let ts = 1_800_000_000_000 + i as u64;
        upload(&mut device, 200, ts).await;
        uploads[i].insert(ts);
        until_confirmed(node, &orders[i]).await;
        drop(device);
    }
    for (id, confirmed) in ids.iter().zip(&uploads) {
        let stored = stored(&nodes[1], id).await;
        assert!(
            stored.is_superset(confirmed),
            "{id}: {stored:?} lacks some of {confirmed:?}"
        );
        assert!(paths_in(&nodes[0], id, "queued").await.is_empty());
        assert!(paths_in(&nodes[0], id, "sent").await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devices_of_a_node_killed_hard_get_their_orders_before_its_lease_ttl() {
    let Some(db) = TestDatabase::create("cluster_kill_fast") else {
        return;
    };
    let pki = TestPki::new();
    // A lease ttl far longer than anything here: only the dead node's free node lock lets the
    // survivor serve its devices before it expires.
    let mut nodes = nodes(&pki, &db, 3, &["--lease-ttl", "30", "--cluster-sweep", "3600"]).await;
    let ids: Vec<String> = (0..3).map(|i| format!("fast-{i}")).collect();
    let mut devices = Vec::new();
    let mut orders = Vec::new();
    for id in &ids {
        let mut device = connect(&nodes[0], &pki, id).await;
        orders.push(queue(&nodes[1], id, "Q0").await);
        // Handed out, never answered: redelivered after the kill.
        assert_eq!(next_order(&mut device).await.1, "Q0");
        devices.push(device);
    }
    // Node 0 stays alive in the database at least until then (the database's clock).
    db.execute("CREATE TABLE kill_mark AS SELECT expires_at FROM ngtt_nodes WHERE node_id = 'node0'")
        .expect("node 0's liveness recorded");
    drop(nodes.remove(0));
    drop(devices);
    for (i, id) in ids.iter().enumerate() {
        let node = &nodes[i % 2];
        let mut device = connect(node, &pki, id).await;
        let later = queue(&nodes[(i + 1) % 2], id, "Q1").await;
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let (tid, path) = next_order(&mut device).await;
            device.send(Frame::order_confirm(tid)).await;
            seen.push(path);
        }
        seen.sort();
        assert_eq!(seen, ["Q0", "Q1"], "{id}");
        until_confirmed(node, &[orders[i], later]).await;
    }
    db.execute(
        "DO $$ BEGIN
             IF now() >= (SELECT min(expires_at) FROM kill_mark) THEN
                 RAISE EXCEPTION 'served only after the killed node''s lease ttl';
             END IF;
         END $$",
    )
    .expect("the killed node's devices were served before its lease ttl expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_flapping_between_two_nodes_confirms_each_order_itself_and_none_sticks() {
    let Some(db) = TestDatabase::create("cluster_flap") else {
        return;
    };
    let pki = TestPki::new();
    let nodes = nodes(&pki, &db, 2, &["--lease-ttl", "3", "--cluster-sweep", "2"]).await;
    let id = "flap";
    let paths: Vec<String> = (0..6).map(|n| format!("F{n}")).collect();
    let mut ids = Vec::new();
    for (n, path) in paths.iter().enumerate() {
        ids.push(queue(&nodes[n % 2], id, path).await);
    }
    let mut confirmed_by_device = BTreeSet::new();
    let mut previous: Option<RawDevice> = None;
    for round in 0..8 {
        // The new connection replaces the previous one, on the other node, while it is open.
        let mut device = connect(&nodes[round % 2], &pki, id).await;
        drop(previous.take());
        let (tid, path) = next_order(&mut device).await;
        if round % 2 == 0 {
            device.send(Frame::order_confirm(tid)).await;
            device.ping(2).await;
            confirmed_by_device.insert(path);
        }
        let confirmed = paths_in(&nodes[round % 2], id, "confirmed").await;
        assert!(
            confirmed.is_subset(&confirmed_by_device),
            "round {round}: confirmed {confirmed:?}, the device confirmed only {confirmed_by_device:?}"
        );
        previous = Some(device);
    }
    // A last, steady connection: everything still pending arrives and is confirmed.
    let mut device = connect(&nodes[1], &pki, id).await;
    drop(previous);
    while confirmed_by_device.len() < paths.len() {
        let (tid, path) = next_order(&mut device).await;
        device.send(Frame::order_confirm(tid)).await;
        confirmed_by_device.insert(path);
    }
    until_confirmed(&nodes[0], &ids).await;
    let confirmed = paths_in(&nodes[0], id, "confirmed").await;
    assert_eq!(confirmed, paths.iter().cloned().collect::<BTreeSet<_>>());
}
