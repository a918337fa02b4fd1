//! The background task: connects, backs off, and runs the [`Session`] over each connection.
//!
//! This is the only place that does I/O and reads the clock. It keeps the session fed and
//! turns session events into answers for the handles.

mod link;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tracing::{info, warn, Instrument};

use crate::backoff::Backoff;
use crate::budget::{UploadBudget, UploadPermit};
use crate::config::Config;
use crate::error::TransportError;
use crate::io::CountingIo;
use crate::logbuf::LogBuffer;
use crate::orders::ReceivedOrder;
use crate::resolve::Resolve;
use crate::servers::{Rotation, ServerAddr, Step, Target, MAX_TARGETS};
use crate::session::{LogsId, Session, SessionConfig, UploadId};
use crate::state::{ConnectionState, Counters};
use crate::tls::TlsSetup;
use crate::transport::CloseOutcome;

/// The TLS stream of one connection.
pub(crate) type Stream = TlsStream<CountingIo<TcpStream>>;

/// Bound of the queue of commands from the handles to the background task. A handle whose
/// command finds it full waits (uploads are bounded by [`crate::UploadLimits`] before they get
/// here, answers by `max_open_orders`); the task empties it at every turn of its loop.
pub(crate) const COMMAND_QUEUE: usize = 64;

/// A reply channel for an operation that succeeds or fails.
pub(crate) type Reply = oneshot::Sender<Result<(), TransportError>>;

/// What the handles ask of the background task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Upload a MiniJSON list of pathpoint series; answered on CONFIRM or REJECT. The permit
    /// holds its room in the upload budget until then.
    Upload {
        payload: Bytes,
        reply: Reply,
        permit: UploadPermit,
    },
    /// Send LOGS payloads of `records` records; answered once the server provably read them
    /// (`Session::send_logs_confirmed`). The permit holds their room until then.
    Logs {
        payloads: Vec<Bytes>,
        records: usize,
        reply: Reply,
        permit: UploadPermit,
    },
    /// Answer an order; answered once the frame is written, or with `ConnectionLost`.
    Answer {
        epoch: u64,
        tid: u16,
        confirm: bool,
        reply: Reply,
    },
    /// Send a SYNC_BAOB_REQUEST; answered with the response's payload, or `ConnectionLost`.
    SyncBaob {
        payload: Bytes,
        reply: oneshot::Sender<Result<Bytes, TransportError>>,
    },
    /// Flush what can be flushed within `timeout`, then close.
    Close {
        timeout: Duration,
        reply: oneshot::Sender<CloseOutcome>,
    },
}

/// A close in progress.
#[derive(Debug)]
struct Closing {
    deadline: Instant,
    replies: Vec<oneshot::Sender<CloseOutcome>>,
}

/// What the background task shares with the handles.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub logs: Arc<Mutex<LogBuffer>>,
    pub log_notify: Arc<Notify>,
    pub counters: Arc<Counters>,
    pub live_epoch: Arc<AtomicU64>,
    pub budget: UploadBudget,
}

/// The background task's state.
pub(crate) struct Driver {
    config: Config,
    tls: TlsSetup,
    session: Session,
    backoff: Backoff,
    /// Which server address to try next.
    rotation: Rotation,
    /// The addresses of the current round (the servers resolved when it began).
    targets: Vec<Target>,
    commands: mpsc::Receiver<Command>,
    /// Given to received orders; weak so that dropping every handle closes the transport.
    command_sender: mpsc::WeakSender<Command>,
    /// Bounded by `max_open_orders`, as the session's open orders are.
    orders: mpsc::Sender<ReceivedOrder>,
    state: watch::Sender<ConnectionState>,
    shared: Shared,
    uploads: HashMap<UploadId, (Reply, UploadPermit)>,
    /// Log batches awaiting their proof: their replies, permits and record counts.
    log_batches: HashMap<LogsId, (Reply, UploadPermit, usize)>,
    /// SYNC_BAOB_REQUESTs of the current connection awaiting their answer.
    baob_requests: HashMap<u64, oneshot::Sender<Result<Bytes, TransportError>>>,
    /// Connection attempts that failed since the last established connection (or the start):
    /// the next attempt is number `failed_attempts + 1`.
    failed_attempts: u32,
    /// Answers written to the connection, waiting for the flush that sends them.
    flush_waiters: Vec<Reply>,
    closing: Option<Closing>,
}

/// Tokio's clock (pausable in tests) as a std `Instant` for the pure parts.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        tls: TlsSetup,
        commands: mpsc::Receiver<Command>,
        command_sender: mpsc::WeakSender<Command>,
        orders: mpsc::Sender<ReceivedOrder>,
        state: watch::Sender<ConnectionState>,
        shared: Shared,
    ) -> Self {
        let session = Session::new(SessionConfig {
            timings: config.timings,
            fetch_orders: config.fetch_orders,
            max_open_orders: config.max_open_orders,
            max_frame_len: config.max_frame_len,
        });
        Driver {
            backoff: Backoff::new(config.backoff),
            rotation: Rotation::new(),
            targets: Vec::new(),
            config,
            tls,
            session,
            commands,
            command_sender,
            orders,
            state,
            shared,
            uploads: HashMap::new(),
            log_batches: HashMap::new(),
            baob_requests: HashMap::new(),
            failed_attempts: 0,
            flush_waiters: Vec::new(),
            closing: None,
        }
    }

    /// Connects, runs connections and backs off until closed: every server address of a round
    /// is tried in turn (see [`Rotation`]), and the backoff delay comes only after all of them
    /// failed.
    pub async fn run(mut self) {
        loop {
            let attempt = self.failed_attempts + 1;
            self.state.send_replace(ConnectionState::Connecting { attempt });
            if self.rotation.round_over() {
                let Some(resolved) = self
                    .serve_while(resolve(
                        Arc::clone(&self.config.resolver),
                        self.config.servers.clone(),
                        self.config.timings.connect_timeout,
                    ))
                    .await
                else {
                    return self.finish(false);
                };
                self.targets = Target::list(&resolved.0);
                self.rotation.begin_round(self.targets.len());
                if self.targets.is_empty() {
                    let error = resolved.1.unwrap_or_else(|| TransportError::Resolve {
                        server: self.config.addr(),
                        source: io::Error::other("no address"),
                    });
                    self.failed_attempts = self.failed_attempts.saturating_add(1);
                    if !self.back_off(error).await {
                        return self.finish(false);
                    }
                    continue;
                }
            }
            let Some(target) = self.rotation.current().and_then(|i| self.targets.get(i).copied()) else {
                continue; // a round with no address: begin a new one
            };
            let error = match self.connect(target).await {
                None => return self.finish(false),
                Some(Ok(stream)) => {
                    self.failed_attempts = 0;
                    self.rotation.connected();
                    let span = tracing::info_span!(
                        "connection",
                        epoch = tracing::field::Empty,
                        server = %target.addr
                    );
                    match self.run_link(stream, target.addr).instrument(span).await {
                        Ok(flushed) => return self.finish(flushed),
                        Err(e) => e,
                    }
                }
                Some(Err(e)) => {
                    self.failed_attempts = self.failed_attempts.saturating_add(1);
                    e
                }
            };
            match self.rotation.failed() {
                Step::TryNext => {
                    warn!(error = %error, server = %target.addr, "no link to this server: trying the next one");
                }
                Step::BackOff => {
                    if !self.back_off(error).await {
                        return self.finish(false);
                    }
                }
            }
        }
    }

    /// Waits for the backoff delay after `error`, serving commands; false when a close was
    /// asked.
    async fn back_off(&mut self, error: TransportError) -> bool {
        let until = self.backoff.next_deadline(now());
        warn!(error = %error, retry_in = ?until.saturating_duration_since(now()), "no link to any server");
        self.state.send_replace(ConnectionState::Backoff {
            until,
            attempt: self.backoff.failures(),
            last_error: Arc::new(error),
        });
        self.wait_until(until).await
    }

    /// One connection attempt to `target`, serving commands meanwhile; `None` when a close was
    /// asked.
    async fn connect(&mut self, target: Target) -> Option<Result<Stream, TransportError>> {
        let server_name = self.tls.server_names.get(target.server).cloned()?;
        let attempt = connect_tls(
            target.addr,
            TlsConnector::from(self.tls.client.clone()),
            server_name,
            self.shared.counters.clone(),
            self.config.timings.connect_timeout,
        );
        self.serve_while(attempt).await
    }

    /// Runs `work` to its end while serving commands; `None` when a close was asked first.
    async fn serve_while<F: Future>(&mut self, work: F) -> Option<F::Output> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                result = &mut work => return Some(result),
                command = self.commands.recv() => if !self.offline_command(command) {
                    return None;
                },
            }
        }
    }

    /// Waits until `until`, serving commands; false when a close was asked.
    async fn wait_until(&mut self, until: Instant) -> bool {
        let sleep = tokio::time::sleep_until(until.into());
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                command = self.commands.recv() => if !self.offline_command(command) {
                    return false;
                },
            }
        }
    }

    /// Serves a command while disconnected; false when it asks to close.
    fn offline_command(&mut self, command: Option<Command>) -> bool {
        match command {
            Some(Command::Upload {
                payload,
                reply,
                permit,
            }) => {
                let id = self.session.upload(payload);
                self.uploads.insert(id, (reply, permit));
                true
            }
            Some(Command::Logs {
                payloads,
                records,
                reply,
                permit,
            }) => {
                self.send_logs_confirmed(payloads, records, reply, permit);
                true
            }
            Some(Command::Answer { reply, .. }) => {
                let _ = reply.send(Err(TransportError::ConnectionLost));
                true
            }
            Some(Command::SyncBaob { reply, .. }) => {
                let _ = reply.send(Err(TransportError::ConnectionLost));
                true
            }
            Some(Command::Close { timeout, reply }) => {
                self.begin_close(timeout, Some(reply));
                false
            }
            None => {
                self.begin_close(self.config.close_timeout, None);
                false
            }
        }
    }

    /// Hands a log batch to the session, keeping its reply until the proof.
    fn send_logs_confirmed(
        &mut self,
        payloads: Vec<Bytes>,
        records: usize,
        reply: Reply,
        permit: UploadPermit,
    ) {
        let id = self.session.send_logs_confirmed(payloads, now());
        self.log_batches.insert(id, (reply, permit, records));
    }

    fn begin_close(&mut self, timeout: Duration, reply: Option<oneshot::Sender<CloseOutcome>>) {
        let deadline = now() + timeout;
        let closing = self.closing.get_or_insert(Closing {
            deadline,
            replies: Vec::new(),
        });
        closing.deadline = closing.deadline.min(deadline);
        closing.replies.extend(reply);
    }

    /// Ends the task: everything still waiting is answered, the state becomes Closed.
    fn finish(mut self, flushed: bool) {
        self.commands.close();
        self.shared.budget.close();
        let mut replies = self.closing.take().map(|c| c.replies).unwrap_or_default();
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Upload { reply, .. }
                | Command::Logs { reply, .. }
                | Command::Answer { reply, .. } => {
                    let _ = reply.send(Err(TransportError::Closed));
                }
                Command::SyncBaob { reply, .. } => {
                    let _ = reply.send(Err(TransportError::Closed));
                }
                Command::Close { reply, .. } => replies.push(reply),
            }
        }
        for reply in self.flush_waiters.drain(..) {
            let _ = reply.send(Err(TransportError::ConnectionLost));
        }
        let uploads_abandoned = self.uploads.len();
        for (_, (reply, _permit)) in self.uploads.drain() {
            let _ = reply.send(Err(TransportError::Closed));
        }
        for (_, (reply, _permit, _)) in self.log_batches.drain() {
            let _ = reply.send(Err(TransportError::Closed));
        }
        let logs_discarded = self.shared.logs.lock().map_or(0, |mut logs| logs.clear());
        let outcome = CloseOutcome {
            flushed,
            logs_discarded,
            uploads_abandoned,
        };
        info!(?outcome, "transport closed");
        self.state.send_replace(ConnectionState::Closed);
        for reply in replies {
            let _ = reply.send(outcome);
        }
    }
}

/// Resolves every server with `resolver`, in order, each within `timeout`: the addresses of
/// each (empty when its name did not resolve; at most [`MAX_TARGETS`] kept), and the last
/// resolution error if any.
async fn resolve(
    resolver: Arc<dyn Resolve>,
    servers: Vec<ServerAddr>,
    timeout: Duration,
) -> (Vec<Vec<SocketAddr>>, Option<TransportError>) {
    let mut resolved = Vec::with_capacity(servers.len());
    let mut error = None;
    for server in &servers {
        let lookup = tokio::time::timeout(timeout, resolver.resolve(server))
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "name resolution timed out",
                ))
            });
        match lookup {
            Ok(mut addrs) => {
                addrs.truncate(MAX_TARGETS);
                if addrs.is_empty() {
                    error = Some(TransportError::Resolve {
                        server: server.to_string(),
                        source: io::Error::other("no address"),
                    });
                }
                resolved.push(addrs);
            }
            Err(source) => {
                warn!(error = %source, server = %server, "cannot resolve a server address");
                error = Some(TransportError::Resolve {
                    server: server.to_string(),
                    source,
                });
                resolved.push(Vec::new());
            }
        }
    }
    (resolved, error)
}

/// TCP connect and TLS handshake, within `timeout`.
async fn connect_tls(
    addr: SocketAddr,
    connector: TlsConnector,
    server_name: rustls_pki_types::ServerName<'static>,
    counters: Arc<Counters>,
    timeout: Duration,
) -> Result<Stream, TransportError> {
    let attempt = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| TransportError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        // Frames are small and latency matters more than packet count.
        let _ = tcp.set_nodelay(true);
        connector
            .connect(server_name, CountingIo::new(tcp, counters))
            .await
            .map_err(|source| TransportError::Handshake {
                addr: addr.to_string(),
                source,
            })
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(TransportError::ConnectTimeout {
            addr: addr.to_string(),
            after: timeout,
        }),
    }
}
