//! The accept path's limits: connections still in the TLS handshake per source address
//! ([`handshake_slots`]), the open-file budget ([`fd_budget`]), and takeovers of one device id
//! ([`takeover`]). Each decision is a plain struct or function driven by explicit inputs; the
//! accept loops only carry the decisions out.

pub(crate) mod fd_budget;
pub(crate) mod handshake_slots;
pub(crate) mod takeover;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;

pub(crate) use handshake_slots::HandshakeSlots;

/// The handshakes in progress of one listener family, shared by its accept loop and its
/// connection tasks.
pub(crate) type SharedSlots = Arc<Mutex<HandshakeSlots<CancellationToken>>>;

/// A connection's place among the handshakes in progress: cancelled when the slot is taken
/// from it (its address or the server is at its limit and it is the oldest), released when
/// dropped (the handshake ended either way).
pub(crate) struct HandshakeTicket {
    slots: SharedSlots,
    conn: u64,
    /// Cancelled when the handshake must give up its slot.
    pub(crate) evicted: CancellationToken,
}

impl HandshakeTicket {
    /// Takes a handshake slot for connection `conn` from `peer`. Returns the ticket and whether
    /// an older handshake of the same source was evicted to make room.
    pub(crate) fn take(slots: &SharedSlots, conn: u64, peer: SocketAddr) -> (HandshakeTicket, bool) {
        let evicted = CancellationToken::new();
        let old = lock(slots).begin(conn, peer.ip(), evicted.clone());
        let displaced = old.is_some();
        if let Some(old) = old {
            old.cancel();
        }
        let ticket = HandshakeTicket {
            slots: Arc::clone(slots),
            conn,
            evicted,
        };
        (ticket, displaced)
    }
}

impl Drop for HandshakeTicket {
    fn drop(&mut self) {
        lock(&self.slots).finish(self.conn);
    }
}

/// Evicts the oldest handshake in progress, if any (the server is at its connection limit and
/// a newer connection needs the slot). Returns whether one was evicted.
pub(crate) fn evict_oldest(slots: &SharedSlots) -> bool {
    match lock(slots).evict_oldest() {
        Some(token) => {
            token.cancel();
            true
        }
        None => false,
    }
}

fn lock(slots: &SharedSlots) -> std::sync::MutexGuard<'_, HandshakeSlots<CancellationToken>> {
    slots.lock().unwrap_or_else(|p| p.into_inner())
}

/// A listener on `addr` with a listen queue of `backlog` connections (the kernel caps it at
/// `net.core.somaxconn`). Address reuse is on, as `TcpListener::bind` does on Unix.
pub(crate) fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}
