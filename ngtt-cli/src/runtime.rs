//! What the long-running commands share: logging to stderr and the async runtime.

use std::io::IsTerminal;

use crate::error::CliError;

/// Logs `tracing` events to stderr, filtered by `RUST_LOG` (default `info`), in colour on a
/// terminal.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// A tokio runtime: on this thread only (`multi_thread` false) or with worker threads.
pub fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, CliError> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|source| CliError::Io {
        context: "starting the async runtime",
        source,
    })
}
