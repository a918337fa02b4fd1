//! [`TransportError`]: everything the device side of NGTT can report.

use std::io;
use std::time::Duration;

/// Every error `ngtt-transport` reports.
///
/// Two helpers sort them for callers: [`TransportError::is_no_link`] (the server could not be
/// reached or the connection was lost: try again later, nothing was refused) and
/// [`TransportError::is_refused`] (the server answered and refused the data: do not send it
/// again).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The configuration cannot be used (bad server name, bad address...).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The certificates or key of the configuration cannot be used (bad PEM, no CA
    /// certificate, a key that does not match the certificate...).
    #[error("invalid TLS configuration: {0}")]
    Tls(#[from] ngtt_net::TlsError),

    /// A frame or payload could not be encoded or decoded; from a peer this is a protocol
    /// error and the connection is closed (NGTT.md §4.8).
    #[error("protocol error: {0}")]
    Proto(#[from] ngtt_proto::ProtoError),

    /// No configured server's name could be resolved to an address (DNS failure, or a name
    /// with no address).
    #[error("cannot resolve {server}: {source}")]
    Resolve {
        /// The server address (or addresses) that were looked up.
        server: String,
        /// What the resolver said.
        source: io::Error,
    },

    /// The TCP connection to the server could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address that was tried.
        addr: String,
        /// What the operating system said.
        source: io::Error,
    },

    /// The TLS handshake failed: often a server certificate from another CA, or the server
    /// refusing the device certificate.
    #[error("TLS handshake with {addr} failed: {source}")]
    Handshake {
        /// The server address.
        addr: String,
        /// What rustls (wrapped in an I/O error by tokio-rustls) said.
        source: io::Error,
    },

    /// Connecting (TCP and TLS handshake) took longer than the configured connect timeout.
    #[error("connecting to {addr} timed out after {after:?}")]
    ConnectTimeout {
        /// The server address.
        addr: String,
        /// The configured timeout.
        after: Duration,
    },

    /// Reading or writing an established connection failed.
    #[error("connection i/o error: {0}")]
    Io(#[from] io::Error),

    /// The server closed the connection.
    #[error("the server closed the connection")]
    ClosedByPeer,

    /// A ping was outstanding and nothing was read for the configured time (NGTT.md §4.6).
    #[error("the server did not answer: nothing read for {silent_for:?} with a ping outstanding")]
    PeerDead {
        /// How long nothing was read.
        silent_for: Duration,
    },

    /// Frames were waiting to be written and nothing could be written for the configured
    /// time (NGTT.md §4.6).
    #[error("nothing could be written for {stalled_for:?}")]
    WriteStalled {
        /// How long writing made no progress.
        stalled_for: Duration,
    },

    /// The server refused uploaded data with DATA_STREAM_REJECT: it must not be sent again.
    #[error("the server refused the data{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Refused {
        /// The reason the server gave, if any.
        reason: Option<String>,
    },

    /// An upload whose frame would exceed the largest frame (`Config::max_frame_len`): a server
    /// with the same limit would drop the connection for it every time, so it is refused
    /// before it is sent. Also an upload larger than all the room for waiting uploads
    /// (`UploadLimits::max_bytes`), which could never be queued. Split the data into smaller
    /// uploads.
    #[error("the upload is {len} bytes, more than the largest of {max} bytes")]
    UploadTooLarge {
        /// Size of the encoded upload.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// [`crate::Transport::try_sync_pathpoints`] found no room: as many uploads, or as many
    /// bytes of them, as `Config::upload_limits` allows already wait for the server's answer.
    /// Nothing was queued; try again once some are answered (or use
    /// [`crate::Transport::sync_pathpoints`], which waits for room).
    #[error(
        "{pending} uploads ({pending_bytes} bytes) already wait for the server: no room for {len} bytes more"
    )]
    UploadQueueFull {
        /// Uploads waiting.
        pending: usize,
        /// Their payload bytes.
        pending_bytes: usize,
        /// Size of the refused upload.
        len: usize,
    },

    /// The answer to an order was not sent because the connection the order came on is gone;
    /// the server delivers the order again on a later connection.
    #[error("the connection the order came on is gone; the server will deliver it again")]
    ConnectionLost,

    /// The transport was closed.
    #[error("the transport is closed")]
    Closed,
}

impl TransportError {
    /// True when the error means "no link to the server right now": connecting failed, the
    /// connection was lost or timed out. Retrying later makes sense; nothing was refused.
    pub fn is_no_link(&self) -> bool {
        matches!(
            self,
            TransportError::Connect { .. }
                | TransportError::Resolve { .. }
                | TransportError::Handshake { .. }
                | TransportError::ConnectTimeout { .. }
                | TransportError::Io(_)
                | TransportError::ClosedByPeer
                | TransportError::PeerDead { .. }
                | TransportError::WriteStalled { .. }
                | TransportError::ConnectionLost
        )
    }

    /// True when the data was refused — by the server (DATA_STREAM_REJECT), or before sending
    /// because no server with our frame limit could take it: sending it again is wrong.
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            TransportError::Refused { .. } | TransportError::UploadTooLarge { .. }
        )
    }

    /// The rustls error behind a failed handshake, if that is what this is.
    pub fn tls_error(&self) -> Option<&rustls::Error> {
        match self {
            TransportError::Tls(ngtt_net::TlsError::Rustls { source, .. }) => Some(source),
            TransportError::Handshake { source, .. } => source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(TransportError::ClosedByPeer.is_no_link());
        assert!(TransportError::ConnectionLost.is_no_link());
        assert!(!TransportError::Closed.is_no_link());
        let unresolved = TransportError::Resolve {
            server: "nowhere.invalid:2405".into(),
            source: io::Error::other("no address"),
        };
        assert!(unresolved.is_no_link());
        assert_eq!(
            unresolved.to_string(),
            "cannot resolve nowhere.invalid:2405: no address"
        );
        let refused = TransportError::Refused {
            reason: Some("bad path".into()),
        };
        assert!(refused.is_refused() && !refused.is_no_link());
        assert_eq!(refused.to_string(), "the server refused the data: bad path");
        assert_eq!(
            TransportError::Refused { reason: None }.to_string(),
            "the server refused the data"
        );
    }

    #[test]
    fn tls_error_is_found_inside_io_error() {
        let rustls_err = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let err = TransportError::Handshake {
            addr: "x".into(),
            source: io::Error::new(io::ErrorKind::InvalidData, rustls_err.clone()),
        };
        assert_eq!(err.tls_error(), Some(&rustls_err));
        assert!(err.is_no_link());
    }
}
