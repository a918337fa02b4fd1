//! A PostgreSQL schema of its own for each test: [`TestDatabase`].
//!
//! Tests connect to `postgres://postgres@127.0.0.1:5432/test` (trust authentication, as on
//! every machine of this project; `NGTT_TEST_POSTGRES_URL` names another base URL). When no
//! server answers, [`TestDatabase::create`] prints why and returns `None`, so the test returns
//! at once; with `NGTT_REQUIRE_POSTGRES=1` (set by CI) it panics instead, so that CI never
//! passes without running the PostgreSQL tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The database tests use unless `NGTT_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_TEST_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh, empty schema in the test database, dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    base: String,
    schema: String,
}

/// Runs `sql` on `base` from a thread of its own (with its own runtime, so that this works
/// from synchronous and asynchronous tests alike).
fn run_sql(base: &str, sql: String) -> Result<(), String> {
    let base = base.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let mut config: tokio_postgres::Config = base.parse().map_err(|e| format!("{e}"))?;
            config.connect_timeout(Duration::from_secs(5));
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            let driver = tokio::spawn(connection);
            let result = client.batch_execute(&sql).await.map_err(|e| e.to_string());
            drop(client);
            let _ = driver.await;
            result
        })
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_owned())?
}

impl TestDatabase {
    /// A new schema named after `test` (plus a unique suffix), or `None` (after printing why)
    /// when PostgreSQL cannot be reached and `NGTT_REQUIRE_POSTGRES` is not `1`.
    pub fn create(test: &str) -> Option<TestDatabase> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::var("NGTT_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_URL.to_owned());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let tag: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(24)
            .collect();
        let schema = format!(
            "t_{tag}_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        match run_sql(&base, format!("CREATE SCHEMA {schema}")) {
            Ok(()) => Some(TestDatabase { base, schema }),
            Err(e) => {
                if std::env::var("NGTT_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!("NGTT_REQUIRE_POSTGRES=1 but PostgreSQL at {base} is not usable: {e}");
                }
                eprintln!("SKIPPED: no PostgreSQL at {base} ({e}); set NGTT_TEST_POSTGRES_URL or start it");
                None
            }
        }
    }

    /// The URL `ngtt serve --db` and `PostgresUrl::parse` take: the test database with this
    /// test's schema (`?schema=…`).
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}", self.base, self.schema)
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Runs SQL in the test database (e.g. to install a trigger in the test's schema).
    pub fn execute(&self, sql: &str) -> Result<(), String> {
        run_sql(&self.base, format!("SET search_path TO {};\n{sql}", self.schema))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = run_sql(
            &self.base,
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
        ) {
            eprintln!("could not drop test schema {}: {e}", self.schema);
        }
    }
}
