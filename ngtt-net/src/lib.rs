//! Network plumbing shared by the NGTT crates, so that each exists once:
//!
//! * [`tls`]: PEM (as the configuration files hold it) into rustls configurations, with the
//!   ring provider and TLS 1.2/1.3: the server's (`ngtt-server`: NGTT and the device HTTP API),
//!   the device's (`ngtt-transport`) and the HTTP client's (`smok-http`);
//! * [`CountingRelay`]: a TCP relay that counts the bytes of each direction, what "bytes on the
//!   wire" means in `ngtt demo` and in the benchmarks;
//! * [`write_step`]: one cancel-safe step of a driver's writer (write some, or flush).
#![deny(missing_docs)]

mod error;
mod relay;
pub mod tls;
mod write;

pub use error::TlsError;
pub use relay::{CountingRelay, Traffic};
pub use write::{write_step, WriteStep};
