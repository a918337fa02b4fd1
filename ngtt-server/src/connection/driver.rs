//! The async driver of one identified connection: it takes over from the device's previous
//! connection, then only carries out what the pure [`Session`] decides — reads frames and feeds
//! them in, runs its operations ([`Executor`]), writes its frames, sleeps until its deadline —
//! and closes the connection when the session has ended.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures::{FutureExt, StreamExt};
use ngtt_net::{write_step, WriteStep};
use ngtt_proto::{DeviceIdentity, NgttCodec};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant as TokioInstant;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use super::ops::{Op, OpId, Outcome, Stop};
use super::outbox::Outbox;
use super::session::{Session, SessionConfig};
use super::storage_ops::Executor;
use super::uploads::{MAX_UPLOADS_IN_FLIGHT, MAX_UPLOAD_BYTES_IN_FLIGHT};
use super::{Shared, Tls};
use crate::storage::StorageError;

type Pending = Pin<Box<dyn Future<Output = (OpId, Result<Outcome, StorageError>)> + Send>>;

/// The clock the session is driven by.
fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

// The frames the session has ready are written together (`write_step` of an [`Outbox`]: one
// vectored write, one system call), each in TLS records of its own (at most `tls_max_record`
// bytes of plaintext each: the Python client handles one frame per read and 512 bytes per
// wake-up, NGTT.md §8), then flushed: so they leave at once, and the DATA_STREAM_CONFIRMs of one
// group commit leave in one write instead of one each.

/// Frames taken from the session into the [`Outbox`] at once, at most: as many as one vectored
/// write takes.
const MAX_OUTBOX_FRAMES: usize = 64;

/// Frames are taken from the session only while less than this waits in the [`Outbox`]: large
/// frames (ORDERs) stay in the session, shared with their payload, rather than copied here.
const OUTBOX_LOW_WATER: usize = 16 * 1024;

/// The outcome of the first outstanding operation to end, or never when there is none.
///
/// The operations are polled in the order the session handed them out, so that each reaches
/// the storage (the writer's queue, whose waiters are served first come, first served) in that
/// order: one device's uploads commit in the order it sent them.
async fn outcome(pending: &mut VecDeque<Pending>) -> (OpId, Result<Outcome, StorageError>) {
    std::future::poll_fn(|cx| {
        for at in 0..pending.len() {
            if let Poll::Ready(done) = pending[at].as_mut().poll(cx) {
                drop(pending.remove(at));
                return Poll::Ready(done);
            }
        }
        Poll::Pending
    })
    .await
}

fn start(executor: &Executor, id: OpId, op: Op) -> Pending {
    let executor = executor.clone();
    Box::pin(async move { (id, executor.run(op).await) })
}

/// Serves an identified connection: takes over from the device's previous connection, then
/// drives the session until it ends, then closes.
pub(super) async fn run(
    shared: Arc<Shared>,
    reader: ReadHalf<Tls>,
    mut writer: WriteHalf<Tls>,
    identity: DeviceIdentity,
    conn: u64,
) {
    let (registration, replaced) = shared
        .registry
        .register(&identity.device_id, conn, &shared.shutdown);
    if let Some(old) = replaced {
        let old_conn = old.conn;
        info!(old_conn, "replacing the device's previous connection");
        // Its unanswered orders go back to the queue only once it can no longer act on them.
        Box::pin(old.stop_and_wait()).await;
        debug!(old_conn, "previous connection stopped");
    }
    if let Some(cluster) = &shared.cluster {
        // The device's lease (several nodes): the node that held it closes its connection,
        // and no order is claimed here before it let go. Its database round trips run boxed:
        // inline, their futures would set the size of this one, which every idle connection
        // keeps for as long as it lives.
        if let Err(e) = Box::pin(cluster.acquire(&identity.device_id, conn)).await {
            warn!("cannot take the device's lease, closing the connection: {e}");
            Box::pin(cluster.ended(&identity.device_id, conn)).await;
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
            decode_factor: limits.budgets.decode_factor,
            max_uploads: MAX_UPLOADS_IN_FLIGHT,
            max_upload_bytes: MAX_UPLOAD_BYTES_IN_FLIGHT,
            ping_answer_delay: limits.ping_answer_delay,
        },
        now(),
    );
    let executor = Executor {
        shared: Arc::clone(&shared),
        identity: Arc::new(identity),
        conn,
    };
    let inbox = Arc::clone(&registration.inbox);
    let mut inbox_open = false;
    // The inbox was notified of orders while the session did not take them: handed over once
    // it does.
    let mut orders_signalled = false;
    let mut reader = FramedRead::with_capacity(
        reader,
        NgttCodec::with_max_frame_len(limits.max_frame_len),
        READ_BUFFER,
    );
    let mut outbox = Outbox::default();
    let mut dirty = false;
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut stopped = false;
    // The inbox's notification (orders, stop) and the timer live across iterations: an idle
    // connection registers its wakers once instead of on every frame it handles.
    let notified = inbox.notify.notified();
    tokio::pin!(notified);
    let timer = tokio::time::sleep_until(TokioInstant::now());
    tokio::pin!(timer);
    let mut alarm = Alarm::default();
    loop {
        while let Some((id, op)) = session.poll_op() {
            pending.push_back(start(&executor, id, op));
        }
        if orders_signalled && session.wants_orders() {
            orders_signalled = false;
            let handed = inbox.take();
            if handed.is_empty() {
                session.handle_new_orders();
            } else {
                session.handle_handed_orders(handed);
            }
            continue;
        }
        if session.wants_orders() != inbox_open {
            // Orders are handed to the connection only while it takes them; closing declines
            // what was handed and not taken yet (the admin API then queues it itself).
            inbox_open = !inbox_open;
            inbox.set_open(inbox_open);
        }
        // The clock is read only when a frame is handed out: an idle connection's wake-ups
        // read it once (for the frame they handle), not once per turn.
        while session.has_transmit()
            && outbox.frames() < MAX_OUTBOX_FRAMES
            && outbox.remaining() < OUTBOX_LOW_WATER
        {
            let Some(frame) = session.poll_transmit(now()) else {
                break;
            };
            outbox.push(&frame);
            dirty = true;
        }
        if session.is_finished() {
            break;
        }
        let writing = dirty && session.end().is_none();
        if writing {
            // Written right away when the socket takes it (nearly always): the write deadline
            // the frames started is then over before the timer is set, so an idle device's PONG
            // does not move the timer earlier and back.
            if let Some(step) = write_step(&mut writer, &mut outbox).now_or_never() {
                wrote(step, &mut session, &mut outbox, &mut dirty);
                continue;
            }
        }
        let deadline = session
            .poll_timeout()
            .map(|at| on_grid(grid_origin(), at, TIMER_GRID));
        if let Some(at) = alarm.arm(deadline) {
            timer.as_mut().reset(TokioInstant::from_std(at));
        }
        tokio::select! {
            biased;
            () = &mut notified, if !stopped => {
                notified.set(inbox.notify.notified());
                if inbox.is_stopped() {
                    stopped = true;
                    session.handle_stop(if shared.shutdown.is_cancelled() { Stop::Shutdown } else { Stop::Replaced });
                } else {
                    orders_signalled = true;
                }
            }
            (id, result) = outcome(&mut pending), if !pending.is_empty() => {
                session.handle_stored(id, result, now());
            }
            step = write_step(&mut writer, &mut outbox), if writing => {
                wrote(step, &mut session, &mut outbox, &mut dirty);
            }
            item = reader.next(), if session.wants_read() => {
                let mut item = Some(item);
                let mut frames = 0;
                // The frames already received are handled in this turn, while the session
                // reads (pipelined uploads): their operations start together.
                while let Some(next) = item.take() {
                    match next {
                        Some(Ok(frame)) => {
                            shrink(reader.read_buffer_mut(), READ_BUFFER);
                            session.handle_frame(frame, now());
                            frames += 1;
                            if frames < MAX_FRAMES_PER_TURN && session.wants_read() {
                                item = reader.next().now_or_never();
                            }
                        }
                        Some(Err(e)) => session.handle_read_error(e),
                        None => session.handle_peer_closed(),
                    }
                }
            }
            () = &mut timer, if alarm.is_armed() => {
                alarm.fired();
                session.handle_timeout(now());
            }
        }
    }
    // Boxed, like the lease's calls above: only while the connection ends.
    if session.end().is_some_and(|end| end.closes_cleanly()) {
        Box::pin(close(&mut session, &mut writer, outbox, limits.close_timeout)).await;
    }
    if let Some(cluster) = &shared.cluster {
        Box::pin(cluster.ended(&executor.identity.device_id, conn)).await;
    }
    drop(registration);
}

/// Tells the session what a write step of the [`Outbox`] did.
fn wrote(step: std::io::Result<WriteStep>, session: &mut Session, outbox: &mut Outbox, dirty: &mut bool) {
    match step {
        Ok(WriteStep::Wrote) => session.on_written(now(), false),
        Ok(WriteStep::Flushed) => {
            *dirty = false;
            shrink(outbox.bytes_mut(), 0);
            session.on_written(now(), true);
        }
        Err(e) => session.handle_write_error(e),
    }
}

/// The step of the grid the connections' timers are set on (see [`on_grid`]).
///
/// An idle fleet's held PING answers (docs/operations.md, "Protocol behaviour in brief") fall
/// due spread over the whole period, one per device: without the grid each one woke the runtime
/// by itself, and the wake-up cost more than the answer (measured with `ngtt bench fleet` at
/// 19 900 devices whose keepalives were spread: 1.6 s of CPU per idle minute; 0.66 s on a grid
/// of 50 ms, 0.46 s on 200 ms; docs/benchmarks.md, "Spread keepalives"). On the grid, the
/// answers due within one step go out in one turn, and the devices' next PINGs, which follow
/// their answers, come back together too. A timer fires at most one step late; the session's
/// deadlines (write and idle timeouts, the FETCH_ORDERS grace, held answers) are a second or
/// more. The price: an order that arrives while a step's batch goes out waits for it (about 66
/// answers at 19 900 devices; docs/benchmarks.md, "The timer grid's price"); a finer grid makes
/// the batch lighter and costs idle CPU.
const TIMER_GRID: Duration = Duration::from_millis(200);

/// Where the grid starts: the first time a connection asks.
fn grid_origin() -> std::time::Instant {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

/// `at`, moved later to the next point of the grid of `step` from `origin` (unchanged when on
/// it, or before `origin`): deadlines within one step fall on the same instant, and timers set
/// for the same instant fire in the same turn of the runtime (timer coalescing, as the kernel's
/// timer slack does).
fn on_grid(origin: std::time::Instant, at: std::time::Instant, step: Duration) -> std::time::Instant {
    let (Some(since), Ok(step_ns)) = (at.checked_duration_since(origin), u64::try_from(step.as_nanos()))
    else {
        return at;
    };
    let rest = u64::try_from(since.as_nanos() % u128::from(step_ns.max(1))).unwrap_or(0);
    if rest == 0 {
        at
    } else {
        at + Duration::from_nanos(step_ns - rest)
    }
}

/// When the connection's timer is set for: it follows the session's deadline. Tokio makes
/// following a deadline that moved later cheap (an atomic store; the timer wheel re-files the
/// entry when its old instant comes, without waking the task), so an idle device's frames (a
/// PING every 30 s, each restarting the idle clock) never wake the connection for a timeout that
/// is not due. (Leaving the timer at the earlier instant instead, as this driver once did, woke
/// every idle connection once per idle timeout for nothing.)
#[derive(Debug, Default)]
struct Alarm {
    at: Option<std::time::Instant>,
}

impl Alarm {
    /// For the session's next `deadline`: the instant to set the timer to, when it changed.
    fn arm(&mut self, deadline: Option<std::time::Instant>) -> Option<std::time::Instant> {
        let deadline = deadline?;
        if self.at == Some(deadline) {
            return None;
        }
        self.at = Some(deadline);
        self.at
    }

    /// Whether the timer is set.
    fn is_armed(&self) -> bool {
        self.at.is_some()
    }

    /// The timer fired: it is set again at the next [`Alarm::arm`].
    fn fired(&mut self) {
        self.at = None;
    }
}

/// Frames handled in one turn of the driver's loop, at most (see the reading branch).
const MAX_FRAMES_PER_TURN: usize = 64;

/// The read buffer a connection starts with: an idle device's frames (PING, ORDER_CONFIRM) fit
/// in it; it grows for a larger frame (the codec reserves what a frame needs once its header
/// arrived) and [`shrink`] gives that back.
const READ_BUFFER: usize = 256;

/// Buffers above this capacity are released once empty, so that one large frame does not stay
/// allocated for the rest of a connection (thousands of idle connections each keeping their
/// largest frame's buffer add up).
const KEEP_BUFFER: usize = 4096;

/// Replaces `buf` by one of `capacity` when it is empty and larger than [`KEEP_BUFFER`].
fn shrink(buf: &mut BytesMut, capacity: usize) {
    if buf.is_empty() && buf.capacity() > KEEP_BUFFER {
        *buf = BytesMut::with_capacity(capacity);
    }
}

/// Writes what the ended session still has queued (the answer to the last frame of a stopped
/// connection), then closes the TLS session (close_notify, then TCP FIN), giving up after
/// `limit`.
async fn close(session: &mut Session, writer: &mut WriteHalf<Tls>, mut outbox: Outbox, limit: Duration) {
    let closing = async {
        loop {
            writer.write_all_buf(&mut outbox).await?;
            writer.flush().await?;
            match session.poll_transmit(now()) {
                Some(frame) => outbox.push(&frame),
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::BytesMut;

    use super::{on_grid, shrink, Alarm, KEEP_BUFFER};

    /// The size of the future `f` returns, without calling it.
    fn future_size<F, Fut>(_: F) -> usize
    where
        F: FnOnce(
            std::sync::Arc<super::Shared>,
            tokio::io::ReadHalf<super::Tls>,
            tokio::io::WriteHalf<super::Tls>,
            ngtt_proto::DeviceIdentity,
            u64,
        ) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    /// Every idle connection keeps this future for as long as it lives: an await of a large
    /// future inline (the cluster's database calls were 2 KiB) would grow all of them.
    #[test]
    fn the_driver_future_stays_small() {
        let size = future_size(super::run);
        assert!(size <= 2048, "the connection driver's future takes {size} bytes");
    }

    #[test]
    fn deadlines_within_one_step_of_the_grid_fall_on_the_same_instant() {
        let origin = Instant::now();
        let ms = Duration::from_millis(1);
        let step = 50 * ms;
        assert_eq!(
            on_grid(origin, origin + 100 * ms, step),
            origin + 100 * ms,
            "on it"
        );
        for late in [101, 120, 149, 150] {
            assert_eq!(
                on_grid(origin, origin + late * ms, step),
                origin + 150 * ms,
                "{late} ms"
            );
        }
        let just_after = origin + 150 * ms + Duration::from_nanos(1);
        assert_eq!(on_grid(origin, just_after, step), origin + 200 * ms);
        // Never earlier, never a whole step late.
        for n in 0..1000u32 {
            let at = origin + Duration::from_micros(u64::from(n) * 137);
            let moved = on_grid(origin, at, step);
            assert!(moved >= at && moved - at < step, "{n}");
        }
        // Before the origin (an instant from before the grid started): unchanged.
        let before = origin.checked_sub(ms).expect("an instant before");
        assert_eq!(on_grid(origin, before, step), before);
    }

    #[test]
    fn the_alarm_follows_the_deadline_and_is_set_again_after_firing() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut alarm = Alarm::default();
        assert_eq!(alarm.arm(None), None);
        assert!(!alarm.is_armed());
        assert_eq!(alarm.arm(Some(t0 + 120 * s)), Some(t0 + 120 * s));
        assert_eq!(alarm.arm(Some(t0 + 120 * s)), None, "unchanged: left");
        assert_eq!(
            alarm.arm(Some(t0 + 150 * s)),
            Some(t0 + 150 * s),
            "later (a ping): moved"
        );
        assert_eq!(alarm.arm(Some(t0 + 90 * s)), Some(t0 + 90 * s), "earlier: moved");
        assert!(alarm.is_armed());
        alarm.fired();
        assert!(!alarm.is_armed());
        assert_eq!(alarm.arm(Some(t0 + 150 * s)), Some(t0 + 150 * s));
    }

    #[test]
    fn only_large_empty_buffers_are_released() {
        let mut small = BytesMut::with_capacity(KEEP_BUFFER);
        shrink(&mut small, 0);
        assert_eq!(small.capacity(), KEEP_BUFFER);
        let mut large = BytesMut::with_capacity(64 * 1024);
        large.extend_from_slice(b"x");
        shrink(&mut large, 0);
        assert!(large.capacity() > KEEP_BUFFER, "not while it holds data");
        large.clear();
        shrink(&mut large, 256);
        assert!(large.capacity() < KEEP_BUFFER);
    }
}
