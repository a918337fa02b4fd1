//! The crate's error type.
//!
//! Everything fallible in `ngtt-proto` returns [`ProtoError`] (re-exported as
//! [`crate::Error`]). Certificate problems are grouped in the sub-enum [`IdentityError`], carried
//! by [`ProtoError::Identity`], so that code handling frames does not have to match on them.
//! Further sources (e.g. a payload codec) are meant to be added as one more `#[from]` variant.

use thiserror::Error;

/// Result alias using the crate's [`ProtoError`].
pub type Result<T, E = ProtoError> = std::result::Result<T, E>;

/// Every error `ngtt-proto` can report.
///
/// An error other than [`ProtoError::Io`] returned by the decoder is a protocol error: the
/// connection it came from should be closed (NGTT.md §4.8).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// A frame header announced more payload bytes than the receiver accepts.
    ///
    /// Reported as soon as the 4-byte length field is readable, before anything is allocated.
    #[error("frame payload of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// Payload length announced by the header.
        len: u64,
        /// The configured maximum payload length.
        max: usize,
    },

    /// A frame to be encoded has a payload that does not fit the 32-bit length field.
    #[error("payload of {len} bytes does not fit a frame (at most {} bytes)", u32::MAX)]
    PayloadTooLarge {
        /// Length of the offending payload.
        len: usize,
    },

    /// The stream ended in the middle of a frame.
    #[error("connection closed in the middle of a frame: have {have} of {need} bytes")]
    TruncatedAtClose {
        /// Bytes of the incomplete frame that were received.
        have: usize,
        /// Bytes needed to complete it: the whole frame size when the header was complete,
        /// otherwise the header size ([`crate::HEADER_LEN`]), a lower bound.
        need: usize,
    },

    /// A string did not name a value (`FromStr` of [`crate::FrameType`] or
    /// [`crate::Environment`]).
    #[error("invalid {what} name {name:?}")]
    InvalidName {
        /// What was being parsed, e.g. `"frame type"`.
        what: &'static str,
        /// The offending input.
        name: String,
    },

    /// A payload that is not valid MiniJSON, or not of the shape its frame type requires.
    #[error("invalid payload: {0}")]
    Payload(#[from] minijson::Error),

    /// A payload whose MiniJSON is valid but whose content is not what the protocol allows.
    #[error("invalid payload: {0}")]
    InvalidPayload(String),

    /// An I/O error of the underlying transport (needed by `tokio_util::codec`).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),

    /// The peer's certificate does not carry a valid NGTT device identity.
    #[error("device identity: {0}")]
    Identity(#[from] IdentityError),
}

/// Why a certificate does not yield a [`crate::DeviceIdentity`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The input has no PEM `CERTIFICATE` block.
    #[error("no CERTIFICATE block in PEM input")]
    NoCertificateInPem,

    /// A PEM block could not be read (bad header, bad base64, unterminated block).
    #[error("invalid PEM: {0}")]
    InvalidPem(String),

    /// The DER bytes are not an X.509 certificate.
    #[error("invalid X.509 certificate: {0}")]
    InvalidCertificate(String),

    /// The certificate has no device id extension (OID 1.3.6.1.4.1.55338.0.0).
    #[error("certificate has no device id extension ({})", crate::identity::DEVICE_ID_OID)]
    MissingDeviceId,

    /// The certificate has no environment extension (OID 1.3.6.1.4.1.55338.0.1).
    #[error(
        "certificate has no environment extension ({})",
        crate::identity::ENVIRONMENT_OID
    )]
    MissingEnvironment,

    /// An NGTT extension occurs more than once in the certificate.
    #[error("extension {oid} occurs more than once")]
    DuplicateExtension {
        /// Dotted OID of the repeated extension.
        oid: &'static str,
    },

    /// The device id extension holds a DER value of a type other than the accepted strings.
    #[error("device id has DER tag 0x{tag:02X}; expected UTF8String, PrintableString or IA5String")]
    UnsupportedDeviceIdType {
        /// The DER tag found.
        tag: u8,
    },

    /// The device id extension is not a well-formed DER string.
    #[error("malformed device id extension: {0}")]
    MalformedDeviceId(&'static str),

    /// The device id is longer than [`crate::identity::MAX_DEVICE_ID_LEN`] bytes.
    #[error("device id of {len} bytes is longer than {max} bytes", max = crate::identity::MAX_DEVICE_ID_LEN)]
    DeviceIdTooLong {
        /// Its length in bytes.
        len: usize,
    },

    /// The device id holds a control or invisible formatting character (a newline, an ANSI
    /// escape, a bidirectional override, ...); the id is given escaped ([`crate::Escaped`]).
    #[error("device id {0:?} holds unprintable characters")]
    UnprintableDeviceId(String),

    /// The environment extension is not a well-formed DER INTEGER.
    #[error("malformed environment extension: {0}")]
    MalformedEnvironment(&'static str),

    /// The environment extension is an INTEGER outside 0, 1, 2.
    #[error("unknown environment {0} (expected 0, 1 or 2)")]
    UnknownEnvironment(i64),
}
