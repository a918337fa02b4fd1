//! [`Db`]: calls a [`Storage`] from async code without blocking the runtime.

use std::sync::Arc;

use super::{Storage, StorageError};

/// A shared storage whose calls run on tokio's blocking thread pool.
///
/// A call that has started always runs to completion, even if the future awaiting it is
/// dropped: a write is never cut in half by a connection being closed or the server stopping.
#[derive(Clone)]
pub(crate) struct Db {
    storage: Arc<dyn Storage>,
}

impl Db {
    /// Wraps `storage`.
    pub(crate) fn new(storage: Arc<dyn Storage>) -> Db {
        Db { storage }
    }

    /// Runs `f` on the storage on a blocking thread.
    pub(crate) async fn call<R, F>(&self, f: F) -> Result<R, StorageError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<R, StorageError> + Send + 'static,
    {
        let storage = Arc::clone(&self.storage);
        tokio::task::spawn_blocking(move || f(&*storage))
            .await
            .map_err(|e| StorageError::Task(e.to_string()))?
    }
}
