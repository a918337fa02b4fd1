//! The frame exchange of one identified device connection (NGTT.md §3–4).
//!
//! One task per connection reads frames, answers them, and sends orders. Every network wait
//! is raced against the connection's stop token (replacement or server shutdown), every
//! storage call is not: a write that has started always finishes, and nothing is acknowledged
//! before its write has committed.

use std::collections::HashSet;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use ngtt_proto::payload::{PathpointSeries, SyncBaobRequest};
use ngtt_proto::{DeviceIdentity, Frame, FrameType, NgttCodec, ProtoError};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::window::OrderWindow;
use super::{close, Shared, Tls};
use crate::storage::{OrderAnswer, Storage, StorageError};

/// ORDER tids reserved from the device's sequence at a time: 128 connections that carried
/// orders pass before the sequence (1..=0x7FFF) comes round again.
const TID_BLOCK: u16 = 256;

/// Why a session ended.
#[derive(Debug)]
enum End {
    /// The device closed the connection cleanly.
    PeerClosed,
    /// Nothing was received for the idle timeout.
    Idle,
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

impl From<ProtoError> for End {
    fn from(e: ProtoError) -> End {
        match e {
            ProtoError::Io(io) => End::Io(io),
            other => End::Protocol(other),
        }
    }
}

/// Serves an identified connection: takes over from the device's previous connection, then
/// exchanges frames until the end, then closes.
pub(super) async fn run(shared: Arc<Shared>, tls: Tls, identity: DeviceIdentity, conn: u64) {
    let (registration, replaced) = shared
        .registry
        .register(&identity.device_id, conn, &shared.shutdown);
    if let Some(old) = replaced {
        let old_conn = old.conn;
        info!(old_conn, "replacing the device's previous connection");
        // Its unanswered orders go back to the queue only once it can no longer act on them.
        old.stop_and_wait().await;
        debug!(old_conn, "previous connection stopped");
    }
    info!(environment = %identity.environment, "device connected");
    let framed = Framed::new(tls, NgttCodec::with_max_frame_len(shared.limits.max_frame_len));
    let mut session = Session {
        device: identity.device_id.clone(),
        conn,
        window: OrderWindow::new(shared.limits.max_inflight),
        stop: registration.stop.clone(),
        notify: Arc::clone(&registration.notify),
        fetch: false,
        grace_at: shared.limits.fetch_grace.map(|grace| Instant::now() + grace),
        unknown_seen: HashSet::new(),
        last_rx: Instant::now(),
        framed,
        shared,
    };
    let end = match session
        .shared
        .db
        .device_connected(identity)
        .await
        .map_err(End::Storage)
    {
        Ok(()) => session.run().await,
        Err(end) => end,
    };
    session.report(&end);
    close(&mut session.framed, session.shared.limits.close_timeout).await;
    drop(registration);
}

struct Session {
    shared: Arc<Shared>,
    device: String,
    conn: u64,
    framed: Framed<Tls, NgttCodec>,
    stop: CancellationToken,
    notify: Arc<Notify>,
    window: OrderWindow,
    /// Orders may be sent: FETCH_ORDERS received, or the grace period after the handshake
    /// passed without it (NGTT.md §4.1).
    fetch: bool,
    /// When orders start without FETCH_ORDERS (`None`: only on FETCH_ORDERS).
    grace_at: Option<Instant>,
    unknown_seen: HashSet<u16>,
    last_rx: Instant,
}

enum Event {
    Frame(Option<Result<Frame, ProtoError>>),
    NewOrders,
    GraceOver,
}

impl Session {
    async fn run(&mut self) -> End {
        loop {
            let stop = self.stop.clone();
            let notify = Arc::clone(&self.notify);
            let idle_deadline = self.last_rx + self.shared.limits.idle_timeout;
            let grace = self.grace_at.filter(|_| !self.fetch);
            let event = tokio::select! {
                biased;
                () = stop.cancelled() => return self.stopped(),
                next = self.framed.next() => Event::Frame(next),
                () = notify.notified(), if self.fetch => Event::NewOrders,
                () = tokio::time::sleep_until(grace.unwrap_or(idle_deadline)), if grace.is_some() => Event::GraceOver,
                () = tokio::time::sleep_until(idle_deadline) => return End::Idle,
            };
            let result = match event {
                Event::Frame(None) => return End::PeerClosed,
                Event::Frame(Some(Err(e))) => return End::from(e),
                Event::Frame(Some(Ok(frame))) => {
                    self.last_rx = Instant::now();
                    self.on_frame(frame).await
                }
                Event::NewOrders => self.fill_window().await,
                Event::GraceOver => {
                    self.start_orders("no FETCH_ORDERS within the grace period: sending orders anyway")
                        .await;
                    self.fill_window().await
                }
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    fn stopped(&self) -> End {
        if self.shared.shutdown.is_cancelled() {
            End::Shutdown
        } else {
            End::Replaced
        }
    }

    /// Logs how the session ended.
    fn report(&self, end: &End) {
        match end {
            End::PeerClosed => info!("device closed the connection"),
            End::Idle => info!(
                "closing idle connection: nothing received for {:?}",
                self.shared.limits.idle_timeout
            ),
            End::Replaced => info!("connection replaced by a newer one from the same device"),
            End::Shutdown => info!("closing connection: server shutting down"),
            End::Protocol(e) => warn!("protocol error, closing connection: {e}"),
            End::Io(e) => info!("connection lost: {e}"),
            End::Storage(e) => error!("storage failed, closing connection: {e}"),
        }
        if self.window.len() > 0 {
            info!(
                unanswered = self.window.len(),
                "unanswered orders go back to the queue for the next connection"
            );
        }
    }

    /// Runs `f` on the storage; a failure ends the session.
    async fn db<R, F>(&self, f: F) -> Result<R, End>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<R, StorageError> + Send + 'static,
    {
        self.shared.db.call(f).await.map_err(End::Storage)
    }

    /// Sends one frame and flushes it, so that each frame leaves at once in records of its own
    /// (at most `tls_max_record` bytes of plaintext each: the Python client handles one frame
    /// per read and 512 bytes per wake-up, NGTT.md §8). The write is tried first, so that an answer
    /// (e.g. the DATA_STREAM_CONFIRM of an upload just stored) still goes out on a stopping
    /// connection; a write that cannot proceed is abandoned when the connection is stopped.
    async fn send(&mut self, frame: Frame) -> Result<(), End> {
        let stop = self.stop.clone();
        tokio::select! {
            biased;
            result = self.framed.send(frame) => result.map_err(End::from),
            () = stop.cancelled() => Err(self.stopped()),
        }
    }

    /// Fails once the connection is stopped: no new ORDER may go out on it then.
    fn check_running(&self) -> Result<(), End> {
        if self.stop.is_cancelled() {
            Err(self.stopped())
        } else {
            Ok(())
        }
    }

    async fn on_frame(&mut self, frame: Frame) -> Result<(), End> {
        match frame.kind {
            FrameType::Ping => {
                self.send(Frame::new(FrameType::Ping, frame.tid, frame.payload))
                    .await
            }
            FrameType::FetchOrders => {
                self.start_orders("device asked for orders").await;
                self.fill_window().await
            }
            FrameType::OrderConfirm => self.on_answer(frame.tid, OrderAnswer::Confirmed).await,
            FrameType::OrderReject => {
                // Our devices may say why (docs/protocol.md); the rejection counts either way.
                if let Ok(Some(reason)) = frame.payload_opt::<&str>() {
                    let reason: String = reason.chars().take(200).collect();
                    info!(tid = frame.tid, reason = ?reason, "the device gave a reason for ORDER_REJECT");
                }
                self.on_answer(frame.tid, OrderAnswer::Rejected).await
            }
            FrameType::DataStream => self.on_data_stream(frame).await,
            FrameType::Logs => self.on_logs(&frame).await,
            FrameType::SyncBaobRequest => {
                let request = frame.payload_as::<SyncBaobRequest>()?;
                let device = self.device.clone();
                let answer = self
                    .db(move |s| super::baob_sync::response(s, &device, &request))
                    .await?;
                self.send(Frame::sync_baob_response(frame.tid, &answer)?).await
            }
            FrameType::Order
            | FrameType::DataStreamConfirm
            | FrameType::DataStreamReject
            | FrameType::SyncBaobResponse => {
                warn!(
                    tid = frame.tid,
                    "unexpected {} frame from a device; ignored", frame.kind
                );
                Ok(())
            }
            FrameType::Unknown(n) => {
                if self.unknown_seen.insert(n) {
                    warn!("ignoring frames of unknown type {n} (logged once per connection)");
                }
                Ok(())
            }
        }
    }

    /// Makes this connection the one that carries the device's orders (once per connection:
    /// on FETCH_ORDERS, or when the grace period ends first). Orders already sent on this
    /// connection are never sent on it again: [`OrderWindow::cursor`] only grows.
    async fn start_orders(&mut self, why: &str) {
        if self.fetch {
            return;
        }
        // Under the device's order gate: an HTTP hand-out in progress commits first, and none
        // starts after this (docs/delivery-guarantees.md).
        let registry = &self.shared.registry;
        let gate = registry.order_gate(&self.device);
        let _held = gate.lock().await;
        registry.set_orders_on_ngtt(&self.device, self.conn);
        self.fetch = true;
        info!("{why}");
    }

    /// Sends pending orders while the window has room (only once orders started).
    async fn fill_window(&mut self) -> Result<(), End> {
        while self.fetch && self.window.free() > 0 {
            self.check_running()?;
            let want = self.window.free();
            let after = self.window.cursor();
            // Marked sent (committed) before the frames go out.
            let batch = self
                .shared
                .db
                .claim_orders(&self.device, after, want)
                .await
                .map_err(End::Storage)?;
            let got = batch.len();
            for order in batch {
                self.check_running()?;
                let tid = self.allocate_tid(order.id).await?;
                debug!(order = order.id, tid, "sending ORDER");
                self.send(Frame::new(FrameType::Order, tid, order.payload))
                    .await?;
            }
            if got < want {
                break;
            }
        }
        Ok(())
    }

    /// A tid for the ORDER frame of `order`, continuing the device's persisted sequence: tids
    /// are reserved in blocks, durably, before any of them goes out, so that a later
    /// connection never reuses a tid of an earlier one until the sequence wraps (NGTT.md §3).
    async fn allocate_tid(&mut self, order: crate::storage::OrderId) -> Result<u16, End> {
        loop {
            if let Some(tid) = self.window.push(order) {
                return Ok(tid);
            }
            let first = self
                .shared
                .db
                .reserve_order_tids(&self.device, TID_BLOCK)
                .await
                .map_err(End::Storage)?;
            debug!(first, count = TID_BLOCK, "reserved ORDER tids");
            self.window.add_tids(first, TID_BLOCK);
        }
    }

    async fn on_answer(&mut self, tid: u16, answer: OrderAnswer) -> Result<(), End> {
        let what = match answer {
            OrderAnswer::Confirmed => "ORDER_CONFIRM",
            OrderAnswer::Rejected => "ORDER_REJECT",
        };
        let Some(order) = self.window.answer(tid) else {
            warn!(
                tid,
                "{what} matches no unanswered ORDER on this connection (stale or repeated); ignored"
            );
            return Ok(());
        };
        if self
            .shared
            .db
            .answer_order(order, answer)
            .await
            .map_err(End::Storage)?
        {
            info!(
                order,
                tid,
                "order {}",
                if answer == OrderAnswer::Confirmed {
                    "confirmed"
                } else {
                    "rejected"
                }
            );
        } else {
            warn!(
                order,
                tid, "{what} for an order that was already answered; ignored"
            );
        }
        self.fill_window().await
    }

    async fn on_data_stream(&mut self, frame: Frame) -> Result<(), End> {
        let tid = frame.tid;
        let series = match frame.payload_as::<Vec<PathpointSeries>>() {
            Ok(series) => series,
            Err(e) => {
                let mut reason = format!("not a list of pathpoint series: {e}");
                truncate(&mut reason, 400);
                warn!(tid, "rejecting DATA_STREAM: {reason}");
                let reject = Frame::data_stream_reject_because(tid, &reason)
                    .unwrap_or_else(|_| Frame::data_stream_reject(tid));
                return self.send(reject).await;
            }
        };
        let paths = series.len();
        let stored = self
            .shared
            .db
            .store_series(&self.device, series)
            .await
            .map_err(End::Storage)?;
        debug!(tid, paths, stored, "DATA_STREAM stored");
        self.send(Frame::data_stream_confirm(tid)).await
    }

    async fn on_logs(&mut self, frame: &Frame) -> Result<(), End> {
        let items: Vec<minijson::Value> = frame.payload_as()?;
        let limits = self.shared.registry.inflate_limits();
        let (entries, _skipped) = limits.log_entries(&self.device, &items);
        if entries.is_empty() {
            return Ok(());
        }
        let stored = self
            .shared
            .db
            .store_logs(&self.device, entries)
            .await
            .map_err(End::Storage)?;
        debug!(stored, "LOGS stored");
        Ok(())
    }
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}
