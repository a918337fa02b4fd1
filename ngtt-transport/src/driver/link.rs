//! One established connection: frames in, frames out, timers, commands.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use ngtt_net::{write_step, WriteStep};
use ngtt_proto::{FrameType, ProtoError};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use super::{now, Command, Driver, Stream};
use crate::error::TransportError;
use crate::inbound::{Inbound, InboundCodec};
use crate::orders::ReceivedOrder;
use crate::session::Event;
use crate::state::{add, ConnectionState};

/// Frames are taken from the log buffer only while less than this is waiting to be written,
/// so that a slow link keeps logs in the bounded buffer rather than in memory here.
const WRITE_LOW_WATER: usize = 64 * 1024;

/// How long a graceful close waits at least for close_notify to go out.
const MIN_SHUTDOWN: Duration = Duration::from_millis(100);

/// How long a graceful close waits at most, after close_notify, for the server to close.
const MAX_LINGER: Duration = Duration::from_secs(1);

fn read_error(e: ProtoError) -> TransportError {
    match e {
        ProtoError::Io(io) => TransportError::Io(io),
        other => TransportError::Proto(other),
    }
}

impl Driver {
    /// Runs an established connection until it is lost (`Err`) or closed as asked
    /// (`Ok(flushed)`, false when the close timed out before everything was written).
    pub(super) async fn run_link(
        &mut self,
        stream: Stream,
        server: SocketAddr,
    ) -> Result<bool, TransportError> {
        let since = now();
        let epoch = self.session.connect(since);
        self.shared.live_epoch.store(epoch, Ordering::Release);
        add(&self.shared.counters.connects, 1);
        self.backoff.connected(since);
        self.state
            .send_replace(ConnectionState::Connected { epoch, since, server });
        tracing::Span::current().record("epoch", epoch);
        info!("connected");

        let (reader, mut writer) = tokio::io::split(stream);
        // Frames above the limit are read past, never buffered (see `InboundCodec`).
        let mut reader = FramedRead::new(reader, InboundCodec::new(self.config.max_frame_len));
        let mut wbuf = BytesMut::new();
        let mut dirty = false;
        let mut commands_open = true;
        let result = loop {
            self.fill(&mut wbuf);
            dirty |= !wbuf.is_empty();
            self.dispatch_events(epoch);
            if self.closing.is_some() && !dirty && self.logs_empty() {
                break Ok(true);
            }
            let timeout = self.session.poll_timeout();
            let close_deadline = self.closing.as_ref().map(|c| c.deadline);
            let far = now() + Duration::from_secs(86_400);
            tokio::select! {
                command = self.commands.recv(), if commands_open => match command {
                    Some(command) => self.online_command(command),
                    None => {
                        commands_open = false;
                        self.begin_close(self.config.close_timeout, None);
                    }
                },
                () = self.shared.log_notify.notified() => {}
                item = reader.next() => match item {
                    Some(Ok(Inbound::Oversized(header))) => {
                        add(&self.shared.counters.frames_received, 1);
                        add(&self.shared.counters.frames_oversized, 1);
                        self.session.handle_oversized(header, now());
                    }
                    Some(Ok(Inbound::Frame(frame))) => {
                        add(&self.shared.counters.frames_received, 1);
                        add(&self.shared.counters.bytes_received, frame.encoded_len());
                        if let Err(e) = self.session.handle_frame(frame, now()) {
                            warn!(error = %e, %server, "protocol error: closing the connection");
                            break Err(e);
                        }
                    }
                    Some(Err(e)) => break Err(read_error(e)),
                    None => break Err(TransportError::ClosedByPeer),
                },
                step = write_step(&mut writer, &mut wbuf), if dirty => match step {
                    Ok(WriteStep::Wrote) => self.session.on_written(now(), false),
                    Ok(WriteStep::Flushed) => {
                        dirty = false;
                        self.session.on_written(now(), true);
                        for reply in self.flush_waiters.drain(..) {
                            let _ = reply.send(Ok(()));
                        }
                    }
                    Err(e) => break Err(e.into()),
                },
                () = tokio::time::sleep_until(timeout.unwrap_or(far).into()), if timeout.is_some() => {
                    if let Err(e) = self.session.handle_timeout(now()) {
                        break Err(e);
                    }
                }
                () = tokio::time::sleep_until(close_deadline.unwrap_or(far).into()), if close_deadline.is_some() => {
                    warn!("close timed out before everything was written");
                    break Ok(false);
                }
            }
        };

        if result.is_ok() {
            // close_notify, then FIN; bounded by what is left of the close timeout.
            let left = self
                .closing
                .as_ref()
                .map_or(MIN_SHUTDOWN, |c| c.deadline.saturating_duration_since(now()))
                .max(MIN_SHUTDOWN);
            // Then read (and discard) until the server closes too: closing a socket with unread
            // data makes the kernel send a reset, which can destroy what the server has not
            // read yet. Orders read here are dropped unanswered: the server redelivers them.
            let lingering = async {
                writer.shutdown().await?;
                let drain = async {
                    while let Some(item) = reader.next().await {
                        item.map_err(|e| io::Error::other(e.to_string()))?;
                    }
                    Ok::<(), io::Error>(())
                };
                tokio::time::timeout(MAX_LINGER, drain)
                    .await
                    .unwrap_or_else(|_| Err(io::Error::other("the server did not close in time")))
            };
            match tokio::time::timeout(left, lingering).await {
                Ok(Ok(())) => debug!("TLS closed cleanly"),
                Ok(Err(e)) => debug!(error = %e, "TLS shutdown failed"),
                Err(_) => debug!("close timed out"),
            }
        } else {
            add(&self.shared.counters.drops, 1);
            self.backoff.disconnected(now());
        }
        self.session.disconnect();
        self.shared.live_epoch.store(0, Ordering::Release);
        for reply in self.flush_waiters.drain(..) {
            let _ = reply.send(Err(TransportError::ConnectionLost));
        }
        for (_, reply) in self.baob_requests.drain() {
            let _ = reply.send(Err(TransportError::ConnectionLost));
        }
        result
    }

    /// Moves frames from the session (and log batches from the buffer) into `wbuf`, while
    /// less than [`WRITE_LOW_WATER`] waits there: what is not written yet stays in the session
    /// (uploads share their payload with it) or in the bounded log buffer, not copied here.
    fn fill(&mut self, wbuf: &mut BytesMut) {
        let counters = &self.shared.counters;
        loop {
            while wbuf.len() < WRITE_LOW_WATER {
                let Some(frame) = self.session.poll_transmit(now()) else {
                    break;
                };
                if let Err(e) = ngtt_proto::encode(&frame, wbuf) {
                    warn!(error = %e, kind = %frame.kind, "cannot encode a frame: dropped");
                    continue;
                }
                add(&counters.frames_sent, 1);
                add(&counters.bytes_sent, frame.encoded_len());
                if frame.kind == FrameType::Ping {
                    add(&counters.pings_sent, 1);
                }
            }
            if wbuf.len() >= WRITE_LOW_WATER {
                return;
            }
            let batch = match self.shared.logs.lock() {
                Ok(mut logs) => logs.take_batch(self.config.log_batch_bytes),
                Err(_) => return,
            };
            if batch.is_empty() {
                return;
            }
            match self.session.send_logs(&batch) {
                Ok(_) => add(&counters.logs_sent, batch.len()),
                Err(e) => warn!(error = %e, records = batch.len(), "cannot encode log records: dropped"),
            }
        }
    }

    fn logs_empty(&self) -> bool {
        self.shared.logs.lock().map_or(true, |logs| logs.is_empty())
    }

    /// Hands session events to the application.
    fn dispatch_events(&mut self, epoch: u64) {
        let counters = &self.shared.counters;
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Order(order) => {
                    add(&counters.orders_received, 1);
                    debug!(tid = order.tid, "order received");
                    let Some(sender) = self.command_sender.upgrade() else {
                        continue; // every handle is gone: the transport is closing
                    };
                    let tid = order.tid;
                    match self.orders.try_send(ReceivedOrder::new(order, epoch, sender)) {
                        Ok(()) => {}
                        Err(TrySendError::Full(order)) => {
                            // Orders of lost connections still fill the stream: this one is
                            // not taken, and comes again on the next connection.
                            order.forget();
                            self.session.forget_order(epoch, tid);
                            add(&counters.orders_refused_busy, 1);
                            warn!(
                                tid,
                                "the Orders stream is full: order not taken, it will be redelivered"
                            );
                        }
                        Err(TrySendError::Closed(order)) => {
                            order.forget();
                            warn!("the Orders stream was dropped: an order cannot be delivered");
                        }
                    }
                }
                Event::OrderNotTaken { .. } => add(&counters.orders_refused_busy, 1),
                Event::BaobAnswer { id, payload } => {
                    if let Some(reply) = self.baob_requests.remove(&id) {
                        let _ = reply.send(Ok(payload));
                    }
                }
                Event::OversizedOrderRejected { .. } => {}
                Event::LogsConfirmed(id) => {
                    if let Some((reply, _permit, records)) = self.log_batches.remove(&id) {
                        add(&counters.logs_confirmed, records);
                        let _ = reply.send(Ok(()));
                    }
                }
                Event::UploadConfirmed(id) => {
                    add(&counters.uploads_confirmed, 1);
                    if let Some((reply, _permit)) = self.uploads.remove(&id) {
                        let _ = reply.send(Ok(()));
                    }
                }
                Event::UploadRejected { id, reason } => {
                    add(&counters.uploads_rejected, 1);
                    warn!(
                        reason = reason.as_deref().unwrap_or(""),
                        "the server refused an upload"
                    );
                    if let Some((reply, _permit)) = self.uploads.remove(&id) {
                        let _ = reply.send(Err(TransportError::Refused { reason }));
                    }
                }
            }
        }
    }

    /// Serves a command while connected.
    fn online_command(&mut self, command: Command) {
        match command {
            Command::Upload {
                payload,
                reply,
                permit,
            } => {
                let id = self.session.upload(payload);
                self.uploads.insert(id, (reply, permit));
            }
            Command::Logs {
                payloads,
                records,
                reply,
                permit,
            } => self.send_logs_confirmed(payloads, records, reply, permit),
            Command::Answer {
                epoch,
                tid,
                confirm,
                reply,
            } => {
                if self.session.answer_order(epoch, tid, confirm) {
                    self.flush_waiters.push(reply);
                } else {
                    let _ = reply.send(Err(TransportError::ConnectionLost));
                }
            }
            Command::SyncBaob { payload, reply } => match self.session.sync_baobs(payload) {
                Some(id) => {
                    self.baob_requests.insert(id, reply);
                }
                None => {
                    let _ = reply.send(Err(TransportError::ConnectionLost));
                }
            },
            Command::Close { timeout, reply } => self.begin_close(timeout, Some(reply)),
        }
    }
}
