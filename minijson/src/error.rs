//! The one error type of the crate.

use std::fmt;

/// Everything that can go wrong while encoding or decoding MiniJSON.
///
/// Decoding errors carry the byte `offset` in the input at which the problem was found, so that a
/// tool can point at the bad byte.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended in the middle of a value.
    #[error("truncated input at byte {offset}: {needed} more byte(s) needed")]
    Truncated {
        /// Where the missing bytes should have started.
        offset: usize,
        /// How many bytes were missing (at least).
        needed: usize,
    },
    /// A tag byte that no MiniJSON value starts with (0x1C–0x3F, 0x70–0x7F).
    #[error("invalid tag 0x{tag:02x} at byte {offset}")]
    InvalidTag {
        /// The tag byte.
        tag: u8,
        /// Its position in the input.
        offset: usize,
    },
    /// A string or map key that is not valid UTF-8.
    #[error("invalid UTF-8 in string at byte {offset}")]
    InvalidUtf8 {
        /// Where the string's bytes start.
        offset: usize,
    },
    /// A container or string claims more items than the rest of the input could possibly hold.
    #[error("count {count} at byte {offset} exceeds what the remaining {remaining} byte(s) can hold")]
    CountTooLarge {
        /// The claimed count or length.
        count: u64,
        /// Bytes left in the input after the count.
        remaining: usize,
        /// Where the container starts.
        offset: usize,
    },
    /// An integer outside the range of `i64` and `u64` (MiniJSON's big integers can hold more).
    #[error("integer at byte {offset} does not fit in 64 bits")]
    IntegerOutOfRange {
        /// Where the integer starts.
        offset: usize,
    },
    /// Containers nested deeper than the configured limit.
    #[error("nesting deeper than {limit} at byte {offset}")]
    DepthLimitExceeded {
        /// The configured limit.
        limit: usize,
        /// Where the container that went too deep starts.
        offset: usize,
    },
    /// A whole document was expected, but bytes follow the value.
    #[error("{remaining} trailing byte(s) after the value at byte {offset}")]
    TrailingBytes {
        /// Where the trailing bytes start.
        offset: usize,
        /// How many there are.
        remaining: usize,
    },
    /// A string, binary or container too long for MiniJSON's 32-bit lengths.
    #[error("length {0} is too large for MiniJSON (at most 2^32-1)")]
    TooLong(usize),
    /// A message from a `Serialize` or `Deserialize` implementation (type mismatch, missing
    /// field, value out of the target type's range, ...).
    #[error("{0}")]
    Message(String),
    /// Writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// True when the input was a valid prefix that simply ended too early: more bytes could
    /// complete it.
    pub fn is_truncated(&self) -> bool {
        matches!(self, Error::Truncated { .. })
    }

    /// The byte offset in the input the error refers to, when it is known.
    pub fn offset(&self) -> Option<usize> {
        match *self {
            Error::Truncated { offset, .. }
            | Error::InvalidTag { offset, .. }
            | Error::InvalidUtf8 { offset }
            | Error::CountTooLarge { offset, .. }
            | Error::IntegerOutOfRange { offset }
            | Error::DepthLimitExceeded { offset, .. }
            | Error::TrailingBytes { offset, .. } => Some(offset),
            _ => None,
        }
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
