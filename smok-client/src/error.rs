//! [`ClientError`]: the one error type of `smok-client`.

use ngtt_proto::payload::ReadError;
use ngtt_proto::ProtoError;
use ngtt_transport::TransportError;
use smok_http::HttpError;

use crate::pathpoint::PathError;
use crate::store::StoreError;

/// Result alias using the crate's [`ClientError`].
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Every error `smok-client` reports.
///
/// Two helpers sort them for callers, whatever the transport:
/// [`ClientError::is_no_link`] (the server could not be reached or the link was lost: try again
/// later, nothing was refused) and [`ClientError::is_clients_fault`] (the data itself is wrong or
/// was refused: sending the same thing again cannot succeed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A payload could not be encoded or decoded, or a value does not fit its pathpoint (for
    /// example a written value that cannot be coerced to the path's type).
    #[error(transparent)]
    Proto(#[from] ProtoError),

    /// The NGTT transport failed (no link, connection lost, refused data, closed...).
    #[error(transparent)]
    Transport(#[from] TransportError),

    /// A request to the HTTP API failed (no link, refused with a 4xx, a 5xx...).
    #[error(transparent)]
    Http(#[from] HttpError),

    /// The device cannot be set up as configured (e.g. NGTT without a CA, no server for the
    /// certificate's environment).
    #[error("configuration: {0}")]
    Config(String),

    /// The device's store failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// A pathpoint name that cannot be used (no type letter, a reparse expression that does not
    /// parse...).
    #[error(transparent)]
    Path(#[from] PathError),

    /// The device has no way to read or write this pathpoint (not registered, and no provider
    /// made it).
    #[error("pathpoint {0:?} is not handled by this device")]
    NoSuchPathpoint(String),

    /// Reading or writing a pathpoint failed, after every attempt its advise level allows.
    #[error("{operation} of {path:?} failed: {}", error.as_str())]
    Operation {
        /// `read` or `write`.
        operation: &'static str,
        /// The pathpoint.
        path: String,
        /// Why.
        error: ReadError,
    },

    /// A value cannot be computed: a pathpoint without a value yet, an expression that fails.
    #[error("no value: {0}")]
    NoValue(String),

    /// No sensor has this tag set.
    #[error("no sensor {0:?}")]
    NoSuchSensor(String),

    /// A sensor cannot convert this value.
    #[error("sensor {fqts:?}: {reason}")]
    Sensor {
        /// The sensor's tag set.
        fqts: String,
        /// Why.
        reason: String,
    },
}

impl ClientError {
    /// True when the error means "no link to the server right now": connecting failed or the
    /// connection was lost. Retrying later makes sense; nothing was refused.
    pub fn is_no_link(&self) -> bool {
        match self {
            ClientError::Transport(e) => e.is_no_link(),
            ClientError::Http(e) => e.is_no_link(),
            _ => false,
        }
    }

    /// True when the client is at fault: the data cannot be encoded or does not fit (a
    /// [`ClientError::Proto`] error), or the server refused it (DATA_STREAM_REJECT, an HTTP
    /// 4xx answer). Sending the same data again is wrong.
    pub fn is_clients_fault(&self) -> bool {
        match self {
            ClientError::Proto(_) => true,
            ClientError::Transport(e) => e.is_refused(),
            ClientError::Http(e) => e.is_clients_fault(),
            _ => false,
        }
    }

    /// True when the server failed (an HTTP 5xx): retrying later makes sense.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, ClientError::Http(e) if e.is_server_fault())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let lost = ClientError::from(TransportError::ConnectionLost);
        assert!(lost.is_no_link() && !lost.is_clients_fault());

        let refused = ClientError::from(TransportError::Refused { reason: None });
        assert!(!refused.is_no_link() && refused.is_clients_fault());

        let closed = ClientError::from(TransportError::Closed);
        assert!(!closed.is_no_link() && !closed.is_clients_fault());

        let bad = ClientError::from(ProtoError::InvalidPayload("\"x\" is not a number".into()));
        assert!(!bad.is_no_link() && bad.is_clients_fault());
        assert_eq!(bad.to_string(), "invalid payload: \"x\" is not a number");
    }
}
