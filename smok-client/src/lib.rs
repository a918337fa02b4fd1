//! The device side of SMOK: what a device program needs whichever way it talks to the server
//! (NGTT or the HTTP API).
//!
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
//! * [`clock`] — the wall-clock source both read, replaceable in tests.
//! * [`ClientError`] — the crate's one error type.
//!
//! See `docs/client.md` for the executor's semantics and what acknowledging means in each mode.
//!
//! # Example
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

pub mod clock;
mod device;
mod error;
pub mod executor;
pub mod log_layer;
pub mod orders;

pub use device::{
    DeviceLogSink, DeviceOrder, DeviceOrders, LinkState, SmokDevice, SmokDeviceBuilder, Via,
    DEFAULT_NGTT_PORT, DEFAULT_POLL_INTERVAL,
};
pub use error::{ClientError, Result};
pub use smok_http::{AuthMode, DeviceInfo, PathpointRegistration, StorageLevel};
