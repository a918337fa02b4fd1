//! A development PKI for NGTT: a certificate authority, server certificates for loopback and
//! named hosts, and device certificates carrying the device-id and environment extensions
//! exactly as NGTT.md §1 encodes them.
//!
//! It backs `ngtt pki`, `ngtt demo` and the tests; production deployments bring their own CA.
//!
//! ```
//! use ngtt_pki::Ca;
//! use ngtt_proto::{DeviceIdentity, Environment};
//!
//! let ca = Ca::generate("Example device CA")?;
//! let device = ca.issue_device("42", Environment::LocalDevelopment)?;
//! let identity = DeviceIdentity::from_pem(device.cert_pem.as_bytes())?;
//! assert_eq!(identity.device_id, "42");
//! assert_eq!(identity.environment, Environment::LocalDevelopment);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod ca;
mod dir;
mod error;

pub use ca::{Ca, CertifiedKey, DeviceCertOptions};
pub use dir::{PkiDir, DEFAULT_SERVER_NAMES};
pub use error::{PkiError, Result};
