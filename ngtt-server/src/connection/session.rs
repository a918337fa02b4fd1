//! [`Session`]: the server side of one identified device connection (NGTT.md §3–4) as a pure
//! state machine, in the style of `quinn-proto` and of the device's `ngtt_transport::Session`.
//!
//! It does no I/O and reads no clock. The driver feeds it frames ([`Session::handle_frame`]),
//! the outcomes of the operations it asked for ([`Session::handle_stored`]), write progress
//! ([`Session::on_written`]), a stop ([`Session::handle_stop`]), new orders
//! ([`Session::handle_new_orders`]) and time ([`Session::handle_timeout`]); it takes from it
//! frames to write ([`Session::poll_transmit`]), operations to carry out ([`Session::poll_op`])
//! and the next instant to wake it ([`Session::poll_timeout`]).
//!
//! Frames are handled one at a time, each to its end, with one exception: DATA_STREAM uploads
//! are pipelined. While an operation is outstanding or a frame waits to be written, the session
//! reads nothing ([`Session::wants_read`]); but uploads commit several at once ([`Uploads`]),
//! their answers released in frame order, and any other frame read while uploads commit waits
//! until they are answered. So answers go out in the order of the frames they answer, nothing is
//! acknowledged before its commit, and what a connection holds in memory is bounded by one frame
//! each way, the uploads' byte budget and the order window.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use ngtt_proto::{Frame, FrameType, ProtoError};
use tracing::{error, info, warn};

use super::echoes::Echoes;
use super::ops::{End, Op, OpId, Outcome, Stop};
use super::uploads::Uploads;
use super::window::OrderWindow;
use crate::order_handoff::HandedOrder;
use crate::storage::{OrderAnswer, OrderId, PendingOrder, StorageError};

/// ORDER tids reserved from the device's sequence at a time: 128 connections that carried
/// orders pass before the sequence (1..=0x7FFF) comes round again.
pub(crate) const TID_BLOCK: u16 = 256;

/// The most of an ORDER_REJECT reason that is logged, in characters.
const MAX_REJECT_REASON_CHARS: usize = 200;

/// The most of a DATA_STREAM_REJECT reason that is sent, in bytes.
const MAX_DATA_REJECT_REASON: usize = 400;

/// The rules and budgets of one connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionConfig {
    /// Unanswered ORDER frames at most.
    pub(crate) max_inflight: usize,
    /// Closed after this long without a frame while the session waits to read.
    pub(crate) idle_timeout: Duration,
    /// Closed after this long without write progress while a frame waits to be written.
    pub(crate) write_timeout: Duration,
    /// Orders flow this long after the handshake without FETCH_ORDERS (`None`: never).
    pub(crate) fetch_grace: Option<Duration>,
    /// Decoding a LOGS or DATA_STREAM frame may take this many times its size (plus 1 MiB).
    pub(crate) decode_factor: usize,
    /// Uploads committing at once, at most.
    pub(crate) max_uploads: usize,
    /// Payload bytes of the uploads committing at once, about (see [`Uploads`]).
    pub(crate) max_upload_bytes: usize,
    /// PING answers are held this long (see [`Echoes`]); zero: answered at once.
    pub(crate) ping_answer_delay: Duration,
}

/// What the outstanding operation is for.
#[derive(Debug)]
enum Waiting {
    Connected,
    TakeOrders(&'static str),
    Claim {
        want: usize,
    },
    Tids(VecDeque<PendingOrder>),
    Answer {
        tid: u16,
        order: OrderId,
        answer: OrderAnswer,
    },
    Logs,
    Baob {
        tid: u16,
    },
}

/// One connection's frame exchange, without I/O (see the module documentation).
#[derive(Debug)]
pub(crate) struct Session {
    config: SessionConfig,
    window: OrderWindow,
    out: VecDeque<Frame>,
    /// PING answers held back.
    echoes: Echoes,
    /// The operations to hand to the driver, in order.
    ops: VecDeque<(OpId, Op)>,
    /// The outstanding operation other than uploads, and what its outcome is for.
    busy: Option<(OpId, Waiting)>,
    /// Uploads committing or waiting for an earlier one's answer.
    uploads: Uploads,
    /// Read while uploads were unanswered: handled once they are.
    deferred: Option<Deferred>,
    next_op: OpId,
    /// Orders may be sent: FETCH_ORDERS received, or the grace period passed without it.
    fetch: bool,
    /// Taking the orders was asked for (and why), not done yet.
    start_wanted: Option<&'static str>,
    /// There may be orders to claim: set on FETCH_ORDERS, new orders, the grace; stays set
    /// while claims fill the window (an answer then makes room for the next claim).
    refill: bool,
    /// Orders were queued since the last claim started: a claim that came back short may have
    /// missed them, so it does not end the refill.
    queued_since_claim: bool,
    /// Orders handed by the admin API ([`crate::order_handoff`]), inserted by the next claim
    /// in its own commit.
    handed: Vec<HandedOrder>,
    /// When orders start without FETCH_ORDERS.
    grace_at: Option<Instant>,
    /// The idle clock's start: the last frame, or when reading resumed after handling one.
    last_rx: Instant,
    /// Reading paused to handle a frame: the idle clock restarts when it resumes.
    paused_by_frame: bool,
    /// How long the device had been silent when the PING being handled was read (zero when
    /// it was read behind uploads): whether it is a keepalive, to be held ([`Echoes`]).
    ping_silence: Duration,
    /// Something was handed to the writer and is not flushed: since its last progress.
    unwritten_since: Option<Instant>,
    stopping: Option<Stop>,
    end: Option<End>,
    unknown_seen: HashSet<u16>,
    /// Peer-triggered warnings: the first of each kind logged, the rest counted.
    pub(super) warnings: crate::warn_limit::RepeatedWarnings,
}

impl Session {
    /// A session for a connection identified at `now`; its first operation records the
    /// connection ([`Op::DeviceConnected`]), and nothing is read before that is done.
    pub(crate) fn new(config: SessionConfig, now: Instant) -> Session {
        let mut session = Session {
            window: OrderWindow::new(config.max_inflight),
            out: VecDeque::new(),
            echoes: Echoes::new(config.ping_answer_delay),
            ops: VecDeque::new(),
            busy: None,
            uploads: Uploads::new(config.max_uploads, config.max_upload_bytes),
            deferred: None,
            next_op: 1,
            fetch: false,
            start_wanted: None,
            refill: false,
            queued_since_claim: false,
            handed: Vec::new(),
            grace_at: config.fetch_grace.map(|grace| now + grace),
            last_rx: now,
            paused_by_frame: false,
            ping_silence: Duration::ZERO,
            unwritten_since: None,
            stopping: None,
            end: None,
            unknown_seen: HashSet::new(),
            warnings: crate::warn_limit::RepeatedWarnings::default(),
            config,
        };
        session.start(Waiting::Connected, Op::DeviceConnected);
        session
    }

    /// Whether the driver should read the next frame now.
    pub(crate) fn wants_read(&self) -> bool {
        self.end.is_none()
            && self.stopping.is_none()
            && self.busy.is_none()
            && self.deferred.is_none()
            && self.uploads.has_room()
            && self.out.is_empty()
            && self.unwritten_since.is_none()
    }

    /// Whether the idle clock runs: reading, and no upload committing (a slow commit is not the
    /// device's idleness).
    fn idle_clock_runs(&self) -> bool {
        self.wants_read() && self.uploads.is_empty()
    }

    /// Whether the driver should tell the session about newly queued orders.
    pub(crate) fn wants_orders(&self) -> bool {
        self.fetch && self.end.is_none() && self.stopping.is_none()
    }

    /// Why the session ended, once it did.
    pub(crate) fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// Ended, and no operation outstanding: the driver may close the connection.
    pub(crate) fn is_finished(&self) -> bool {
        self.end.is_some() && self.busy.is_none() && self.uploads.committing() == 0
    }

    /// Unanswered ORDER frames.
    #[cfg(test)]
    pub(crate) fn unanswered(&self) -> usize {
        self.window.len()
    }

    /// The next operation to carry out, in order (uploads several at once, anything else one
    /// at a time: the next comes after the outcome). The driver submits them in this order.
    pub(crate) fn poll_op(&mut self) -> Option<(OpId, Op)> {
        self.ops.pop_front()
    }

    /// Whether a frame waits to be handed out by [`Session::poll_transmit`].
    pub(crate) fn has_transmit(&self) -> bool {
        !self.out.is_empty()
    }

    /// The next frame to write, handed out at `now`. The write deadline runs from then until
    /// [`Session::on_written`] reports everything flushed.
    pub(crate) fn poll_transmit(&mut self, now: Instant) -> Option<Frame> {
        let frame = self.out.pop_front()?;
        self.unwritten_since.get_or_insert(now);
        Some(frame)
    }

    /// The writer made progress at `now`; `all_flushed` when nothing handed out by
    /// [`Session::poll_transmit`] waits to be written any more.
    pub(crate) fn on_written(&mut self, now: Instant, all_flushed: bool) {
        if self.unwritten_since.is_some() {
            self.unwritten_since = (!all_flushed).then_some(now);
        }
        self.settle(now);
    }

    /// When [`Session::handle_timeout`] should be called next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.end.is_some() {
            return None;
        }
        let write = self.unwritten_since.map(|t| t + self.config.write_timeout);
        let idle = self
            .idle_clock_runs()
            .then_some(self.last_rx + self.config.idle_timeout);
        let grace = self
            .grace_at
            .filter(|_| !self.fetch && self.start_wanted.is_none());
        [write, idle, grace, self.echoes.deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Acts on the time: ends the session when writing stalled for the write timeout or
    /// nothing was received for the idle timeout; starts the orders when the grace passed;
    /// writes the PING answers held until now.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.end.is_some() {
            return;
        }
        if let Some(since) = self.unwritten_since {
            if now >= since + self.config.write_timeout {
                return self.finish(End::WriteStalled(self.config.write_timeout));
            }
        }
        if self.idle_clock_runs() && now >= self.last_rx + self.config.idle_timeout {
            return self.finish(End::Idle(self.config.idle_timeout));
        }
        if let Some(at) = self.grace_at {
            if now >= at && !self.fetch {
                self.grace_at = None;
                self.want_orders("no FETCH_ORDERS within the grace period: sending orders anyway");
            }
        }
        self.out.extend(self.echoes.due(now));
        self.advance();
    }

    /// The connection is stopped from outside: no ORDER goes out any more, nothing more is
    /// read; the operation outstanding finishes (and its answer is still queued), then the
    /// session ends.
    pub(crate) fn handle_stop(&mut self, stop: Stop) {
        if self.end.is_some() || self.stopping.is_some() {
            return;
        }
        self.stopping = Some(stop);
        self.out.retain(|f| f.kind != FrameType::Order);
        // Not inserted yet: declined, queued by the admin API instead.
        self.handed.clear();
        self.advance();
    }

    /// Orders were queued for the device.
    pub(crate) fn handle_new_orders(&mut self) {
        if self.fetch {
            self.refill = true;
            self.queued_since_claim = true;
            self.advance();
        }
    }

    /// Orders were handed to this connection to queue: the next claim inserts them in its own
    /// commit, then claims in queue order after the cursor as any claim does (so they go out
    /// after every older pending order, and only as the window allows). A session that does
    /// not take orders (not yet, or not any more) declines them: they are queued the usual way.
    pub(crate) fn handle_handed_orders(&mut self, orders: Vec<HandedOrder>) {
        if self.wants_orders() {
            self.handed.extend(orders);
            self.handle_new_orders();
        }
    }

    /// The peer closed the connection (its uploads still committing are answered first).
    pub(crate) fn handle_peer_closed(&mut self) {
        if self.uploads.is_empty() {
            self.finish(End::PeerClosed);
        } else {
            self.deferred = Some(Deferred::PeerClosed);
        }
    }

    /// Reading failed (a frame that breaks the protocol, or the transport).
    pub(crate) fn handle_read_error(&mut self, e: ProtoError) {
        self.finish(End::from(e));
    }

    /// Writing failed.
    pub(crate) fn handle_write_error(&mut self, e: std::io::Error) {
        self.finish(End::Io(e));
    }

    /// Handles a frame read at `now` (only when [`Session::wants_read`]).
    pub(crate) fn handle_frame(&mut self, frame: Frame, now: Instant) {
        if !self.wants_read() {
            error!(kind = %frame.kind, tid = frame.tid, "frame handed to a session that is not reading; dropped");
            return;
        }
        if frame.kind == FrameType::Ping {
            self.ping_silence = if self.uploads.is_empty() {
                now.saturating_duration_since(self.last_rx)
            } else {
                Duration::ZERO
            };
        } else if self.end.is_none() {
            // The device is active: held PING answers go now.
            self.out.extend(self.echoes.take_all());
        }
        self.last_rx = now;
        self.paused_by_frame = true;
        if frame.kind != FrameType::DataStream && !self.uploads.is_empty() {
            // Answered after the uploads before it: keeps answers in frame order.
            self.deferred = Some(Deferred::Frame(frame));
        } else {
            self.dispatch(frame);
        }
        self.advance();
        self.settle(now);
    }

    /// The outcome of operation `id`, at `now`. A storage failure ends the session: nothing
    /// more can be acknowledged.
    pub(crate) fn handle_stored(&mut self, id: OpId, result: Result<Outcome, StorageError>, now: Instant) {
        if self.uploads.contains(id) {
            self.on_upload_stored(id, result);
            self.advance();
            self.settle(now);
            return;
        }
        let waiting = match self.busy.take() {
            Some((busy, waiting)) if busy == id => waiting,
            other => {
                error!(
                    op = id,
                    "an outcome for an operation that is not outstanding; ignored"
                );
                self.busy = other;
                return;
            }
        };
        match result {
            Ok(outcome) => self.on_outcome(waiting, outcome),
            Err(e) => self.finish(End::Storage(e)),
        }
        self.advance();
        self.settle(now);
    }

    /// Queues a frame, unless the session ended; PING answers held back go out with it.
    fn push(&mut self, frame: Frame) {
        if self.end.is_none() {
            self.out.extend(self.echoes.take_all());
            self.out.push_back(frame);
        }
    }

    /// Answers a PING read at `now`: at once, or held when it is a keepalive ([`Echoes`]; an
    /// answer going out because too many are held goes alone, the others keep their deadlines).
    fn echo(&mut self, ping: &Frame, now: Instant) {
        if self.end.is_none() {
            self.echoes.answer(ping, now, self.ping_silence, &mut self.out);
        }
    }

    /// Hands `op` to the driver, remembering what its outcome is for.
    fn start(&mut self, waiting: Waiting, op: Op) {
        let id = self.queue_op(op);
        self.busy = Some((id, waiting));
    }

    /// Queues `op` for the driver; its id.
    fn queue_op(&mut self, op: Op) -> OpId {
        let id = self.next_op;
        self.next_op += 1;
        self.ops.push_back((id, op));
        id
    }

    /// Starts the next piece of the session's own work when nothing is outstanding: ends a
    /// stopped session, takes the orders, claims orders while the window has room.
    fn advance(&mut self) {
        self.release_uploads();
        if self.end.is_some() || self.busy.is_some() {
            return;
        }
        if let Some(stop) = self.stopping {
            // What was read behind the uploads is not acted on: the device sends it again.
            if self.uploads.is_empty() {
                self.deferred = None;
                self.finish(End::from(stop));
            }
            return;
        }
        if self.uploads.is_empty() {
            match self.deferred.take() {
                Some(Deferred::Frame(frame)) => self.dispatch(frame),
                Some(Deferred::PeerClosed) => self.finish(End::PeerClosed),
                None => {}
            }
            self.release_uploads();
            if self.end.is_some() || self.busy.is_some() {
                return;
            }
        }
        if !self.fetch {
            if let Some(why) = self.start_wanted.take() {
                return self.start(Waiting::TakeOrders(why), Op::TakeOrders);
            }
            return;
        }
        let want = self.window.free();
        // Handed orders are inserted even with the window full (claiming none): the admin's
        // request waits for their commit.
        if (self.refill && want > 0) || !self.handed.is_empty() {
            let after = self.window.cursor();
            self.queued_since_claim = false;
            // Without tids left, the claim reserves a block in its own commit (only when it
            // claims an order: connections that carry none reserve none).
            let reserve_tids = (!self.window.has_tids()).then_some(TID_BLOCK);
            let queue = std::mem::take(&mut self.handed);
            self.start(
                Waiting::Claim { want },
                Op::ClaimOrders {
                    queue,
                    after,
                    limit: want,
                    reserve_tids,
                },
            );
        }
    }

    /// Restarts the idle clock when reading resumes after handling a frame.
    fn settle(&mut self, now: Instant) {
        if self.paused_by_frame && self.idle_clock_runs() {
            self.paused_by_frame = false;
            self.last_rx = now;
        }
    }

    /// Ends the session (the first end counts) and logs how. When the transport is broken or
    /// the peer does not read, nothing queued will be written.
    fn finish(&mut self, end: End) {
        if self.end.is_some() {
            return;
        }
        if !end.closes_cleanly() {
            self.out.clear();
        }
        for (id, _) in std::mem::take(&mut self.ops) {
            // Never handed to the driver: nothing to wait for.
            if self.busy.as_ref().is_some_and(|(busy, _)| *busy == id) {
                self.busy = None;
            }
            self.uploads.forget(id);
        }
        self.deferred = None;
        self.handed.clear();
        end.log();
        for (kind, count) in self.warnings.suppressed() {
            warn!(kind, count, "repeated warnings not logged on this connection");
        }
        if self.window.len() > 0 {
            info!(
                unanswered = self.window.len(),
                "unanswered orders go back to the queue for the next connection"
            );
        }
        self.end = Some(end);
    }
}

/// Something read while uploads were unanswered, acted on once they are.
#[derive(Debug)]
enum Deferred {
    /// A frame other than DATA_STREAM.
    Frame(Frame),
    /// The peer closed the connection.
    PeerClosed,
}

#[path = "session_frames.rs"]
mod frames;

#[path = "session_orders.rs"]
mod orders;

#[path = "session_outcomes.rs"]
mod outcomes;

#[path = "session_uploads.rs"]
mod uploads;

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "session_upload_tests.rs"]
mod upload_tests;
