//! Log batches with a proof of reading: the part of [`Session`] behind
//! `Transport::send_logs_confirmed`.
//!
//! LOGS frames have no answer (NGTT.md §3, §4.4), so the session proves that the server read a
//! batch another way: it writes a PING *after* the batch's LOGS frames and waits for the echo
//! on the same connection. TCP delivers in order and the server reads a connection's frames one
//! at a time, answering a PING only once it has read (and, `ngtt-server`, stored) every frame
//! before it; so the echo proves that every batch queued before that PING was read. The rule:
//!
//! * a batch is **confirmed** ([`Event::LogsConfirmed`]) when the echo arrives of a PING queued
//!   after all of the batch's frames on the connection the echo arrives on;
//! * a batch is queued on every connection until confirmed: the connection it went out on may
//!   drop before the echo (at-least-once; the server may have read it, so the re-send may
//!   duplicate it — the caller's documented window);
//! * a PING for proof goes out as soon as a batch is queued and no PING is outstanding, else as
//!   soon as the outstanding one is echoed: at most one PING is outstanding, so keepalive and
//!   dead-peer detection stay as they are, and batches queued while a PING is out wait one more
//!   round trip (they share the next PING).

use std::time::Instant;

use bytes::Bytes;
use ngtt_proto::{Frame, FrameType};
use tracing::debug;

use super::{Event, Link, Session, TidAllocator, TidUse};

/// Identifies a log batch ([`Session::send_logs_confirmed`]) across reconnects.
pub type LogsId = u64;

/// Where a batch stands on the current connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proof {
    /// Not queued on the current connection (none, or it dropped).
    Unsent,
    /// Queued; no PING queued after it yet.
    Queued,
    /// The outstanding PING was queued after it: its echo confirms the batch.
    Pinged,
}

/// A batch of LOGS payloads awaiting its proof.
#[derive(Debug, Clone)]
pub(super) struct LogBatch {
    id: LogsId,
    payloads: Vec<Bytes>,
    proof: Proof,
}

impl Session {
    /// Queues a batch of LOGS `payloads` (each a MiniJSON list of log records, one frame each)
    /// to be confirmed by a PING echo (see the module documentation); returns its id, which
    /// [`Event::LogsConfirmed`] names once the server provably read every frame of it.
    ///
    /// Sent now if connected (with a PING after it, unless one is outstanding), else on the
    /// next connection; sent again on every connection until confirmed. An empty batch is
    /// confirmed at once.
    pub fn send_logs_confirmed(&mut self, payloads: Vec<Bytes>, now: Instant) -> LogsId {
        let id = self.next_logs;
        self.next_logs += 1;
        if payloads.is_empty() {
            self.events.push_back(Event::LogsConfirmed(id));
            return id;
        }
        self.log_batches.push_back(LogBatch {
            id,
            payloads,
            proof: Proof::Unsent,
        });
        self.send_waiting_logs(now);
        id
    }

    /// Log batches not confirmed yet.
    pub fn pending_log_batches(&self) -> usize {
        self.log_batches.len()
    }

    /// True when a batch went out on the current connection and its proof has not come yet.
    pub fn awaits_log_proof(&self) -> bool {
        self.link.is_some() && self.log_batches.iter().any(|b| b.proof != Proof::Unsent)
    }

    /// Queues every batch not yet queued on the current connection, then asks for a proof.
    pub(super) fn send_waiting_logs(&mut self, now: Instant) {
        let Some(link) = &mut self.link else {
            return;
        };
        for batch in self.log_batches.iter_mut().filter(|b| b.proof == Proof::Unsent) {
            for payload in &batch.payloads {
                link.out
                    .push_back(Frame::new(FrameType::Logs, 0, payload.clone()));
            }
            batch.proof = Proof::Queued;
        }
        self.request_proof(now);
    }

    /// Sends a PING when a queued batch needs one and no PING is outstanding (and a tid is
    /// free: otherwise this is tried again whenever a frame is read or time passes).
    pub(super) fn request_proof(&mut self, now: Instant) {
        let Some(link) = &mut self.link else {
            return;
        };
        if link.ping.is_some() || !self.log_batches.iter().any(|b| b.proof == Proof::Queued) {
            return;
        }
        if queue_ping(link, &mut self.tids, &mut self.log_batches, now) {
            debug!("sending a PING to confirm log batches");
        }
    }

    /// The outstanding PING was echoed: every batch it followed is confirmed.
    pub(super) fn ping_echoed(&mut self, now: Instant) {
        while self.log_batches.front().is_some_and(|b| b.proof == Proof::Pinged) {
            if let Some(batch) = self.log_batches.pop_front() {
                self.events.push_back(Event::LogsConfirmed(batch.id));
            }
        }
        self.request_proof(now);
    }

    /// The connection is gone: every batch is sent again on the next one.
    pub(super) fn logs_disconnected(&mut self) {
        for batch in &mut self.log_batches {
            batch.proof = Proof::Unsent;
        }
    }
}

/// Queues a PING on `link` (the keepalive's, or one for proof): the batches queued so far are
/// confirmed by its echo. False when every tid awaits an answer.
pub(super) fn queue_ping(
    link: &mut Link,
    tids: &mut TidAllocator,
    batches: &mut std::collections::VecDeque<LogBatch>,
    now: Instant,
) -> bool {
    let Some(tid) = tids.allocate(TidUse::Ping) else {
        return false;
    };
    link.ping = Some((tid, now));
    link.out.push_back(Frame::ping(tid));
    for batch in batches.iter_mut().filter(|b| b.proof == Proof::Queued) {
        batch.proof = Proof::Pinged;
    }
    true
}
