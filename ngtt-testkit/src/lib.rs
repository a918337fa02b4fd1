//! Shared test support for the whole workspace (not published), in the manner of h2's
//! test-support crate: every helper more than one test file uses lives here, once.
//!
//! * PKI: [`TestPki`], a throw-away CA with server and device certificates, in memory and on
//!   disk as `ngtt pki` lays them out.
//! * Servers: [`TestServer`], the real `ngtt-server` on `127.0.0.1:0` (with [`server_config`],
//!   [`admin_request`]); [`ScriptedServer`], a raw-frame NGTT server whose every step the test
//!   scripts ([`Conn`], [`Next`]); the misbehaving servers of [`fakes`].
//! * Devices: [`RawDevice`] (NGTT frame by frame), [`HttpDevice`] (raw device HTTP API
//!   requests), [`device_config`] and [`lively_device_config`] for `ngtt-transport`, and the
//!   `smok-client` builders of [`smok`].
//! * Names: [`TableResolver`], one name standing for several test servers, changeable.
//! * Links: [`FaultProxy`], which cuts connections at random byte offsets, and
//!   [`CountingRelay`] (from `ngtt-net`, where `ngtt demo` takes it too), which counts bytes.
//! * The real `ngtt` binary: [`cli`]; BAOB requests as the Python client makes them: [`baob`].
//! * The published Python client as a device against `ngtt serve`: [`python_device`].
//! * [`pipelined_uploads`]: many uploads in flight at once on one transport.
//! * [`CapturedLogs`]: what a test binary logged, for tests of what reaches the log.
//! * [`smok_client_installed`]: whether the published Python client can be run.
//! * PostgreSQL: [`postgres::TestDatabase`], a schema of its own per test.
//! * [`both_modes!`]: one async scenario, one test per device mode (NGTT and HTTP).
#![deny(missing_docs)]

pub mod baob;
pub mod cli;
mod device;
pub mod fakes;
pub mod hostile;
mod http_device;
mod logs;
mod modes;
mod pki;
pub mod postgres;
mod proxy;
mod python;
pub mod python_device;
mod raw_device;
mod resolver;
mod scripted;
mod server;
pub mod smok;
mod uploads;

use std::future::Future;
use std::time::Duration;

pub use device::{device_config, lively_device_config, test_backoff, test_timings};
pub use http_device::{header_form, Answer, HttpDevice, MINIJSON};
pub use logs::CapturedLogs;
pub use ngtt_net::{CountingRelay, Traffic};
pub use pki::TestPki;
pub use proxy::{FaultProxy, ProxyStats};
pub use raw_device::RawDevice;
pub use resolver::TableResolver;
pub use scripted::{close_gracefully, server_tls, Conn, Next, ScriptedLink, ScriptedServer, PATIENCE};
pub use server::{
    admin_request, http_device, http_server, read_order, read_path, server_config, status_of, TestServer,
};

/// How long a test waits for something that must happen (only a failing test waits this long).
pub const WAIT: Duration = Duration::from_secs(20);

/// Logs to the test's output when `RUST_LOG` is set.
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Polls `f` until it returns `Some`, for at most [`WAIT`].
pub async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `done` every 20 ms until it holds, failing the test (naming `what`) after [`WAIT`].
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub use python::{python_can, smok_client_installed};
pub use uploads::pipelined_uploads;
