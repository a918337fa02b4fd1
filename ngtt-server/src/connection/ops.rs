//! What the pure [`super::session::Session`] asks its driver to carry out ([`Op`]), what the
//! driver reports back ([`Outcome`]), and why a session ends ([`End`]).

use std::time::Duration;

use ngtt_proto::payload::{PathpointSeries, SyncBaobRequest, SyncBaobResponse};
use ngtt_proto::ProtoError;
use tracing::{error, info, warn};

use crate::order_handoff::HandedOrder;
use crate::storage::{OrderAnswer, OrderId, PendingOrder, StorageError};

/// Identifies one [`Op`] of a session, so that its outcome is matched to it.
pub(crate) type OpId = u64;

/// An operation the driver carries out for the session; at most one is outstanding at a time,
/// and each ends in [`super::session::Session::handle_stored`].
#[derive(Debug)]
pub(crate) enum Op {
    /// Records the device's connection (its identity, the time): the first operation.
    DeviceConnected,
    /// Makes this connection the one that carries the device's orders, under the device's
    /// order gate (docs/delivery-guarantees.md: serialized with the HTTP hand-out).
    TakeOrders,
    /// Claims (marks sent, committed) up to `limit` pending orders queued after `after`; with
    /// `reserve_tids`, also reserves that many ORDER tids in the same commit when any order
    /// was claimed (the connection has none left to send them under).
    ClaimOrders {
        /// Orders handed by the admin API, inserted first in the same commit (their answers
        /// given once it committed).
        queue: Vec<HandedOrder>,
        /// The highest order id already sent on this connection.
        after: OrderId,
        /// How many, at most.
        limit: usize,
        /// Tids to reserve with the claim (`None`: none).
        reserve_tids: Option<u16>,
    },
    /// Reserves `count` ORDER tids from the device's persisted sequence (committed).
    ReserveTids {
        /// How many.
        count: u16,
    },
    /// Records the device's answer to an order (committed).
    AnswerOrder {
        /// The order.
        order: OrderId,
        /// Confirmed or rejected.
        answer: OrderAnswer,
    },
    /// Stores an upload (committed before DATA_STREAM_CONFIRM).
    StoreSeries {
        /// The decoded upload.
        series: Vec<PathpointSeries>,
    },
    /// Inflates (within the device's budgets) and stores the log records among `items`.
    StoreLogs {
        /// The LOGS payload's items.
        items: Vec<minijson::Value>,
    },
    /// Answers a SYNC_BAOB_REQUEST from the BAOB store.
    BaobSync {
        /// The request.
        request: SyncBaobRequest,
    },
}

/// The result of a successful [`Op`].
#[derive(Debug)]
pub(crate) enum Outcome {
    /// [`Op::DeviceConnected`] and [`Op::TakeOrders`] are done.
    Done,
    /// The orders [`Op::ClaimOrders`] claimed, in queue order, and the first tid of the block
    /// it reserved with them, if it did.
    Claimed(Vec<PendingOrder>, Option<u16>),
    /// The first tid of the block [`Op::ReserveTids`] reserved.
    Tids(u16),
    /// Whether [`Op::AnswerOrder`] found the order pending.
    Answered(bool),
    /// How many samples [`Op::StoreSeries`] stored.
    Stored(usize),
    /// The answer of [`Op::BaobSync`].
    Baob(SyncBaobResponse),
    /// How many records [`Op::StoreLogs`] stored, and what went wrong, for the session to log
    /// once per connection.
    Logs(usize, crate::log_records::LogNotes),
}

/// Why a connection is stopped from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A newer connection of the same device took over.
    Replaced,
    /// The server is shutting down.
    Shutdown,
}

/// Why a session ended.
#[derive(Debug)]
pub(crate) enum End {
    /// The device closed the connection cleanly.
    PeerClosed,
    /// Nothing was received for the idle timeout.
    Idle(Duration),
    /// What was handed to the writer made no progress for the write timeout: the peer does not
    /// read.
    WriteStalled(Duration),
    /// A newer connection of the same device took over.
    Replaced,
    /// The server is shutting down.
    Shutdown,
    /// The device broke the protocol.
    Protocol(ProtoError),
    /// The transport failed.
    Io(std::io::Error),
    /// Storage failed: nothing more can be acknowledged.
    Storage(StorageError),
}

impl End {
    /// Whether what is still queued should be written and the TLS session closed cleanly
    /// (not when the transport is broken or the peer does not read).
    pub(crate) fn closes_cleanly(&self) -> bool {
        !matches!(self, End::Io(_) | End::WriteStalled(_))
    }
}

impl End {
    /// Logs how a session ended.
    pub(crate) fn log(&self) {
        match self {
            End::PeerClosed => info!("device closed the connection"),
            End::Idle(after) => info!("closing idle connection: nothing received for {after:?}"),
            End::WriteStalled(after) => {
                warn!("closing connection: the device read nothing of what was sent for {after:?}")
            }
            End::Replaced => info!("connection replaced by a newer one from the same device"),
            End::Shutdown => info!("closing connection: server shutting down"),
            End::Protocol(e) => warn!(
                "protocol error, closing connection: {}",
                ngtt_proto::Escaped(&e.to_string())
            ),
            End::Io(e) => info!("connection lost: {e}"),
            End::Storage(e) => error!("storage failed, closing connection: {e}"),
        }
    }
}

impl From<ProtoError> for End {
    fn from(e: ProtoError) -> End {
        match e {
            ProtoError::Io(io) => End::Io(io),
            other => End::Protocol(other),
        }
    }
}

impl From<Stop> for End {
    fn from(stop: Stop) -> End {
        match stop {
            Stop::Replaced => End::Replaced,
            Stop::Shutdown => End::Shutdown,
        }
    }
}
