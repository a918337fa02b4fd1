//! [`ConnectionState`] (watchable) and [`Stats`] (counters) of a transport.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::error::TransportError;

/// Where the background task is, published through a `tokio::sync::watch` channel
/// ([`crate::Transport::watch_state`]).
///
/// Instants come from tokio's clock (`tokio::time::Instant::into_std`), which is the system's
/// monotonic clock unless tokio's time is paused (tests).
#[derive(Debug, Clone)]
pub enum ConnectionState {
    /// Connecting (TCP and TLS handshake).
    Connecting {
        /// Which attempt since the last established connection (or the start): 1 for the first
        /// (also the first reconnect after a connection dropped), 2 after one failed attempt,
        /// and so on.
        attempt: u32,
    },
    /// Connected; frames flow.
    Connected {
        /// Number of this connection: 1 for the first, then one more per connection.
        epoch: u64,
        /// When the handshake completed.
        since: Instant,
        /// The server address of this connection (one of the addresses the configured servers
        /// resolved to).
        server: SocketAddr,
    },
    /// Waiting before the next attempt after a failure or a dropped connection.
    Backoff {
        /// When the next attempt starts.
        until: Instant,
        /// Consecutive failures the backoff counts (1 after the first): failed attempts, and
        /// connections that dropped before `BackoffConfig::reset_after` (a longer one starts
        /// the count over). This sets the delay, so it may exceed the `attempt` of the
        /// following [`ConnectionState::Connecting`].
        attempt: u32,
        /// Why the last attempt failed or the connection dropped.
        last_error: Arc<TransportError>,
    },
    /// Closed for good ([`crate::Transport::close`], or every handle dropped).
    Closed,
}

impl ConnectionState {
    /// True when connected.
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected { .. })
    }

    /// The error that caused the current backoff, if backing off.
    pub fn last_error(&self) -> Option<&TransportError> {
        match self {
            ConnectionState::Backoff { last_error, .. } => Some(last_error),
            _ => None,
        }
    }
}

/// A snapshot of a transport's counters, all since [`crate::Transport::spawn`].
///
/// *Frame* bytes are NGTT frames (header and payload) written to or read from TLS, i.e. the
/// application data; *wire* bytes are what went through the TCP socket, TLS records and
/// handshakes included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections established.
    pub connects: u64,
    /// Established connections that were lost (not counting a close).
    pub drops: u64,
    /// Frames written.
    pub frames_sent: u64,
    /// Frames read.
    pub frames_received: u64,
    /// Frame bytes written (headers included).
    pub bytes_sent: u64,
    /// Frame bytes read (headers included).
    pub bytes_received: u64,
    /// Bytes written to the TCP socket.
    pub wire_bytes_sent: u64,
    /// Bytes read from the TCP socket.
    pub wire_bytes_received: u64,
    /// PINGs sent.
    pub pings_sent: u64,
    /// ORDER frames received.
    pub orders_received: u64,
    /// Uploads the server confirmed.
    pub uploads_confirmed: u64,
    /// Uploads the server rejected.
    pub uploads_rejected: u64,
    /// Log records written in LOGS frames from the buffer of `Transport::send_logs`.
    pub logs_sent: u64,
    /// Log records of `Transport::send_logs_confirmed` that the server provably read.
    pub logs_confirmed: u64,
    /// Log records dropped because the buffer was full.
    pub logs_dropped: u64,
    /// Log records waiting in the buffer.
    pub logs_buffered: u64,
    /// Uploads waiting for the server's answer (at most `UploadLimits::max_count`).
    pub uploads_pending: u64,
    /// Their payload bytes (at most `UploadLimits::max_bytes`).
    pub uploads_pending_bytes: u64,
    /// Frames larger than `Config::max_frame_len` read past without being buffered.
    pub frames_oversized: u64,
    /// ORDER frames not taken because `Config::max_open_orders` were already held.
    pub orders_refused_busy: u64,
}

/// The live counters behind [`Stats`], shared by the background task and the handles.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub connects: AtomicU64,
    pub drops: AtomicU64,
    pub frames_sent: AtomicU64,
    pub frames_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub wire_bytes_sent: AtomicU64,
    pub wire_bytes_received: AtomicU64,
    pub pings_sent: AtomicU64,
    pub orders_received: AtomicU64,
    pub uploads_confirmed: AtomicU64,
    pub uploads_rejected: AtomicU64,
    pub logs_sent: AtomicU64,
    pub logs_confirmed: AtomicU64,
    pub frames_oversized: AtomicU64,
    pub orders_refused_busy: AtomicU64,
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

impl Counters {
    /// The counters now; the log buffer's and the uploads' figures are filled in by the
    /// caller.
    pub fn snapshot(self: &Arc<Self>) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            connects: get(&self.connects),
            drops: get(&self.drops),
            frames_sent: get(&self.frames_sent),
            frames_received: get(&self.frames_received),
            bytes_sent: get(&self.bytes_sent),
            bytes_received: get(&self.bytes_received),
            wire_bytes_sent: get(&self.wire_bytes_sent),
            wire_bytes_received: get(&self.wire_bytes_received),
            pings_sent: get(&self.pings_sent),
            orders_received: get(&self.orders_received),
            uploads_confirmed: get(&self.uploads_confirmed),
            uploads_rejected: get(&self.uploads_rejected),
            logs_sent: get(&self.logs_sent),
            logs_confirmed: get(&self.logs_confirmed),
            logs_dropped: 0,
            logs_buffered: 0,
            uploads_pending: 0,
            uploads_pending_bytes: 0,
            frames_oversized: get(&self.frames_oversized),
            orders_refused_busy: get(&self.orders_refused_busy),
        }
    }
}
