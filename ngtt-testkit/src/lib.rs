//! Shared test support (not published), in the manner of h2's test-support crate:
//!
//! * [`FaultProxy`]: a TCP proxy on `127.0.0.1:0` that cuts connections at random byte offsets;
//! * [`CountingRelay`]: a TCP relay on `127.0.0.1:0` that counts the bytes of each direction
//!   (what "bytes on the wire" means in the benchmarks) and can sever its connections;
//! * [`TestPki`]: a throw-away CA with server and device certificates, in memory and on disk;
//! * [`python_device`]: the published Python client as a device against `ngtt serve`;
//! * [`both_modes!`]: one async scenario, one test per device mode (NGTT and HTTP).
#![deny(missing_docs)]

mod modes;
mod pki;
mod proxy;
pub mod python_device;
mod relay;

pub use pki::TestPki;
pub use proxy::{FaultProxy, ProxyStats};
pub use relay::{CountingRelay, Traffic};
