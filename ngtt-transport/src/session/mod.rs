//! [`Session`]: the device side of NGTT as a pure state machine (NGTT.md §3–4).
//!
//! Like `quinn-proto`, it does no I/O and reads no clock: the caller feeds it frames
//! ([`Session::handle_frame`]), write progress ([`Session::on_written`]) and time
//! ([`Session::handle_timeout`]), and takes from it frames to write ([`Session::poll_transmit`]),
//! the next instant it wants to be woken ([`Session::poll_timeout`]) and events
//! ([`Session::poll_event`]). One `Session` lives across connections: uploads survive
//! reconnects, while tids, the ping and open orders belong to one connection.

mod logs;
mod orders;
mod tids;

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use ngtt_proto::payload::{LogRecord, Section};
use ngtt_proto::{Frame, FrameType};
use tracing::{debug, warn};

pub use logs::LogsId;
pub use tids::{TidAllocator, TidUse, MAX_TID};

use crate::config::{Timings, DEFAULT_MAX_OPEN_ORDERS};
use crate::error::TransportError;

/// Identifies an upload ([`Session::upload`]) across reconnects.
pub type UploadId = u64;

/// What the session is told about the device.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// Keepalive and dead-peer timings.
    pub timings: Timings,
    /// Send FETCH_ORDERS first on every connection.
    pub fetch_orders: bool,
    /// Orders held at once (received, not answered), at most; see [`Session::handle_frame`].
    pub max_open_orders: usize,
    /// The largest payload the device reads (for the reason given when it refuses a larger
    /// ORDER, see [`Session::handle_oversized`]).
    pub max_frame_len: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            timings: Timings::default(),
            fetch_orders: true,
            max_open_orders: DEFAULT_MAX_OPEN_ORDERS,
            max_frame_len: ngtt_proto::DEFAULT_MAX_FRAME_LEN,
        }
    }
}

/// An ORDER received on the current connection, waiting for [`Session::answer_order`].
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingOrder {
    /// The ORDER's tid (server-chosen delivery id).
    pub tid: u16,
    /// The decoded sections.
    pub sections: Vec<Section>,
    /// The raw MiniJSON payload.
    pub payload: Bytes,
}

/// Something the application must hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An order arrived.
    Order(IncomingOrder),
    /// The server stored an upload (DATA_STREAM_CONFIRM).
    UploadConfirmed(UploadId),
    /// The server refused an upload (DATA_STREAM_REJECT); it is forgotten.
    UploadRejected {
        /// Which upload.
        id: UploadId,
        /// The reason the server gave, if any.
        reason: Option<String>,
    },
    /// An ORDER was not taken because `max_open_orders` were held already: nothing was
    /// answered, so the server delivers it again on the next connection.
    OrderNotTaken {
        /// The ORDER's tid.
        tid: u16,
    },
    /// The server answered a SYNC_BAOB_REQUEST ([`Session::sync_baobs`]).
    BaobAnswer {
        /// Which request.
        id: u64,
        /// The SYNC_BAOB_RESPONSE payload (MiniJSON), not decoded yet.
        payload: Bytes,
    },
    /// The server provably read every LOGS frame of a batch
    /// ([`Session::send_logs_confirmed`]): the echo of a PING written after them arrived.
    LogsConfirmed(LogsId),
    /// An ORDER larger than the frame limit was refused with ORDER_REJECT (its payload was
    /// never read).
    OversizedOrderRejected {
        /// The ORDER's tid.
        tid: u16,
        /// Its payload length.
        len: u32,
    },
}

/// An upload not yet answered: re-sent on every new connection until it is.
#[derive(Debug, Clone)]
struct Upload {
    id: UploadId,
    payload: Bytes,
    /// Its tid on the current connection, once sent there.
    tid: Option<u16>,
}

/// What belongs to one connection.
#[derive(Debug)]
struct Link {
    epoch: u64,
    out: VecDeque<Frame>,
    ping: Option<(u16, Instant)>,
    last_write: Instant,
    last_read: Instant,
    unwritten_since: Option<Instant>,
    open_orders: HashSet<u16>,
    /// Whether "too many open orders" was logged on this connection.
    busy_logged: bool,
}

/// The device side of NGTT, without I/O (see the module documentation).
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    tids: TidAllocator,
    uploads: VecDeque<Upload>,
    next_upload: UploadId,
    epoch: u64,
    link: Option<Link>,
    events: VecDeque<Event>,
    unknown_types: HashSet<u16>,
    /// Frame types of which an oversized frame was logged (logged once each).
    oversized_types: HashSet<u16>,
    next_baob: u64,
    /// Log batches awaiting their proof, oldest first.
    log_batches: VecDeque<logs::LogBatch>,
    next_logs: LogsId,
}

impl Session {
    /// A session with no connection yet.
    pub fn new(config: SessionConfig) -> Self {
        Session {
            config,
            tids: TidAllocator::default(),
            uploads: VecDeque::new(),
            next_upload: 1,
            epoch: 0,
            link: None,
            events: VecDeque::new(),
            unknown_types: HashSet::new(),
            oversized_types: HashSet::new(),
            next_baob: 1,
            log_batches: VecDeque::new(),
            next_logs: 1,
        }
    }

    /// A connection was established at `now`; returns its epoch (1 for the first).
    ///
    /// Queues FETCH_ORDERS (when configured), then every unanswered upload, in the order
    /// they were made, each with a fresh tid, then every unconfirmed log batch and a PING to
    /// confirm them.
    pub fn connect(&mut self, now: Instant) -> u64 {
        self.disconnect();
        self.epoch += 1;
        let mut link = Link {
            epoch: self.epoch,
            out: VecDeque::new(),
            ping: None,
            last_write: now,
            last_read: now,
            unwritten_since: None,
            open_orders: HashSet::new(),
            busy_logged: false,
        };
        if self.config.fetch_orders {
            link.out.push_back(Frame::fetch_orders());
        }
        self.link = Some(link);
        self.send_waiting_uploads();
        self.send_waiting_logs(now);
        self.epoch
    }

    /// The connection is gone: its tids, ping, open orders and unsent frames are forgotten;
    /// unanswered uploads and unconfirmed log batches wait for the next connection.
    pub fn disconnect(&mut self) {
        if self.link.take().is_some() {
            self.tids.clear();
            for upload in &mut self.uploads {
                upload.tid = None;
            }
            self.logs_disconnected();
        }
    }

    /// The epoch of the current connection, `None` while disconnected.
    pub fn connected_epoch(&self) -> Option<u64> {
        self.link.as_ref().map(|l| l.epoch)
    }

    /// Queues an upload of `payload` (a MiniJSON list of pathpoint series). It is sent now if
    /// connected, else on the next connection, and again on every connection until the server
    /// answers it.
    pub fn upload(&mut self, payload: Bytes) -> UploadId {
        let id = self.next_upload;
        self.next_upload += 1;
        self.uploads.push_back(Upload {
            id,
            payload,
            tid: None,
        });
        self.send_waiting_uploads();
        id
    }

    /// Queues a SYNC_BAOB_REQUEST of `payload` (a MiniJSON map of BAOB key → version) with a
    /// fresh tid; returns the request's id, answered by [`Event::BaobAnswer`]. Unlike uploads,
    /// a request belongs to its connection: `None` (nothing queued) while disconnected or when
    /// no tid is free, and forgotten when the connection is lost (ask again).
    pub fn sync_baobs(&mut self, payload: Bytes) -> Option<u64> {
        let link = self.link.as_mut()?;
        let id = self.next_baob;
        let tid = self.tids.allocate(TidUse::Baob(id))?;
        self.next_baob += 1;
        link.out
            .push_back(Frame::new(FrameType::SyncBaobRequest, tid, payload));
        Some(id)
    }

    /// Uploads not answered yet.
    pub fn pending_uploads(&self) -> usize {
        self.uploads.len()
    }

    /// Queues one LOGS frame of `records`; returns false (queuing nothing) while disconnected.
    pub fn send_logs(&mut self, records: &[LogRecord]) -> Result<bool, TransportError> {
        let Some(link) = &mut self.link else {
            return Ok(false);
        };
        link.out.push_back(Frame::logs(records)?);
        Ok(true)
    }

    /// The next frame to write, if any.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Frame> {
        let link = self.link.as_mut()?;
        let frame = link.out.pop_front()?;
        link.last_write = now;
        link.unwritten_since.get_or_insert(now);
        Some(frame)
    }

    /// The writer made progress at `now`; `all_flushed` when nothing handed out by
    /// [`Session::poll_transmit`] still waits to be written.
    pub fn on_written(&mut self, now: Instant, all_flushed: bool) {
        if let Some(link) = &mut self.link {
            link.unwritten_since = (!all_flushed).then_some(now);
        }
    }

    /// When [`Session::handle_timeout`] should be called next (`None` while disconnected).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let link = self.link.as_ref()?;
        let t = &self.config.timings;
        let keepalive = match link.ping {
            None => link.last_write + t.ping_after,
            Some((_, sent)) => sent.max(link.last_read) + t.dead_after,
        };
        Some(match link.unwritten_since {
            Some(since) => keepalive.min(since + t.write_timeout),
            None => keepalive,
        })
    }

    /// Acts on the time: sends a PING after `ping_after` without writes; fails (the caller
    /// must close the connection) when the peer looks dead or writing is stalled.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), TransportError> {
        let t = self.config.timings;
        let Some(link) = &mut self.link else {
            return Ok(());
        };
        if let Some(since) = link.unwritten_since {
            if now >= since + t.write_timeout {
                return Err(TransportError::WriteStalled {
                    stalled_for: now - since,
                });
            }
        }
        match link.ping {
            Some((_, sent)) if now >= sent.max(link.last_read) + t.dead_after => {
                return Err(TransportError::PeerDead {
                    silent_for: now.saturating_duration_since(link.last_read),
                });
            }
            Some(_) => {}
            None if now >= link.last_write + t.ping_after => {
                if logs::queue_ping(link, &mut self.tids, &mut self.log_batches, now) {
                    debug!("idle: sending PING");
                } else {
                    // Every tid awaits an answer, so the server is clearly talking: try later.
                    link.last_write = now;
                }
            }
            None => {}
        }
        // A log batch waiting for a free tid for its PING.
        self.request_proof(now);
        Ok(())
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Handles a frame read from the server at `now`.
    ///
    /// Fails only on a protocol error (an ORDER whose payload is not MiniJSON): the caller
    /// must then close the connection. Everything unexpected but harmless is logged and
    /// ignored (NGTT.md §3). An ORDER arriving while `max_open_orders` are held unanswered is
    /// not taken ([`Event::OrderNotTaken`]): nothing is answered, so the server keeps it and
    /// delivers it again on the next connection — the device's own bound, whatever the
    /// server's window.
    pub fn handle_frame(&mut self, frame: Frame, now: Instant) -> Result<(), TransportError> {
        let Some(link) = &mut self.link else {
            return Ok(());
        };
        link.last_read = now;
        match frame.kind {
            FrameType::Ping => match link.ping {
                Some((tid, _)) if tid == frame.tid => {
                    link.ping = None;
                    self.tids.release(tid);
                    self.send_waiting_uploads();
                    self.ping_echoed(now);
                }
                _ => warn!(
                    tid = frame.tid,
                    "ignoring a PING whose tid matches no outstanding ping"
                ),
            },
            FrameType::Order => self.handle_order(frame)?,
            FrameType::DataStreamConfirm | FrameType::DataStreamReject => self.handle_upload_answer(&frame),
            FrameType::SyncBaobResponse => match self.tids.get(frame.tid) {
                Some(TidUse::Baob(id)) => {
                    self.tids.release(frame.tid);
                    self.events.push_back(Event::BaobAnswer {
                        id,
                        payload: frame.payload,
                    });
                    self.send_waiting_uploads();
                }
                _ => warn!(
                    tid = frame.tid,
                    "ignoring a SYNC_BAOB_RESPONSE: no request is outstanding"
                ),
            },
            FrameType::Unknown(n) => {
                if self.unknown_types.insert(n) {
                    warn!(kind = n, "ignoring frames of unknown type {n} (logged once)");
                }
            }
            other => warn!(kind = %other, tid = frame.tid, "ignoring a frame only a device sends"),
        }
        // A tid may have been freed: a log batch waiting for one for its PING may go now.
        self.request_proof(now);
        Ok(())
    }

    fn handle_upload_answer(&mut self, frame: &Frame) {
        let Some(TidUse::Upload(id)) = self.tids.get(frame.tid) else {
            warn!(kind = %frame.kind, tid = frame.tid, "ignoring an answer whose tid matches no upload");
            return;
        };
        self.tids.release(frame.tid);
        self.uploads.retain(|u| u.id != id);
        self.events
            .push_back(if frame.kind == FrameType::DataStreamConfirm {
                Event::UploadConfirmed(id)
            } else {
                Event::UploadRejected {
                    id,
                    reason: reject_reason(frame),
                }
            });
        // A tid was freed: an upload that found none may go now.
        self.send_waiting_uploads();
    }

    /// Sends, in order, every upload that has no tid on the current connection yet.
    ///
    /// Uploads get tids in order and stop at the first that finds none, so those waiting
    /// are always the last ones: found by a backward scan that stops at the first sent.
    fn send_waiting_uploads(&mut self) {
        let Some(link) = &mut self.link else {
            return;
        };
        let first_waiting = self
            .uploads
            .iter()
            .rposition(|u| u.tid.is_some())
            .map_or(0, |i| i + 1);
        for upload in self.uploads.range_mut(first_waiting..) {
            let Some(tid) = self.tids.allocate(TidUse::Upload(upload.id)) else {
                return;
            };
            upload.tid = Some(tid);
            link.out
                .push_back(Frame::new(FrameType::DataStream, tid, upload.payload.clone()));
        }
    }
}

/// The reason carried by a DATA_STREAM_REJECT: a string as is, other MiniJSON as JSON text.
fn reject_reason(frame: &Frame) -> Option<String> {
    match frame.payload_opt::<minijson::Value>() {
        Ok(None) => None,
        Ok(Some(minijson::Value::String(s))) => Some(s),
        Ok(Some(other)) => Some(serde_json::Value::from(other).to_string()),
        Err(e) => {
            warn!(tid = frame.tid, error = %e, "DATA_STREAM_REJECT reason is not MiniJSON");
            None
        }
    }
}

#[cfg(test)]
mod logs_tests;
#[cfg(test)]
mod tests;
