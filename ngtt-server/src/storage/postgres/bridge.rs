//! The synchronous face of the asynchronous driver: [`PostgresStorage`]'s pool, its own small
//! runtime, and [`PostgresStorage::block`].
//!
//! The connections' I/O tasks run on a runtime owned by the storage (two worker threads named
//! `ngtt-postgres`). A trait call polls its future on the calling thread with that runtime's
//! context entered, using `futures::executor::block_on`:
//!
//! * no "cannot start a runtime from within a runtime" panic whatever the calling thread is
//!   (tokio's blocking pool, the writer thread, a test thread): nothing here calls a tokio
//!   `block_on`;
//! * no deadlock: the runtime's own threads never make a trait call, so the connection tasks a
//!   call waits for always make progress; a call holds one pooled connection at a time, and
//!   waiting for a free connection times out ([`POOL_WAIT`]) instead of hanging.
//!
//! Dropping the storage shuts its runtime down in the background, which is allowed anywhere,
//! also on an async worker thread.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::url::PostgresUrl;
use crate::storage::StorageError;

/// Longest wait for a free pooled connection before a call fails.
pub const POOL_WAIT: Duration = Duration::from_secs(30);

/// Longest wait for a new connection to be established.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`crate::storage::Storage`] in a PostgreSQL database (see the module documentation of
/// `storage::postgres`).
pub struct PostgresStorage {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    url: PostgresUrl,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn engine(message: impl std::fmt::Display) -> StorageError {
    StorageError::Engine {
        engine: "postgres",
        message: message.to_string(),
    }
}

impl PostgresStorage {
    /// Connects to the database `url` names, creates its schema if needed and migrates it to
    /// the current version. Fails when the database cannot be reached or was written by a
    /// newer release.
    pub fn connect(url: &PostgresUrl) -> Result<PostgresStorage, StorageError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ngtt-postgres")
            .enable_all()
            .build()
            .map_err(|e| engine(format!("cannot start the driver's runtime: {e}")))?;
        let mut config = url.driver_config().map_err(StorageError::Invalid)?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(url.pool_size())
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| engine(format!("connection pool: {e}")))?;
        let storage = PostgresStorage {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            url: url.clone(),
        };
        storage
            .block(super::schema::migrate(&storage, url.schema()))
            .map_err(|e| match e {
                // Which database could not be used (its password hidden).
                StorageError::Engine { engine, message } => StorageError::Engine {
                    engine,
                    message: format!("{url}: {message}"),
                },
                other => other,
            })?;
        let stale = storage.block(super::baobs::remove_stale_uploads(&storage))?;
        if stale > 0 {
            tracing::info!(stale, "removed abandoned BAOB uploads");
        }
        tracing::info!(database = %url, "PostgreSQL storage ready");
        Ok(storage)
    }

    /// The database this storage is connected to (its password hidden when displayed).
    pub fn url(&self) -> &PostgresUrl {
        &self.url
    }

    /// Runs `future` to completion on the calling thread, with the driver's runtime entered.
    pub(in crate::storage) fn block<F: Future>(&self, future: F) -> F::Output {
        let _entered = self.handle.enter();
        futures::executor::block_on(future)
    }

    /// A pooled connection (its search path set to the storage's schema).
    pub(in crate::storage) async fn client(&self) -> Result<Object, StorageError> {
        Ok(self.pool.get().await?)
    }
}

impl Drop for PostgresStorage {
    fn drop(&mut self) {
        self.pool.close();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
