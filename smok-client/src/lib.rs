//! The device side of SMOK: what a device program needs whichever way it talks to the server
//! (NGTT or the HTTP API).
//!
//! # A device program
//!
//! [`SmokDevice`] is built from the device's certificate and key; with `use_ngtt(true)`
//! orders, logs and pathpoint data travel over one NGTT connection and orders are acknowledged
//! once executed, with `use_ngtt(false)` (the default) they are polled over the HTTP API, which
//! counts them as acknowledged when it hands them out. Device settings, pathpoint registration
//! and message reports go over HTTP in both modes. The program installs the device's log layer,
//! runs each order through an [`executor::Executor`] and its [`executor::OrderHandler`], uploads
//! data, and closes the device when it stops:
//!
//! ```no_run
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//!
//! use smok_client::{PathpointSeries, Sample};
//! use smok_client::executor::{Executor, HandlerResult, OrderHandler};
//! use smok_client::orders::{MessageOrder, PathpointValue, ReadOrder, WriteOrder};
//! use smok_client::SmokDevice;
//! use tracing_subscriber::prelude::*;
//!
//! fn now_ms() -> u64 {
//!     SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
//! }
//!
//! /// What this device does for each kind of order.
//! struct Boiler {
//!     device: SmokDevice,
//! }
//!
//! impl OrderHandler for Boiler {
//!     async fn read(&self, order: &ReadOrder) -> HandlerResult {
//!         let value = 215; // read the hardware here
//!         let series = PathpointSeries::new(order.path.clone(), [Sample::value(now_ms(), value)]);
//!         self.device.sync_pathpoints(vec![series]).await?; // resolves once stored
//!         Ok(())
//!     }
//!     async fn write(&self, order: &WriteOrder, value: PathpointValue) -> HandlerResult {
//!         // `value` is already coerced to the path's type; stale writes never get here.
//!         tracing::info!(target: "boiler", path = %order.path, ?value, "writing");
//!         Ok(())
//!     }
//!     async fn message(&self, order: &MessageOrder) -> HandlerResult {
//!         Ok(self.device.report_message(&order.uuid).await?)
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (device, mut orders) = SmokDevice::builder(
//!         std::fs::read_to_string("device.pem")?,
//!         std::fs::read_to_string("device.key")?,
//!     )
//!     .ca_pem(std::fs::read_to_string("ca.pem")?) // whom to trust for the server
//!     .use_ngtt(true)
//!     .ngtt_server("ngtt.example.com:2405")
//!     .http_base_url("https://api.example.com")
//!     .build()?;
//!
//!     // Log events of the program go to the server as well as to stdout.
//!     tracing_subscriber::registry()
//!         .with(tracing_subscriber::fmt::layer())
//!         .with(device.log_layer())
//!         .init();
//!
//!     let info = device.device_info().await?; // over HTTP in both modes
//!     tracing::info!(target: "boiler", name = %info.verbose_name, "started");
//!
//!     // An upload outside any order: a refusal is final, anything else is retried inside.
//!     let boot = PathpointSeries::new("W1boot", [Sample::value(now_ms(), 1)]);
//!     if let Err(e) = device.sync_pathpoints(vec![boot]).await {
//!         tracing::warn!(target: "boiler", "boot marker refused: {e}");
//!     }
//!
//!     let executor = Executor::new(Boiler { device: device.clone() });
//!     loop {
//!         tokio::select! {
//!             order = orders.recv() => {
//!                 let Some(order) = order else { break };
//!                 // Runs every section, then acknowledges (NGTT: ORDER_CONFIRM or
//!                 // ORDER_REJECT; HTTP: nothing left to do).
//!                 let done = executor.execute(order).await;
//!                 tracing::info!(target: "boiler", "order done: {}", done.report);
//!             }
//!             _ = tokio::signal::ctrl_c() => break,
//!         }
//!     }
//!     device.close(Duration::from_secs(5)).await; // flushes logs and answers
//!     Ok(())
//! }
//! ```
//!
//! The log layer uploads the program's events at INFO and above, the executor's warnings about
//! skipped or failed orders included, but never those of the client's own crates and transports
//! (`smok_client`, `ngtt_transport`, `reqwest`… see
//! [`log_layer::DEFAULT_EXCLUDED_TARGETS`]), so that uploading cannot log about itself.
//!
//! # Contents
//!
//! * [`SmokDevice`] and [`SmokDeviceBuilder`] — the device and its settings; [`DeviceOrders`]
//!   and [`DeviceOrder`] — orders as they arrive, whichever transport brought them
//!   ([`DeviceOrder::via`]); [`LinkState`] — whether the server can be reached.
//! * [`orders`] — the orders a server sends (NGTT.md §5), as `ngtt-proto`'s typed payloads
//!   with extension traits: a write's value coerced to its path's type
//!   ([`orders::WriteOrderExt::coerced_value`]), its staleness
//!   ([`orders::WriteOrderExt::is_stale`]), unrecognised orders with the reason.
//! * [`executor`] — runs the sections of one order through the application's
//!   [`executor::OrderHandler`]: sections in order, joinable neighbours concurrently,
//!   CANNOT_JOIN sections as barriers, stale writes dropped, unrecognised orders skipped; then
//!   answers the order through a pluggable [`executor::DeliveredOrder`] (NGTT: confirm or
//!   reject once the last section is done; HTTP: nothing, hand-out was the acknowledgement).
//! * [`log_layer`] — a `tracing` layer turning the application's events into log records
//!   (NGTT.md §6) for a [`log_layer::LogSink`]: the NGTT transport, or a bounded queue an HTTP
//!   uploader drains.
//! * The device framework: [`pathpoint`] — the registry of the device's pathpoints with their
//!   async I/O ([`pathpoint::PathpointIo`]), read and written by orders through
//!   [`DeviceHandler`] ([`SmokDevice::spawn_order_executor`]), their values uploaded by the
//!   device; [`reparse`] — `r…` pathpoints, expressions parsed and evaluated by the crate (never
//!   an `eval`); [`sensor`] — sensors synced from the server, and the sensor write log;
//!   [`store`] — what survives a restart (SQLite or memory); [`SmokDevice::ready`] — what the
//!   device knows once its first sensor sync has ended. `examples/boiler.rs` is a complete
//!   program; `docs/client.md` has a porting table from the Python client.
//! * [`alarm`] — predicates and events: statistics registered by the program
//!   ([`SmokDevice::register_statistic`]), instantiated for the server's predicates, opening
//!   and closing events that reach the server with their uuids matched exactly, silenced in
//!   the device's time zone; [`macros`] — server-scheduled writes run at their time and
//!   reported once, across restarts.
//! * What the server shares with the device besides pathpoints: [`baob`] — versioned binary
//!   objects synced both ways, with a callback on changes and the `baob-*` sysctls;
//!   [`metadata`] — plain metadata through a local cache; [`archive`] — pathpoints read at the
//!   server's intervals; [`slave`] — slave devices' instrumentation and link state;
//!   [`local_time`] — the device's time zone and local time; sync hooks
//!   ([`SmokDeviceBuilder::on_successful_sync`], [`SmokDeviceBuilder::on_failed_sync`]).
//! * [`clock`] — the wall-clock source both read, replaceable in tests.
//! * [`ClientError`] — the crate's one error type.
//!
//! See `docs/client.md` for the executor's semantics and what acknowledging means in each mode.
//!
//! # Running an order without a server
//!
//! The executor works on any [`executor::DeliveredOrder`]: here sections handed out by the HTTP
//! API ([`executor::HandedOut`]), which need no answer.
//!
//! ```
//! use smok_client::executor::{Answered, Executor, HandedOut, HandlerResult, OrderHandler, Verdict};
//! use smok_client::orders::{Order, PathpointValue, ReadOrder, Section, WriteOrder};
//!
//! struct Device;
//!
//! impl OrderHandler for Device {
//!     async fn read(&self, order: &ReadOrder) -> HandlerResult {
//!         println!("read {}", order.path);
//!         Ok(())
//!     }
//!     async fn write(&self, order: &WriteOrder, value: PathpointValue) -> HandlerResult {
//!         assert_eq!(value, PathpointValue::Int(-32768)); // w is clipped to -32768..=32767
//!         Ok(())
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let sections = vec![Section::new([Order::write("w1", -40_000), Order::read("w1")])];
//! let done = Executor::new(Device).execute(HandedOut::new(sections)).await;
//! assert_eq!(done.report.executed, 2);
//! assert_eq!(done.report.verdict(), Verdict::Confirm);
//! assert_eq!(done.answered.unwrap(), Answered::NotNeeded); // HTTP: nothing to acknowledge
//! # });
//! ```
#![deny(missing_docs)]

pub mod alarm;
pub mod archive;
pub mod baob;
pub mod clock;
mod device;
mod error;
pub mod executor;
pub mod local_time;
pub mod log_layer;
pub mod macros;
pub mod metadata;
pub mod orders;
pub mod pathpoint;
pub mod reparse;
pub mod sensor;
pub mod slave;
pub mod store;

pub use device::{
    schedule, DeviceHandler, DeviceLogSink, DeviceOrder, DeviceOrders, LinkState, Readiness, SensorsFrom,
    SmokDevice, SmokDeviceBuilder, SyncHook, SysctlHook, Via, DEFAULT_NGTT_PORT, DEFAULT_POLL_INTERVAL,
    DEFAULT_SENSOR_SYNC,
};
pub use device::{
    DEFAULT_MACRO_REFRESH, DEFAULT_PREDICATE_SYNC, DEFAULT_PREDICATE_TICK, DEFAULT_SCHEDULE_TIMEOUT,
    DEFAULT_ZONE_REFRESH,
};
pub use error::{ClientError, Result};
pub use ngtt_proto::payload::{Level, LogRecord, PathpointSeries, PathpointValue, ReadError, Sample};
pub use smok_http::{AuthMode, DeviceInfo, PathpointRegistration, SlaveLinkState, StorageLevel};
