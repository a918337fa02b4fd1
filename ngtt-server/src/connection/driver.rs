//! The async driver of one identified connection: it takes over from the device's previous
//! connection, then only carries out what the pure [`Session`] decides — reads frames and feeds
//! them in, runs its operations ([`Executor`]), writes its frames, sleeps until its deadline —
//! and closes the connection when the session has ended.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::BytesMut;
use futures::StreamExt;
use ngtt_net::{write_step, WriteStep};
use ngtt_proto::{DeviceIdentity, NgttCodec};
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::time::Instant as TokioInstant;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use super::ops::{Op, OpId, Outcome, Stop};
use super::session::{Session, SessionConfig};
use super::storage_ops::Executor;
use super::{Shared, Tls};
use crate::storage::StorageError;

type Pending = Pin<Box<dyn Future<Output = (OpId, Result<Outcome, StorageError>)> + Send>>;

/// The clock the session is driven by.
fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

// Each frame is written and flushed on its own (`write_step`), so that it leaves at once in TLS
// records of its own (at most `tls_max_record` bytes of plaintext each: the Python client
// handles one frame per read and 512 bytes per wake-up, NGTT.md §8).

/// The outcome of the outstanding operation, or never when there is none.
async fn outcome(pending: &mut Option<Pending>) -> (OpId, Result<Outcome, StorageError>) {
    match pending {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

fn start(executor: &Executor, id: OpId, op: Op) -> Pending {
    let executor = executor.clone();
    Box::pin(async move { (id, executor.run(op).await) })
}

/// Serves an identified connection: takes over from the device's previous connection, then
/// drives the session until it ends, then closes.
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
    if let Some(cluster) = &shared.cluster {
        // The device's lease (several nodes): the node that held it closes its connection,
        // and no order is claimed here before it let go.
        if let Err(e) = cluster.acquire(&identity.device_id, conn).await {
            warn!("cannot take the device's lease, closing the connection: {e}");
            cluster.ended(&identity.device_id, conn).await;
            return;
        }
    }
    info!(environment = %identity.environment, "device connected");
    let limits = shared.limits;
    let mut session = Session::new(
        SessionConfig {
            max_inflight: limits.max_inflight,
            idle_timeout: limits.idle_timeout,
            write_timeout: limits.write_timeout,
            fetch_grace: limits.fetch_grace,
        },
        now(),
    );
    let executor = Executor {
        shared: Arc::clone(&shared),
        identity: Arc::new(identity),
        conn,
    };
    let stop = registration.stop.clone();
    let notify = Arc::clone(&registration.notify);
    let (reader, mut writer) = tokio::io::split(tls);
    let mut reader = FramedRead::new(reader, NgttCodec::with_max_frame_len(limits.max_frame_len));
    let mut wbuf = BytesMut::new();
    let mut dirty = false;
    let mut pending: Option<Pending> = None;
    let mut stopped = false;
    loop {
        if pending.is_none() {
            pending = session.poll_op().map(|(id, op)| start(&executor, id, op));
        }
        if !dirty {
            if let Some(frame) = session.poll_transmit(now()) {
                encode(&frame, &mut wbuf);
                dirty = true;
            }
        }
        if session.is_finished() {
            break;
        }
        let deadline = session.poll_timeout();
        let far = now() + std::time::Duration::from_secs(86_400);
        let writing = dirty && session.end().is_none();
        tokio::select! {
            biased;
            () = stop.cancelled(), if !stopped => {
                stopped = true;
                session.handle_stop(if shared.shutdown.is_cancelled() { Stop::Shutdown } else { Stop::Replaced });
            }
            (id, result) = outcome(&mut pending) => {
                pending = None;
                session.handle_stored(id, result, now());
            }
            step = write_step(&mut writer, &mut wbuf), if writing => match step {
                Ok(WriteStep::Wrote) => session.on_written(now(), false),
                Ok(WriteStep::Flushed) => {
                    dirty = false;
                    session.on_written(now(), true);
                }
                Err(e) => session.handle_write_error(e),
            },
            item = reader.next(), if session.wants_read() => match item {
                Some(Ok(frame)) => session.handle_frame(frame, now()),
                Some(Err(e)) => session.handle_read_error(e),
                None => session.handle_peer_closed(),
            },
            () = notify.notified(), if session.wants_orders() => session.handle_new_orders(),
            () = tokio::time::sleep_until(TokioInstant::from_std(deadline.unwrap_or(far))), if deadline.is_some() => {
                session.handle_timeout(now());
            }
        }
    }
    if session.end().is_some_and(|end| end.closes_cleanly()) {
        close(&mut session, &mut writer, wbuf, limits.close_timeout).await;
    }
    if let Some(cluster) = &shared.cluster {
        cluster.ended(&executor.identity.device_id, conn).await;
    }
    drop(registration);
}

fn encode(frame: &ngtt_proto::Frame, buf: &mut BytesMut) {
    if let Err(e) = ngtt_proto::encode(frame, buf) {
        warn!(error = %e, kind = %frame.kind, "cannot encode a frame: dropped");
    }
}

/// Writes what the ended session still has queued (the answer to the last frame of a stopped
/// connection), then closes the TLS session (close_notify, then TCP FIN), giving up after
/// `limit`.
async fn close(
    session: &mut Session,
    writer: &mut WriteHalf<Tls>,
    mut wbuf: BytesMut,
    limit: std::time::Duration,
) {
    let closing = async {
        loop {
            writer.write_all_buf(&mut wbuf).await?;
            writer.flush().await?;
            match session.poll_transmit(now()) {
                Some(frame) => encode(&frame, &mut wbuf),
                None => break,
            }
        }
        writer.shutdown().await
    };
    match tokio::time::timeout(limit, closing).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => debug!("closing the connection: {e}"),
        Err(_) => debug!("closing the connection timed out"),
    }
}
