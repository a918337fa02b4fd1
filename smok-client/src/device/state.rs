//! [`LinkState`]: one view of the link to the server, whichever transport carries orders.

use std::time::Instant;

use ngtt_transport::ConnectionState;

/// How the device's link to its server stands.
///
/// With NGTT this follows the connection ([`ngtt_transport::ConnectionState`]); with HTTP
/// polling it follows the outcome of the last request to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Not known yet: connecting, or no request made yet.
    Connecting,
    /// The server is reachable: connected (NGTT) or the last request got an answer (HTTP).
    Up {
        /// Since when.
        since: Instant,
    },
    /// The server cannot be reached; the client keeps trying with backoff.
    Down {
        /// Consecutive failures.
        attempt: u32,
        /// Why the last attempt failed.
        last_error: String,
    },
    /// [`SmokDevice::close`](super::SmokDevice::close) was called.
    Closed,
}

impl LinkState {
    /// True for [`LinkState::Up`].
    pub fn is_up(&self) -> bool {
        matches!(self, LinkState::Up { .. })
    }
}

impl From<&ConnectionState> for LinkState {
    fn from(state: &ConnectionState) -> Self {
        match state {
            ConnectionState::Connecting { .. } => LinkState::Connecting,
            ConnectionState::Connected { since, .. } => LinkState::Up { since: *since },
            ConnectionState::Backoff {
                attempt, last_error, ..
            } => LinkState::Down {
                attempt: *attempt,
                last_error: last_error.to_string(),
            },
            ConnectionState::Closed => LinkState::Closed,
        }
    }
}
