//! The NGTT server: devices connect over mutual TLS, upload pathpoint data and logs, and
//! receive orders from a durable per-device queue; operators queue orders and read data back
//! through a small admin HTTP API.
//!
//! * [`Server`] accepts TLS connections whose client certificate chains to the device CA and
//!   identifies the device from the certificate's NGTT extensions. One connection per device:
//!   a new one replaces the old, which is fully stopped before the new one sends orders.
//! * Orders are stored in SQLite ([`SqliteStorage`]) or PostgreSQL ([`PostgresStorage`],
//!   [`ServerConfig::postgres`]), behind the [`Storage`] trait, before
//!   anything is acknowledged, sent in a bounded window (`max_inflight_orders`) once the
//!   device sent FETCH_ORDERS (or a grace period after the handshake without it), and kept
//!   until the device answers ORDER_CONFIRM or ORDER_REJECT; unanswered orders are sent again
//!   on the next connection, in queue order, under tids that continue a per-device sequence.
//! * TLS records carry at most 512 bytes of plaintext by default, for the published clients
//!   (NGTT.md §8).
//! * DATA_STREAM uploads are committed before DATA_STREAM_CONFIRM; LOGS are stored with their
//!   messages decompressed; PINGs are echoed; idle connections, and connections whose
//!   device does not read what it is sent (`write_timeout`), are closed.
//! * The admin API (see `docs/operations.md`) listens on loopback by default and requires a
//!   bearer token anywhere else.
//! * The device HTTP API (HTTP-API.md; off unless [`ServerConfig::http_listen`] is set) serves
//!   the same storage over HTTPS with client certificates: device settings, order polling
//!   (handing out counts as confirmed), message reports, pathpoint data and registrations, logs.
//!
//! # Example
//!
//! ```
//! use ngtt_server::{Server, ServerConfig, TlsPems};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let ca = ngtt_pki::Ca::generate("example CA")?;
//! # let server_cert = ca.issue_server(&[])?;
//! let tls = TlsPems {
//!     device_ca: ca.cert_pem().to_owned(),
//!     server_cert: server_cert.cert_pem,
//!     server_key: server_cert.key_pem,
//! };
//! let mut config = ServerConfig::new(tls, dir.path().join("ngtt.db"));
//! config.listen = "127.0.0.1:0".parse()?;
//! config.admin_listen = Some("127.0.0.1:0".parse()?);
//!
//! let server = Server::bind(config).await?;
//! println!("NGTT on {}, admin API on {:?}", server.local_addr(), server.admin_addr());
//! let handle = server.handle();
//! let running = tokio::spawn(server.run());
//!
//! // ... devices connect; orders are queued with POST /v1/devices/{id}/orders ...
//! let order = handle.storage().queue_order("device-1", &minijson::to_vec(&Vec::<()>::new())?)?;
//! assert_eq!(handle.storage().order(order)?.map(|o| o.state), Some(ngtt_server::OrderState::Queued));
//!
//! handle.shutdown(); // graceful: also what SIGINT/SIGTERM do in `ngtt serve`
//! running.await??;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod accept;
mod admin;
mod budgets;
mod cluster;
mod config;
mod connection;
mod device_api;
mod error;
mod log_batches;
mod log_records;
mod memory;
mod order_handoff;
mod private_file;
mod registry;
mod server;
pub mod storage;
mod tls;
mod tls_tickets;
mod warn_limit;

pub use admin::auth::{
    default_token_file as default_admin_token_file, BAOB_CONTENT_TYPE as ADMIN_BAOB_CONTENT_TYPE,
};
pub use admin::MAX_ORDER_BATCH;
pub use budgets::{
    Budgets, DEFAULT_ADMIN_DECODE_FACTOR, DEFAULT_DECODE_FACTOR, DEFAULT_INFLATED_PER_FIELD,
    DEFAULT_INFLATED_PER_MINUTE, DEFAULT_INFLATED_PER_REQUEST, DEFAULT_LOG_BATCH_BYTES,
    DEFAULT_LOG_BATCH_RECORDS,
};
pub use cluster::{ClusterConfig, DEFAULT_LEASE_TTL, DEFAULT_SWEEP};
pub use config::{
    ServerConfig, TlsPems, DEFAULT_ADMIN_PORT, DEFAULT_FETCH_GRACE, DEFAULT_HTTP_PORT, DEFAULT_MAX_BAOB_LEN,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_INFLIGHT_ORDERS, DEFAULT_PORT, DEFAULT_POSTGRES_TOKEN_FILE,
    DEFAULT_TLS_MAX_RECORD, MAX_HTTP_BODY, MAX_INFLIGHT_LIMIT, MAX_PING_ANSWER_DELAY, TLS_MAX_RECORD_RANGE,
};
pub use config::{
    DEFAULT_FD_RESERVE, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HTTP_BODY_MIN_RATE, DEFAULT_HTTP_BODY_TIMEOUT,
    DEFAULT_HTTP_MAX_CONNECTIONS, DEFAULT_LISTEN_BACKLOG, DEFAULT_MAX_HANDSHAKES_PER_SOURCE,
    DEFAULT_PING_ANSWER_DELAY, DEFAULT_TAKEOVERS_PER_MINUTE, DEFAULT_TAKEOVER_SPACING,
};
pub use error::ServerError;
pub use memory::tune_allocator;
pub use server::{Server, ServerHandle};
pub use storage::{OrderState, PostgresStorage, PostgresUrl, SqliteStorage, Storage, StorageError};
