//! NGTT wire protocol: frames and device identity, without I/O and without a clock.
//!
//! * [`Frame`] and [`FrameType`] model the 8-byte-header frames of NGTT.md §2–3; [`encode`],
//!   [`decode`] and [`check`] are pure functions over byte buffers, and [`NgttCodec`] wraps them
//!   as a `tokio_util` codec.
//! * [`DeviceIdentity`] reads a device's id and [`Environment`] from the two private X.509
//!   extensions of its client certificate (NGTT.md §1).
//!
//! * [`payload`] has the typed payloads (sections and orders, log records, pathpoint series,
//!   BAOB sync) with serde over [`minijson`], and constructors such as [`Frame::order`]; a
//!   frame's payload stays opaque [`bytes::Bytes`] until [`Frame::payload_as`] decodes it.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use ngtt_proto::{decode, encode, Frame, FrameType, DEFAULT_MAX_FRAME_LEN};
//!
//! // The spec's example: a PING with tid 1 and the payload "AL".
//! let frame = Frame::new(FrameType::Ping, 1, &b"AL"[..]);
//! let mut buf = BytesMut::new();
//! encode(&frame, &mut buf)?;
//! assert_eq!(&buf[..], [0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x41, 0x4C]);
//!
//! // Feeding an incomplete frame asks for more bytes and leaves the buffer alone.
//! let mut partial = BytesMut::from(&buf[..5]);
//! assert_eq!(decode(&mut partial, DEFAULT_MAX_FRAME_LEN)?, None);
//! assert_eq!(partial.len(), 5);
//!
//! // A complete frame is split off the buffer.
//! let decoded = decode(&mut buf, DEFAULT_MAX_FRAME_LEN)?;
//! assert_eq!(decoded, Some(frame));
//! assert!(buf.is_empty());
//! # Ok::<(), ngtt_proto::Error>(())
//! ```
#![deny(missing_docs)]

mod codec;
mod der;
mod error;
pub mod escape;
mod frame;
mod frame_type;
mod identity;
pub mod payload;

pub use codec::NgttCodec;
pub use error::{IdentityError, ProtoError, ProtoError as Error, Result};
pub use escape::{Escaped, EscapedBytes};
pub use frame::{
    check, decode, encode, missing_bytes, Frame, FrameHeader, DEFAULT_MAX_FRAME_LEN, HEADER_LEN,
};
pub use frame_type::FrameType;
pub use identity::{
    decode_device_id_ext, decode_environment_ext, encode_device_id_ext, encode_environment_ext,
    DeviceIdentity, Environment, DEVICE_ID_OID, DEVICE_ID_OID_ARCS, ENVIRONMENT_OID, ENVIRONMENT_OID_ARCS,
    MAX_DEVICE_ID_LEN,
};
