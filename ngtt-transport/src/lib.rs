//! The device side of NGTT: one persistent, mutually authenticated TLS connection to the
//! server that carries orders in and logs and pathpoint data out (see `NGTT.md` and
//! `docs/transport.md`).
//!
//! * [`Config`] holds everything in memory: the server nodes (several, tried in turn by the
//!   pure [`Rotation`]; a DNS name stands for all its addresses, resolved by the system or by
//!   a [`Resolve`] of the application's) and TLS name, CA certificates,
//!   device certificate chain and key as PEM, [`Timings`], [`BackoffConfig`], the log buffer
//!   bound, the [`UploadLimits`], the number of orders held at once, whether to fetch orders
//!   and the largest frame read (larger ones are read past: [`InboundCodec`]).
//! * [`Transport::spawn`] starts a background task that keeps the connection alive and returns
//!   the [`Transport`] handle and the [`Orders`] stream. Orders are answered by hand
//!   ([`ReceivedOrder::ack`] / [`ReceivedOrder::nack`]); uploads
//!   ([`Transport::sync_pathpoints`]) resolve on the server's answer and survive reconnects,
//!   within [`UploadLimits`] (waiting for room, or failing with
//!   [`Transport::try_sync_pathpoints`]);
//!   logs ([`Transport::send_logs`]) are best effort with a bounded offline buffer, or sent
//!   with a proof that the server read them ([`Transport::send_logs_confirmed`], for a device
//!   that keeps them durably until then); the state
//!   is watchable ([`Transport::watch_state`]) and [`Transport::stats`] counts frames and
//!   bytes.
//! * The protocol logic is the pure [`Session`] state machine (no I/O, explicit clock), and the
//!   reconnect delays the pure [`Backoff`]: both are usable and testable on their own.
//!
//! # Example
//!
//! Building and checking a configuration needs no network (certificates from `ngtt-pki`):
//!
//! ```
//! use std::time::Duration;
//! use ngtt_transport::{Config, Timings};
//!
//! let ca = ngtt_pki::Ca::generate("device CA")?;
//! let device = ca.issue_device("42", ngtt_proto::Environment::LocalDevelopment)?;
//! let config = Config::new("127.0.0.1:2405", ca.cert_pem(), device.cert_pem, device.key_pem)?
//!     .with_server_name("localhost")
//!     .with_timings(Timings { ping_after: Duration::from_secs(10), ..Timings::default() })
//!     .with_log_buffer(5_000);
//! config.validate()?;
//! assert_eq!(config.device_identity()?.device_id, "42");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Running a device (this part needs a server):
//!
//! ```no_run
//! # async fn device(config: ngtt_transport::Config) -> Result<(), ngtt_transport::TransportError> {
//! use std::time::Duration;
//! use ngtt_proto::payload::{Level, LogRecord, PathpointSeries, Sample};
//! use ngtt_transport::Transport;
//!
//! let (transport, mut orders) = Transport::spawn(config)?;
//! transport.send_logs([LogRecord::new("boiler", 1_700_000_000_000_000, Level::INFO, "started")]);
//! let upload = transport.sync_pathpoints(vec![PathpointSeries::new("W1", [Sample::value(1_700_000_000_000, 21)])]);
//! if let Some(order) = orders.recv().await {
//!     println!("{} section(s)", order.sections().len());
//!     order.ack().await?; // ORDER_CONFIRM; fails with ConnectionLost if its connection is gone
//! }
//! match upload.await {
//!     Ok(()) => println!("stored"),
//!     Err(e) if e.is_refused() => println!("refused: {e}"),
//!     Err(e) => return Err(e),
//! }
//! transport.close(Duration::from_secs(5)).await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod backoff;
mod budget;
mod config;
mod driver;
mod error;
mod inbound;
mod io;
mod logbuf;
mod orders;
mod resolve;
mod rng;
mod servers;
pub mod session;
mod state;
mod tls;
mod transport;

pub use backoff::Backoff;
pub use config::{
    split_host_port, BackoffConfig, Config, Timings, UploadLimits, DEFAULT_LOG_BUFFER,
    DEFAULT_MAX_OPEN_ORDERS, DEFAULT_MAX_PENDING_UPLOADS, DEFAULT_MAX_PENDING_UPLOAD_BYTES, DEFAULT_PORT,
};
pub use error::TransportError;
pub use inbound::{Inbound, InboundCodec};
pub use logbuf::LogBuffer;
pub use orders::{Orders, ReceivedOrder};
pub use resolve::{Resolution, Resolve, SystemResolver};
pub use rng::SplitMix64;
pub use servers::{Rotation, ServerAddr, Step, Target, MAX_TARGETS};
pub use session::Session;
pub use state::{ConnectionState, Stats};
pub use transport::{CloseOutcome, Transport};
