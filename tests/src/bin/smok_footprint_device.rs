//! The `smok-client` side of the footprint benchmark (`tests/benches/footprint.rs`): a device
//! with 1 000 registered pathpoints executing read orders through the framework, polling the
//! HTTP API. Prints `ready` once its first sensor sync ended, then runs until killed. The
//! benchmark builds it as a device would ship it: the workspace's `device` profile, linked
//! statically; one thread (a current-thread runtime).
//!
//! It registers the statistic `footprint.threshold` (reads the pathpoint `path` of its
//! configuration, opens an event while it is above `limit`); predicate, macro and BAOB sync
//! are on, as they are by default.
//!
//! Environment: `SMOK_CERT`, `SMOK_KEY` (files), `SMOK_HTTP` (plain-HTTP base URL; the
//! certificate goes in the proxy header), `SMOK_POLL_SECS`, `SMOK_PATHPOINTS`; optionally
//! `SMOK_EXPECT_PREDICATES` and `SMOK_EXPECT_BAOBS`: `ready` waits until the device holds that
//! many predicates and BAOBs.

use std::io::Write;
use std::time::Duration;

use smok_client::alarm::{Color, EventId, PredicateInfo, Statistic, StatisticContext};
use smok_client::orders::{Advise, PathpointValue};
use smok_client::pathpoint::{Pathpoint, PathpointIo};
use smok_client::{AuthMode, ReadError, Sample, SmokDevice};

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

/// The name the benchmark's predicates give their statistic.
const THRESHOLD: &str = "footprint.threshold";

/// A statistic reading one pathpoint: an event is open while its value is above `limit`.
struct Threshold {
    path: String,
    limit: i64,
    open: Option<EventId>,
}

impl Threshold {
    fn new(predicate: &PredicateInfo) -> Result<Threshold, String> {
        let config = &predicate.configuration;
        Ok(Threshold {
            path: config["path"].as_str().ok_or("no path")?.to_owned(),
            limit: config["limit"].as_i64().ok_or("no limit")?,
            open: None,
        })
    }
}

impl Statistic for Threshold {
    fn tick(&mut self, ctx: &mut StatisticContext<'_>) {
        let above = match ctx.value(&self.path) {
            Some(Sample::Value {
                value: PathpointValue::Int(v),
                ..
            }) => v > self.limit,
            _ => false,
        };
        match (above, self.open) {
            (true, None) => self.open = ctx.open_event("above the limit", Color::Red),
            (false, Some(id)) => {
                ctx.close_event(id);
                self.open = None;
            }
            _ => {}
        }
    }
}

/// Waits until the device holds `SMOK_EXPECT_PREDICATES` predicates and `SMOK_EXPECT_BAOBS`
/// BAOBs (each 0 when unset).
async fn wait_for_resources(device: &SmokDevice) {
    let expect = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    let (predicates, baobs) = (expect("SMOK_EXPECT_PREDICATES"), expect("SMOK_EXPECT_BAOBS"));
    while device.predicates().len() < predicates || device.baobs().map_or(0, |b| b.len()) < baobs {
        tokio::time::sleep(Duration::from_millis(200)).await;
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
    device.register_statistic(THRESHOLD, Threshold::new);
    device.spawn_order_executor(orders);
    device.ready().await;
    wait_for_resources(&device).await;
    println!("ready");
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
}
