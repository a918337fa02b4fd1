//! MiniJSON: a compact binary encoding of JSON-like data, as a [serde] data format.
//!
//! MiniJSON is what every NGTT payload and every HTTP API request body is written in. This crate
//! implements it exactly as the reference (the Python package `minijson` 3.1.1) writes it, byte
//! for byte, with three deliberate differences that make it safe on untrusted input and lossless:
//!
//! * floats are written as single only when that is exact, else as double (the reference always
//!   writes single and loses precision);
//! * a whole document must be exactly one value: trailing bytes are an error;
//! * nesting deeper than a limit (default [`DEFAULT_MAX_DEPTH`]) is refused, and no count read
//!   from the input is trusted before it is checked against the bytes that remain.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Sample<'a> {
//!     path: &'a str,
//!     values: Vec<(u64, f64)>,
//! }
//!
//! let sample = Sample { path: "fr2", values: vec![(1_700_000_000_000, 2.5)] };
//! let bytes = minijson::to_vec(&sample)?;
//! assert_eq!(bytes.len(), 32); // the same document is 45 bytes of JSON
//! let back: Sample = minijson::from_slice(&bytes)?; // `path` borrows from `bytes`
//! assert_eq!(back, sample);
//!
//! // Any document, without a type for it:
//! let value: minijson::Value = minijson::from_slice(&bytes)?;
//! assert_eq!(value["values"][0][1], minijson::Value::F32(2.5));
//! # Ok::<(), minijson::Error>(())
//! ```
#![deny(missing_docs)]

mod cost;
mod de;
mod error;
pub mod hex;
mod ser;
mod tag;
mod value;

pub use cost::{decoded_size_estimate, value_count, ValueCount};
pub use de::{Deserializer, DEFAULT_MAX_DEPTH};
pub use error::{Error, Result};
pub use ser::Serializer;
pub use value::{Integer, OutOfRange, Value};

use serde::{Deserialize, Serialize};

/// Encodes `value` as one MiniJSON document.
pub fn to_vec<T: ?Sized + Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut ser = Serializer::from_vec(Vec::with_capacity(128));
    value.serialize(&mut ser)?;
    Ok(ser.into_inner())
}

/// Encodes `value` as one MiniJSON document and writes it to `writer`.
///
/// The document is built in memory first, so nothing is written when encoding fails.
pub fn to_writer<W: std::io::Write, T: ?Sized + Serialize>(mut writer: W, value: &T) -> Result<()> {
    writer.write_all(&to_vec(value)?)?;
    Ok(())
}

/// Decodes one whole document: exactly one value, with no bytes after it.
pub fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    let mut de = Deserializer::from_slice(bytes);
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Decodes the one value at the front of `bytes` and says how many bytes it used; whatever
/// follows is left alone.
///
/// ```
/// let (n, used): (u8, usize) = minijson::from_slice_partial(&[0x06, 0xC8, 0x16])?;
/// assert_eq!((n, used), (200, 2));
/// # Ok::<(), minijson::Error>(())
/// ```
pub fn from_slice_partial<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<(T, usize)> {
    let mut de = Deserializer::from_slice(bytes);
    let value = T::deserialize(&mut de)?;
    Ok((value, de.offset()))
}

/// Converts any `Serialize` value into a [`Value`].
pub fn to_value<T: ?Sized + Serialize>(value: &T) -> Result<Value> {
    from_slice(&to_vec(value)?)
}

/// Converts a [`Value`] into any type that can be deserialized from it, borrowing strings and
/// binary data from the value where the type allows.
///
/// ```
/// use minijson::Value;
/// let v = Value::List(vec![1.into(), "two".into()]);
/// let (n, s): (u8, &str) = minijson::from_value(&v)?;
/// assert_eq!((n, s), (1, "two"));
/// # Ok::<(), minijson::Error>(())
/// ```
pub fn from_value<'de, T: Deserialize<'de>>(value: &'de Value) -> Result<T> {
    T::deserialize(value)
}
