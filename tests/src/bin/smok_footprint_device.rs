//! The `smok-client` side of the footprint benchmark (`tests/benches/footprint.rs`): a device
//! with 1 000 registered pathpoints executing read orders through the framework, polling the
//! HTTP API. Prints `ready` once its first sensor sync ended, then runs until killed. The
//! benchmark builds it as a device would ship it: the workspace's `device` profile, linked
//! statically; one thread (a current-thread runtime).
//!
//! Environment: `SMOK_CERT`, `SMOK_KEY` (files), `SMOK_HTTP` (plain-HTTP base URL; the
//! certificate goes in the proxy header), `SMOK_POLL_SECS`, `SMOK_PATHPOINTS`.

use std::io::Write;
use std::time::Duration;

use smok_client::orders::{Advise, PathpointValue};
use smok_client::pathpoint::{Pathpoint, PathpointIo};
use smok_client::{AuthMode, ReadError, SmokDevice};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// Every pathpoint reads 1.
struct Constant;

impl PathpointIo for Constant {
    async fn read(&self, _: &str, _: Advise) -> Result<PathpointValue, ReadError> {
        Ok(PathpointValue::Int(1))
    }
    async fn write(&self, _: &str, _: PathpointValue, _: Advise) -> Result<(), ReadError> {
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let read = |name: &str| std::fs::read_to_string(var(name)).expect("readable");
    let poll: f64 = var("SMOK_POLL_SECS").parse().expect("SMOK_POLL_SECS");
    let count: usize = var("SMOK_PATHPOINTS").parse().expect("SMOK_PATHPOINTS");
    let (device, orders) = SmokDevice::builder(read("SMOK_CERT"), read("SMOK_KEY"))
        .http_base_url(var("SMOK_HTTP"))
        .http_auth(AuthMode::ProxyHeader)
        .poll_interval(Duration::from_secs_f64(poll))
        .build()
        .expect("device");
    let io = std::sync::Arc::new(Constant);
    for k in 0..count {
        device
            .register_pathpoint(Pathpoint::shared(format!("W{k}"), io.clone()))
            .expect("registered");
    }
    device.spawn_order_executor(orders);
    device.ready().await;
    println!("ready");
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
}
