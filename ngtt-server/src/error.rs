//! The crate's error type.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::storage::StorageError;

/// Everything that can stop a [`crate::Server`] from starting or running.
///
/// Problems of a single device connection (a refused certificate, a protocol error, an idle
/// timeout) are not errors of the server: they are logged and close only that connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The storage engine failed (opening, migrating, reading or writing).
    #[error("storage: {0}")]
    Storage(#[from] StorageError),

    /// The certificates or key cannot be made into a TLS configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] ngtt_net::TlsError),

    /// A file named by the configuration could not be read.
    #[error("reading {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },

    /// A listening socket could not be bound.
    #[error("binding the {what} listener to {addr}: {source}")]
    Bind {
        /// `"NGTT"`, `"admin"` or `"device HTTP"`.
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// What went wrong.
        source: io::Error,
    },

    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The coordination of several nodes failed (its PostgreSQL tables or connections).
    #[error("cluster: {0}")]
    Cluster(String),

    /// Any other I/O error.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}
