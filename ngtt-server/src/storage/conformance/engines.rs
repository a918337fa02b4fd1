//! The conformance suite run on each engine: SQLite (a file of its own per test, in memory for
//! the hot path) and PostgreSQL (a schema of its own per test, [`TestDatabase`]; skipped with a
//! message when no PostgreSQL answers, unless `NGTT_REQUIRE_POSTGRES=1`).

use std::sync::Arc;

use ngtt_testkit::postgres::TestDatabase;

use super::{run_all, stamps, upload};
use crate::storage::{PostgresStorage, PostgresUrl, SqliteStorage, Store};

/// Connects to the test's schema (a small pool: many tests and helpers share the server).
fn postgres(db: &TestDatabase) -> PostgresStorage {
    let url = PostgresUrl::parse(&format!("{}&pool_size=4", db.url())).expect("test URL");
    PostgresStorage::connect(&url).expect("connect to the test database")
}

/// One `#[test]` per check and engine.
macro_rules! on_both_engines {
    ($($module:ident :: $check:ident),* $(,)?) => {
        mod sqlite_engine {
            $(
                #[test]
                fn $check() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let db = crate::storage::SqliteStorage::open(dir.path().join("t.db")).expect("open");
                    super::super::$module::$check(&db);
                }
            )*
        }

        mod postgres_engine {
            $(
                #[test]
                fn $check() {
                    let Some(schema) = ngtt_testkit::postgres::TestDatabase::create(stringify!($check)) else {
                        return;
                    };
                    let db = super::postgres(&schema);
                    super::super::$module::$check(&db);
                }
            )*
        }
    };
}

on_both_engines!(
    records::order_lifecycle,
    records::http_hand_out_confirms,
    records::devices_and_settings,
    records::samples_are_deduplicated_and_grouped,
    records::logs_most_recent_oldest_first,
    records::message_reports_keep_the_first_time,
    records::pathpoint_registrations_upsert_and_list_sorted,
    resources::events_are_created_once_and_closed_once,
    resources::closing_from_the_admin_side_sticks,
    resources::slaves_keep_their_instrumentation_while_listed,
    baobs::version_rules,
    baobs::contents_are_read_chunk_by_chunk_and_only_by_their_device,
    device_data::macros_keep_completions_and_limits,
    device_data::archives_are_replaced_whole,
    device_data::metadata_respects_newer_stamps,
    device_data::sensors_and_their_writes,
    device_data::predicates_round_trip,
    group_commit::a_failing_operation_does_not_fail_its_batch_mates,
    group_commit::failing_uploads_first_last_and_between_fail_alone,
    group_commit::operations_of_a_batch_see_each_other_in_order,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_conforms() {
    run_all(&Store::new(Arc::new(SqliteStorage::open_in_memory().unwrap()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_conforms_and_keeps_what_it_answered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::new(Arc::new(SqliteStorage::open(&path).unwrap()));
        run_all(&store).await;
        assert_eq!(store.store_series("durable", upload("W1", [7])).await.unwrap(), 1);
    }
    let store = Store::new(Arc::new(SqliteStorage::open(&path).unwrap()));
    assert_eq!(stamps(&store, "durable").await, [7]);
    assert_eq!(stamps(&store, "many-3").await.len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conforms_and_keeps_what_it_answered() {
    let Some(schema) = TestDatabase::create("postgres_conforms") else {
        return;
    };
    {
        let store = Store::new(Arc::new(postgres(&schema)));
        run_all(&store).await;
        assert_eq!(store.store_series("durable", upload("W1", [7])).await.unwrap(), 1);
        // Dropped here, on an async worker thread: the storage's runtime shuts down in the
        // background instead of panicking.
    }
    let store = Store::new(Arc::new(postgres(&schema)));
    assert_eq!(stamps(&store, "durable").await, [7]);
    assert_eq!(stamps(&store, "many-3").await.len(), 25);
    // The tid sequence continues on the new connection pool, as after a restart.
    assert_eq!(store.reserve_order_tids("tid", 1).await.unwrap(), 514);
}

#[test]
fn postgres_nodes_share_one_database() {
    let Some(schema) = TestDatabase::create("postgres_shared") else {
        return;
    };
    let nodes: Vec<Arc<dyn crate::storage::Storage>> =
        vec![Arc::new(postgres(&schema)), Arc::new(postgres(&schema))];
    super::shared::nodes_share_one_database(&nodes);
}

#[test]
fn sqlite_processes_share_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let nodes: Vec<Arc<dyn crate::storage::Storage>> = vec![
        Arc::new(SqliteStorage::open(&path).unwrap()),
        Arc::new(SqliteStorage::open(&path).unwrap()),
    ];
    super::shared::nodes_share_one_database(&nodes);
}

/// The synchronous bridge neither panics nor deadlocks whatever thread calls it: inside a
/// current-thread runtime (a plain `#[tokio::test]`), on its blocking pool, on a plain thread;
/// and dropping the storage inside a runtime is allowed.
#[tokio::test]
async fn postgres_calls_work_from_any_thread() {
    use crate::storage::Storage;
    let Some(schema) = TestDatabase::create("postgres_any_thread") else {
        return;
    };
    let storage = Arc::new(postgres(&schema));
    // On the runtime's only thread (blocking it briefly, which the trait allows tests to do).
    assert_eq!(storage.reserve_order_tids("t", 10).unwrap(), 1);
    let on_pool = Arc::clone(&storage);
    let first = tokio::task::spawn_blocking(move || on_pool.reserve_order_tids("t", 10).unwrap())
        .await
        .unwrap();
    assert_eq!(first, 11);
    let on_thread = Arc::clone(&storage);
    let first = std::thread::spawn(move || on_thread.reserve_order_tids("t", 10).unwrap())
        .join()
        .unwrap();
    assert_eq!(first, 21);
    // The last handle goes here, inside the runtime.
    drop(storage);
}
