//! [`Transport`]: the handle of a device's NGTT connection.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ngtt_proto::payload::{LogRecord, PathpointSeries, SyncBaobRequest, SyncBaobResponse};
use ngtt_proto::{DeviceIdentity, ProtoError};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tracing::Instrument;

use crate::budget::{UploadBudget, UploadPermit};
use crate::config::Config;
use crate::driver::{Command, Driver, Reply, Shared, COMMAND_QUEUE};
use crate::error::TransportError;
use crate::logbuf::{encode_batch, LogBuffer};
use crate::orders::Orders;
use crate::state::{ConnectionState, Stats};

/// What [`Transport::close`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseOutcome {
    /// Everything queued (logs, answers) was written and TLS was closed with close_notify;
    /// false when disconnected at the time or when the timeout struck first.
    pub flushed: bool,
    /// Log records still buffered, now discarded.
    pub logs_discarded: usize,
    /// Uploads never answered; their futures fail with [`TransportError::Closed`].
    pub uploads_abandoned: usize,
}

/// The handle of a device's connection to its NGTT server.
///
/// [`Transport::spawn`] starts a background task that connects, keeps the connection alive
/// (pings, dead-peer detection), reconnects with backoff, and re-sends unanswered uploads
/// after each reconnect. The handle is cheap to clone; the task ends on [`Transport::close`]
/// or when every clone (and every unanswered [`crate::ReceivedOrder`]) is dropped, flushing
/// within [`Config::close_timeout`].
#[derive(Debug, Clone)]
pub struct Transport {
    commands: mpsc::Sender<Command>,
    shared: Shared,
    state: watch::Receiver<ConnectionState>,
    identity: Arc<DeviceIdentity>,
    max_frame_len: usize,
    log_batch_bytes: usize,
}

impl Transport {
    /// Checks `config` and starts the background task on the current tokio runtime.
    ///
    /// Returns the handle and the stream of orders (which never yields when
    /// [`Config::fetch_orders`] is false). Fails on an unusable configuration, or when called
    /// outside a tokio runtime.
    pub fn spawn(config: Config) -> Result<(Transport, Orders), TransportError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| TransportError::Config("Transport::spawn needs a tokio runtime".into()))?;
        let tls = config.tls_setup()?;
        let budget = UploadBudget::new(config.upload_limits)?;
        if config.max_open_orders == 0 {
            return Err(TransportError::Config(
                "max_open_orders must be at least 1".into(),
            ));
        }
        let identity = Arc::new(tls.identity.clone());
        let (commands, command_receiver) = mpsc::channel(COMMAND_QUEUE);
        let (order_sender, order_receiver) = mpsc::channel(config.max_open_orders);
        let (state_sender, state) = watch::channel(ConnectionState::Connecting { attempt: 1 });
        let shared = Shared {
            logs: Arc::new(Mutex::new(LogBuffer::new(config.log_buffer))),
            log_notify: Arc::new(Notify::new()),
            counters: Arc::default(),
            live_epoch: Arc::new(AtomicU64::new(0)),
            budget,
        };
        let span = tracing::info_span!(
            "ngtt_device",
            device_id = %identity.device_id,
            environment = %identity.environment,
            server = %config.addr(),
        );
        let max_frame_len = config.max_frame_len;
        let log_batch_bytes = config.log_batch_bytes;
        let driver = Driver::new(
            config,
            tls,
            command_receiver,
            commands.downgrade(),
            order_sender,
            state_sender,
            shared.clone(),
        );
        runtime.spawn(driver.run().instrument(span));
        let orders = Orders::new(order_receiver, shared.live_epoch.clone());
        Ok((
            Transport {
                commands,
                shared,
                state,
                identity,
                max_frame_len,
                log_batch_bytes,
            },
            orders,
        ))
    }

    /// The device's identity, from its certificate.
    pub fn device_identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    /// Uploads pathpoint data (DATA_STREAM), waiting for room when the uploads already waiting
    /// for the server fill [`Config::upload_limits`] (backpressure).
    ///
    /// When there is room, the upload is queued when this is called, not when the future is
    /// first polled, and it goes on even if the future is dropped. When there is none, the
    /// future waits for the server to answer earlier uploads (first come, first served) and
    /// queues it then; dropping the future while it waits gives the upload up. The future
    /// resolves `Ok(())` on DATA_STREAM_CONFIRM and [`TransportError::Refused`] on
    /// DATA_STREAM_REJECT. Until then the upload survives any number of reconnects: after
    /// each, it is sent again, once, with a new tid, in the order uploads were made. Fails
    /// with [`TransportError::Closed`] when the transport closes first, and at once when the
    /// series cannot be encoded or the upload is larger than the largest frame or than all the
    /// room for uploads ([`TransportError::UploadTooLarge`]: a server with the same limit
    /// would drop the connection for it on every attempt).
    pub fn sync_pathpoints(
        &self,
        series: Vec<PathpointSeries>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send + 'static {
        self.upload(&series, WhenFull::Wait)
    }

    /// Like [`Transport::sync_pathpoints`], but fails at once with
    /// [`TransportError::UploadQueueFull`], queuing nothing, when there is no room for the
    /// upload now: for a caller that would rather drop or aggregate data than wait.
    pub fn try_sync_pathpoints(
        &self,
        series: Vec<PathpointSeries>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send + 'static {
        self.upload(&series, WhenFull::Fail)
    }

    fn upload(
        &self,
        series: &[PathpointSeries],
        when_full: WhenFull,
    ) -> impl Future<Output = Result<(), TransportError>> + Send + 'static {
        let queued = self
            .encode_upload(series)
            .and_then(|work| self.queue(work, when_full));
        Self::answer(queued)
    }

    /// Sends log records in LOGS frames and resolves `Ok(())` once the server has provably
    /// read them: the echo of a PING written after the frames arrived on the same connection
    /// (the PING goes right after them; see `docs/transport.md`, "Logs with a proof of
    /// reading"). For a device that keeps its records durably until then, instead of the best
    /// effort of [`Transport::send_logs`].
    ///
    /// Like an upload ([`Transport::sync_pathpoints`]): queued when this is called if there
    /// is room in [`Config::upload_limits`] (the batch counts as one upload of its encoded
    /// size), else when the future is first polled and room frees up; sent on every
    /// connection until confirmed, so the server may read it more than once (at-least-once:
    /// it was read, but the connection dropped before the echo). Fails with
    /// [`TransportError::Closed`] when the transport closes first, and at once with
    /// [`TransportError::UploadTooLarge`] when one record alone is larger than the largest
    /// frame or the batch larger than all the room for uploads. Records are cut into frames of
    /// about [`Config::log_batch_bytes`]; the buffer of [`Transport::send_logs`] is not used.
    pub fn send_logs_confirmed(
        &self,
        records: Vec<LogRecord>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send + 'static {
        let queued = encode_batch(&records, self.log_batch_bytes, self.max_frame_len).and_then(|payloads| {
            let work = Work::Logs {
                payloads,
                records: records.len(),
            };
            self.queue(work, WhenFull::Wait)
        });
        Self::answer(queued)
    }

    /// The answer to queued work, once it is queued.
    async fn answer(queued: Result<Queued, TransportError>) -> Result<(), TransportError> {
        let answer = match queued? {
            Queued::Now(answer) => answer,
            Queued::Later(later) => later.queue().await?,
        };
        answer.await.map_err(|_| TransportError::Closed)?
    }

    /// The DATA_STREAM payload of `series`, if it fits in a frame.
    fn encode_upload(&self, series: &[PathpointSeries]) -> Result<Work, TransportError> {
        let payload = Bytes::from(minijson::to_vec(series).map_err(ProtoError::from)?);
        if payload.len() > self.max_frame_len {
            return Err(TransportError::UploadTooLarge {
                len: payload.len(),
                max: self.max_frame_len,
            });
        }
        Ok(Work::Upload(payload))
    }

    /// Queues `work` now if there is room (and room in the command queue).
    fn queue(&self, work: Work, when_full: WhenFull) -> Result<Queued, TransportError> {
        let len = work.len();
        let later = |work, permit| {
            Queued::Later(Later {
                work,
                permit,
                commands: self.commands.clone(),
                budget: self.shared.budget.clone(),
            })
        };
        let permit = match self.shared.budget.try_reserve(len) {
            Ok(permit) => permit,
            Err(TransportError::UploadQueueFull { .. }) if when_full == WhenFull::Wait => {
                return Ok(later(work, None));
            }
            Err(e) => return Err(e),
        };
        match self.commands.try_reserve() {
            Ok(slot) => {
                let (reply, answer) = oneshot::channel();
                slot.send(work.into_command(reply, permit));
                Ok(Queued::Now(answer))
            }
            Err(TrySendError::Full(())) => Ok(later(work, Some(permit))),
            Err(TrySendError::Closed(())) => Err(TransportError::Closed),
        }
    }

    /// Asks the server which BAOBs to download, upload and delete (SYNC_BAOB_REQUEST with the
    /// key → version map `held`; docs/protocol.md, "BAOB sync"). Sent on the current
    /// connection only: fails with [`TransportError::ConnectionLost`] while disconnected or when
    /// the connection is lost before the answer (ask again later), and with a
    /// [`TransportError::Proto`] when the answer does not decode.
    pub async fn sync_baobs(&self, held: SyncBaobRequest) -> Result<SyncBaobResponse, TransportError> {
        let payload = Bytes::from(minijson::to_vec(&held).map_err(ProtoError::from)?);
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::SyncBaob { payload, reply })
            .await
            .map_err(|_| TransportError::Closed)?;
        let payload = answer.await.map_err(|_| TransportError::Closed)??;
        Ok(minijson::from_slice(&payload).map_err(ProtoError::from)?)
    }

    /// Queues log records (best effort, no answer): sent in LOGS frames while connected,
    /// buffered otherwise (see [`Transport::send_logs_confirmed`] for a proof of reading). Beyond [`Config::log_buffer`] records the oldest are dropped and
    /// counted ([`Stats::logs_dropped`]); returns how many this call dropped.
    pub fn send_logs(&self, records: impl IntoIterator<Item = LogRecord>) -> usize {
        let dropped = match self.shared.logs.lock() {
            Ok(mut logs) => logs.push(records),
            Err(_) => 0,
        };
        self.shared.log_notify.notify_one();
        dropped
    }

    /// The connection state now.
    pub fn state(&self) -> ConnectionState {
        self.state.borrow().clone()
    }

    /// A receiver that sees every change of the connection state.
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// Waits until connected and returns the connection's epoch; fails with
    /// [`TransportError::Closed`] once closed.
    pub async fn connected(&self) -> Result<u64, TransportError> {
        let mut state = self.state.clone();
        loop {
            match &*state.borrow_and_update() {
                ConnectionState::Connected { epoch, .. } => return Ok(*epoch),
                ConnectionState::Closed => return Err(TransportError::Closed),
                _ => {}
            }
            state.changed().await.map_err(|_| TransportError::Closed)?;
        }
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        let mut stats = self.shared.counters.snapshot();
        let (pending, pending_bytes) = self.shared.budget.pending();
        stats.uploads_pending = pending as u64;
        stats.uploads_pending_bytes = pending_bytes as u64;
        if let Ok(logs) = self.shared.logs.lock() {
            stats.logs_dropped = logs.dropped();
            stats.logs_buffered = logs.len() as u64;
        }
        stats
    }

    /// Closes the transport for every handle: within `timeout`, writes the log records and
    /// order answers still queued, then closes TLS with close_notify. Unanswered uploads and
    /// unconfirmed log batches ([`Transport::send_logs_confirmed`]) fail with
    /// [`TransportError::Closed`]; await them before closing to keep them. Closing a
    /// closed transport does nothing.
    pub async fn close(&self, timeout: Duration) -> CloseOutcome {
        let nothing = CloseOutcome {
            flushed: true,
            logs_discarded: 0,
            uploads_abandoned: 0,
        };
        let (reply, outcome) = oneshot::channel();
        if self
            .commands
            .send(Command::Close { timeout, reply })
            .await
            .is_err()
        {
            return nothing;
        }
        outcome.await.unwrap_or(nothing)
    }
}

/// What an upload does when there is no room for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhenFull {
    Wait,
    Fail,
}

/// What takes room in the upload budget until the server answers it.
enum Work {
    /// A DATA_STREAM payload, answered by DATA_STREAM_CONFIRM or DATA_STREAM_REJECT.
    Upload(Bytes),
    /// LOGS payloads of `records` records, answered by the echo of a PING after them.
    Logs { payloads: Vec<Bytes>, records: usize },
}

impl Work {
    /// The bytes it holds.
    fn len(&self) -> usize {
        match self {
            Work::Upload(payload) => payload.len(),
            Work::Logs { payloads, .. } => payloads.iter().map(Bytes::len).sum(),
        }
    }

    fn into_command(self, reply: Reply, permit: UploadPermit) -> Command {
        match self {
            Work::Upload(payload) => Command::Upload {
                payload,
                reply,
                permit,
            },
            Work::Logs { payloads, records } => Command::Logs {
                payloads,
                records,
                reply,
                permit,
            },
        }
    }
}

/// Work's way into the driver: queued already, or to be queued once there is room.
enum Queued {
    Now(oneshot::Receiver<Result<(), TransportError>>),
    Later(Later),
}

/// Work waiting for room (its permit, when it has one already) or for the command queue.
struct Later {
    work: Work,
    permit: Option<UploadPermit>,
    commands: mpsc::Sender<Command>,
    budget: UploadBudget,
}

impl Later {
    async fn queue(self) -> Result<oneshot::Receiver<Result<(), TransportError>>, TransportError> {
        let permit = match self.permit {
            Some(permit) => permit,
            None => self.budget.reserve(self.work.len()).await?,
        };
        let (reply, answer) = oneshot::channel();
        let command = self.work.into_command(reply, permit);
        self.commands
            .send(command)
            .await
            .map_err(|_| TransportError::Closed)?;
        Ok(answer)
    }
}
