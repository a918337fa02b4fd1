//! `kill -9` of `ngtt serve` while several devices upload at full speed, so that the server is
//! in the middle of group commits: every upload that a device saw confirmed
//! (DATA_STREAM_CONFIRM) is in the database after the restart, and none is stored twice. On
//! SQLite and on PostgreSQL (skipped without one, unless `NGTT_REQUIRE_POSTGRES=1`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ngtt_proto::payload::{PathpointSeries, Sample};
use std::path::PathBuf;

use ngtt_server::storage::{PostgresStorage, PostgresUrl, SeriesQuery, SqliteStorage, Storage};
use ngtt_testkit::cli::Serve;
use ngtt_testkit::postgres::TestDatabase;
use ngtt_testkit::{device_config, TestPki};
use ngtt_transport::Transport;

const DEVICES: usize = 6;
/// Uploads each device keeps in flight (so that many wait for the same commit).
const IN_FLIGHT: u64 = 8;
/// Kill once this many uploads were confirmed in all.
const CONFIRMED_BEFORE_KILL: usize = 300;

fn upload(ts: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new("W1r4002", [Sample::value(ts, ts as i64)])]
}

/// Where the server keeps its data.
enum Db {
    Sqlite(PathBuf),
    Postgres { db: TestDatabase, token: PathBuf },
}

impl Db {
    async fn serve(&self, pki: &TestPki) -> Serve {
        match self {
            Db::Sqlite(path) => Serve::start(pki.dir(), path).await,
            Db::Postgres { db, token } => Serve::start_postgres(pki.dir(), &db.url(), token).await,
        }
    }

    /// The storage, opened beside the server (off the async threads).
    async fn open(&self) -> Box<dyn Storage> {
        let target = match self {
            Db::Sqlite(path) => Ok(path.clone()),
            Db::Postgres { db, .. } => Err(PostgresUrl::parse(&format!("{}&pool_size=2", db.url())).unwrap()),
        };
        tokio::task::spawn_blocking(move || -> Box<dyn Storage> {
            match target {
                Ok(path) => Box::new(SqliteStorage::open(path).unwrap()),
                Err(url) => Box::new(PostgresStorage::connect(&url).unwrap()),
            }
        })
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_group_commit_loses_no_confirmed_upload() {
    let pki = TestPki::new();
    let db = Db::Sqlite(pki.scratch("ngtt.db"));
    kill_9_during_uploads(&pki, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_group_commit_on_postgres_loses_no_confirmed_upload() {
    let Some(db) = TestDatabase::create("group_commit_kill") else {
        return;
    };
    let pki = TestPki::new();
    let db = Db::Postgres {
        db,
        token: pki.scratch("admin-token"),
    };
    kill_9_during_uploads(&pki, &db).await;
}

async fn kill_9_during_uploads(pki: &TestPki, db: &Db) {
    let serve = db.serve(pki).await;
    let confirmed: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let mut tasks = Vec::new();
    for d in 0..DEVICES {
        let id = format!("dev{d}");
        let (transport, _orders) = Transport::spawn(device_config(pki, &id, serve.ngtt)).unwrap();
        for lane in 0..IN_FLIGHT {
            let (transport, id, confirmed) = (transport.clone(), id.clone(), Arc::clone(&confirmed));
            tasks.push(tokio::spawn(async move {
                // Lane `lane` uses timestamps lane, lane + IN_FLIGHT, …: distinct per device.
                for ts in (lane..).step_by(IN_FLIGHT as usize) {
                    if transport.sync_pathpoints(upload(ts)).await.is_ok() {
                        confirmed.lock().unwrap().push((id.clone(), ts));
                    }
                }
            }));
        }
    }
    let enough = async {
        while confirmed.lock().unwrap().len() < CONFIRMED_BEFORE_KILL {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), enough)
        .await
        .expect("uploads are confirmed");
    // Dropping `Serve` sends SIGKILL at once, uploads still in flight.
    drop(serve);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for task in &tasks {
        task.abort();
    }
    let confirmed = confirmed.lock().unwrap().clone();
    assert!(confirmed.len() >= CONFIRMED_BEFORE_KILL);

    // The server reopens the database (WAL recovery) and serves again.
    let serve = db.serve(pki).await;
    let storage = db.open().await;
    for d in 0..DEVICES {
        let id = format!("dev{d}");
        let all = SeriesQuery {
            limit: usize::MAX,
            ..SeriesQuery::default()
        };
        let stored = storage.read_series(&id, &all).unwrap();
        let stamps: Vec<u64> = stored
            .iter()
            .flat_map(|s| s.values.iter().map(Sample::ts))
            .collect();
        let mut unique = stamps.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), stamps.len(), "{id}: a sample stored twice");
        for (_, ts) in confirmed.iter().filter(|(dev, _)| *dev == id) {
            assert!(
                unique.binary_search(ts).is_ok(),
                "{id}: confirmed upload {ts} lost"
            );
        }
    }
    assert_eq!(serve.stop().await.code(), Some(0));
}
