//! The coordination against a real PostgreSQL, each test in a schema of its own.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Cluster, ClusterConfig};
use crate::registry::Registry;
use crate::storage::PostgresUrl;
use ngtt_testkit::postgres::TestDatabase;

/// Generous: the machine is loaded; nothing here measures time.
const PATIENCE: Duration = Duration::from_secs(60);

async fn node(db: &TestDatabase, name: &str, ttl: Duration) -> (Arc<Cluster>, Registry, CancellationToken) {
    node_sweeping(db, name, ttl, crate::cluster::DEFAULT_SWEEP).await
}

async fn node_sweeping(
    db: &TestDatabase,
    name: &str,
    ttl: Duration,
    sweep_every: Duration,
) -> (Arc<Cluster>, Registry, CancellationToken) {
    let registry = Registry::default();
    let shutdown = CancellationToken::new();
    let config = ClusterConfig {
        node_id: name.to_owned(),
        lease_ttl: ttl,
        sweep_every,
    };
    let url = PostgresUrl::parse(&db.url()).expect("test URL");
    let cluster = Cluster::start(&url, config, registry.clone(), &shutdown)
        .await
        .expect("cluster starts");
    (cluster, registry, shutdown)
}

#[tokio::test]
async fn an_order_queued_on_one_node_wakes_the_connection_on_another() {
    let Some(db) = TestDatabase::create("cluster_wake") else {
        return;
    };
    let (_a, reg_a, _sa) = node(&db, "a", Duration::from_secs(10)).await;
    let (b, reg_b, _sb) = node(&db, "b", Duration::from_secs(10)).await;
    let parent = CancellationToken::new();
    let (conn, _) = reg_b.register("d", 1, &parent);
    b.acquire("d", 1).await.unwrap();
    let woken = conn.inbox.notify.notified();
    reg_a.notify("d");
    tokio::time::timeout(PATIENCE, woken)
        .await
        .expect("woken through the channel");
    assert!(b.may_claim("d", 1).await);
}

#[tokio::test]
async fn a_takeover_on_another_node_stops_the_old_connection_and_waits_for_its_release() {
    let Some(db) = TestDatabase::create("cluster_takeover") else {
        return;
    };
    let (a, reg_a, _sa) = node(&db, "a", Duration::from_secs(10)).await;
    let (b, reg_b, _sb) = node(&db, "b", Duration::from_secs(10)).await;
    let parent = CancellationToken::new();
    let (old, _) = reg_a.register("d", 1, &parent);
    a.acquire("d", 1).await.unwrap();
    assert!(a.may_claim("d", 1).await);
    let (new, _) = reg_b.register("d", 2, &parent);
    b.acquire("d", 2).await.unwrap();
    // From here on the old connection never claims, notification heard or not.
    assert!(!a.may_claim("d", 1).await);
    assert!(!b.may_claim("d", 2).await, "a has not released the device yet");
    tokio::time::timeout(PATIENCE, old.inbox.stopped())
        .await
        .expect("old connection stopped");
    let woken = new.inbox.notify.notified();
    a.ended("d", 1).await;
    drop(old);
    tokio::time::timeout(PATIENCE, woken)
        .await
        .expect("new connection woken on release");
    assert!(b.may_claim("d", 2).await);
    assert!(!new.inbox.is_stopped());
}

/// Waits (at most [`PATIENCE`]) until `claims` says `want` for connection `conn` of `device`.
async fn until_may_claim(node: &Cluster, device: &str, conn: u64, want: bool, what: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while node.may_claim(device, conn).await != want {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Device `d` on node `a`, then `a` dies (no renewal, no release, no leaving; its lock
/// connection closes) and `forget` runs on the database; `d` reconnects to node `b`, which must
/// end up claiming for it (`what` if it never does) while `a`'s lease stays superseded.
async fn dead_node_taken_over(db: &TestDatabase, ttl: Duration, forget: Option<&str>, what: &str) {
    let (a, reg_a, stop_a) = node(db, "a", ttl).await;
    let (b, reg_b, _sb) = node(db, "b", ttl).await;
    let parent = CancellationToken::new();
    let (_old, _) = reg_a.register("d", 1, &parent);
    a.acquire("d", 1).await.unwrap();
    stop_a.cancel();
    if let Some(sql) = forget {
        db.execute(sql).expect("forget what the test says");
    }
    let (_new, _) = reg_b.register("d", 2, &parent);
    b.acquire("d", 2).await.unwrap();
    until_may_claim(&b, "d", 2, true, what).await;
    assert!(!a.may_claim("d", 1).await, "a's lease is superseded");
}

#[tokio::test]
async fn the_devices_of_a_dead_node_are_served_without_waiting_for_its_ttl() {
    let Some(db) = TestDatabase::create("cluster_death") else {
        return;
    };
    // A ttl far beyond PATIENCE: only the dead node's free lock can let b claim in time.
    dead_node_taken_over(
        &db,
        Duration::from_secs(600),
        None,
        "b never took over from dead a",
    )
    .await;
}

#[tokio::test]
async fn the_devices_of_a_dead_node_without_a_lock_key_are_served_after_its_ttl() {
    let Some(db) = TestDatabase::create("cluster_death_ttl") else {
        return;
    };
    // As a node of an older version: no lock to probe, the ttl rule alone.
    let forget = "UPDATE ngtt_nodes SET lock_key = NULL WHERE node_id = 'a'";
    dead_node_taken_over(
        &db,
        Duration::from_secs(2),
        Some(forget),
        "b never took over from expired a",
    )
    .await;
}

#[tokio::test]
async fn a_node_that_lost_its_lock_claims_nothing_until_it_holds_it_again() {
    let Some(db) = TestDatabase::create("cluster_fence") else {
        return;
    };
    let ttl = Duration::from_secs(600);
    let (a, reg_a, _sa) = node(&db, "a", ttl).await;
    let (b, reg_b, _sb) = node(&db, "b", ttl).await;
    let parent = CancellationToken::new();
    let (_conn, _) = reg_a.register("d", 1, &parent);
    a.acquire("d", 1).await.unwrap();
    assert!(a.may_claim("d", 1).await);

    // Cut a's lock connection and keep its lock from it: a stays alive by its liveness row.
    let url = PostgresUrl::parse(&db.url()).expect("test URL");
    let (client, connection) = url
        .driver_config()
        .expect("driver config")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("test connection");
    tokio::spawn(connection);
    let key = super::sql::node_lock_key(db.schema(), "a");
    let bits = u64::from_ne_bytes(key.to_ne_bytes());
    let (high, low) = (bits >> 32, bits & 0xffff_ffff);
    let terminate = format!(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory'
         AND objsubid = 1 AND classid = {high}::bigint::oid AND objid = {low}::bigint::oid"
    );
    // Until the test holds it (a takes it again 250 ms after losing it, at the earliest).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        client
            .batch_execute(&terminate)
            .await
            .expect("a's lock connection terminated");
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .expect("lock probe");
        if row.get::<_, bool>(0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never got a's lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    until_may_claim(&a, "d", 1, false, "a went on claiming without its lock").await;

    // A lock held (here by the test) means alive: b waits for a's release or its ttl.
    let (_new, _) = reg_b.register("d", 2, &parent);
    b.acquire("d", 2).await.unwrap();
    b.recheck_leases(&["d".to_owned()]).await.unwrap();
    assert!(!b.may_claim("d", 2).await, "a held lock is no death");

    // Once a holds its lock again it is alive, and lost the device to b.
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .expect("released");
    let (_again, _) = reg_a.register("e", 3, &parent);
    a.acquire("e", 3).await.unwrap();
    until_may_claim(&a, "e", 3, true, "a never claimed again with its lock back").await;
    assert!(!a.may_claim("d", 1).await, "taken over by b meanwhile");
}

#[tokio::test]
async fn a_takeover_on_the_same_node_does_not_wait_for_itself() {
    let Some(db) = TestDatabase::create("cluster_same") else {
        return;
    };
    let (a, reg_a, _sa) = node(&db, "a", Duration::from_secs(10)).await;
    let parent = CancellationToken::new();
    let (first, _) = reg_a.register("d", 1, &parent);
    a.acquire("d", 1).await.unwrap();
    let (_second, replaced) = reg_a.register("d", 2, &parent);
    let replaced = replaced.expect("replaced");
    // The first connection's task ends (it would on its stop token).
    drop(first);
    replaced.stop_and_wait().await;
    a.acquire("d", 2).await.unwrap();
    a.ended("d", 1).await;
    assert!(a.may_claim("d", 2).await);
    assert!(!a.may_claim("d", 1).await);
}

#[tokio::test]
async fn the_sweep_finds_an_order_whose_wake_up_was_lost() {
    let Some(db) = TestDatabase::create("cluster_sweep") else {
        return;
    };
    let url = PostgresUrl::parse(&db.url()).expect("test URL");
    let storage = tokio::task::spawn_blocking(move || crate::storage::PostgresStorage::connect(&url))
        .await
        .unwrap()
        .expect("engine on the test schema");
    let (a, reg_a, _sa) = node_sweeping(&db, "a", Duration::from_secs(2), Duration::from_millis(200)).await;
    let parent = CancellationToken::new();
    let (conn, _) = reg_a.register("d", 1, &parent);
    a.acquire("d", 1).await.unwrap();
    let woken = conn.inbox.notify.notified();
    // Queued straight into the storage: nobody notifies.
    let storage = Arc::new(storage);
    let queue = Arc::clone(&storage);
    tokio::task::spawn_blocking(move || {
        use crate::storage::Storage;
        queue.queue_order("d", &minijson::to_vec(&Vec::<()>::new()).unwrap())
    })
    .await
    .unwrap()
    .unwrap();
    tokio::time::timeout(PATIENCE, woken)
        .await
        .expect("woken by the sweep");
}

#[tokio::test]
async fn a_node_stops_counting_as_releasing_devices_it_has_no_connection_of() {
    let Some(db) = TestDatabase::create("cluster_forget") else {
        return;
    };
    let (a, _reg_a, _sa) = node(&db, "a", Duration::from_secs(10)).await;
    // As if a had missed the announcements of these takeovers by b.
    db.execute(
        "INSERT INTO ngtt_leases (device_id, epoch, node_id, draining) VALUES
             ('d', 2, 'b', '{a}'), ('e', 2, 'b', '{a,c}'), ('f', 1, 'b', '{c}')",
    )
    .expect("leases inserted");
    let client = a.client().await.unwrap();
    // "e" is connected here: its release comes when that connection ends.
    let forgotten = a.sql.forget(&client, "a", &["e".to_owned()]).await.unwrap();
    assert_eq!(forgotten, vec!["d".to_owned()]);
    assert_eq!(
        a.sql.forget(&client, "a", &[]).await.unwrap(),
        vec!["e".to_owned()]
    );
}
