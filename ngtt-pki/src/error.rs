//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong making or storing certificates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Certificate generation or parsing failed.
    #[error("certificate error: {0}")]
    Certificate(#[from] rcgen::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// `init` would overwrite an existing CA key.
    #[error("{0} already exists: refusing to replace the CA (use --force to start over)")]
    AlreadyExists(PathBuf),
    /// A device id that cannot be a file name or certificate field.
    #[error("invalid device id {0:?}: use 1 to 128 letters, digits, '-', '_' or '.'")]
    InvalidDeviceId(String),
}

/// `Result` with [`PkiError`].
pub type Result<T, E = PkiError> = std::result::Result<T, E>;
