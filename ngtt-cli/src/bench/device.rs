//! One simulated device of `ngtt bench fleet`: a raw NGTT session (ngtt-proto frames over
//! tokio-rustls) or a raw MQTT 3.1.1 session ([`super::mqtt`]), both reconnecting after a loss.
//!
//! An NGTT device sends FETCH_ORDERS after the handshake, confirms every ORDER at once, answers
//! the server's PINGs and sends its own every 30 s of silence, sends the uploads it is asked for
//! ([`super::upload`]) and sends again those unanswered when a connection drops, as
//! `ngtt-transport` does. With several server nodes it knows them all, its home node first
//! (device `idx`'s home is `idx % nodes`), and moves to the next one at once when a connection
//! fails or drops, waiting its backoff only when every node failed in a row — the rule of
//! `ngtt_transport::Rotation`, which it uses. What the orchestrator needs to know goes out as
//! [`Event`]s.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use ngtt_proto::{Frame, FrameType};
use ngtt_transport::{Rotation, Step};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::TlsConnector;

use super::upload::{Answer, UploadJob, Uploads};
use super::wire::{self, Counters};

/// Seconds of silence after which a device sends a keepalive (NGTT PING or MQTT PINGREQ).
pub const KEEPALIVE: Duration = Duration::from_secs(30);

/// Marker in an order's path carrying the orchestrator's sequence number (12 digits).
pub const ORDER_MARKER: &[u8] = b"fleet#";

/// A device's first backoff delay after its connection dropped and every node failed.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(100);

/// The longest backoff delay (doubling from [`BACKOFF_FIRST`] while attempts fail).
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// What a device reports.
#[derive(Debug)]
pub enum Event {
    /// Device `idx` is connected (handshake done) to node `node`, at this time (ns since the
    /// epoch).
    Up(usize, usize, u128),
    /// Device `idx` lost its connection.
    Down(usize),
    /// Device `idx` received and confirmed the order with this sequence number, at this time
    /// (ns since the epoch).
    Order(usize, u64, u128),
    /// A keepalive was answered.
    Pong,
    /// Device `idx` had every upload it owed answered, at this time: so far `confirmed` were
    /// confirmed and `rejected` rejected.
    Uploaded(usize, u64, u64, u128),
}

/// The home node of device `idx` among `nodes`: the first it tries.
pub fn home_node(idx: usize, nodes: usize) -> usize {
    idx % nodes.max(1)
}

/// What every device of a worker shares.
pub struct Shared {
    /// Where the server nodes (or the broker) listen.
    pub servers: Vec<SocketAddr>,
    /// The first local address the devices connect from.
    pub source: IpAddr,
    /// How many consecutive addresses from `source` the devices are spread over (a fleet comes
    /// from many addresses; the server limits handshakes in progress per address).
    pub sources: u32,
    /// Bytes on the wire of all devices.
    pub counters: Arc<Counters>,
    /// Limits the TLS handshakes in progress at once.
    pub handshakes: Semaphore,
    /// Events to the worker's writer.
    pub events: mpsc::UnboundedSender<Event>,
    /// Bumped when the orchestrator asks every device to send a keepalive now.
    pub ping_now: watch::Receiver<u64>,
    /// The orchestrator's latest upload job.
    pub uploads: watch::Receiver<UploadJob>,
}

/// Nanoseconds since the Unix epoch (comparable between the bench's processes).
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// When a device that wrote at `now` sends its next keepalive: [`KEEPALIVE`] later, as
/// NGTT.md §4.6 says, unless `spread` — after connecting, and after a keepalive the bench
/// commanded of every device at once (to count one exchange's bytes) — when it goes at a random
/// point of the next interval instead. Without that the command would leave the whole fleet
/// sending its keepalives in the same instant every 30 s from then on: a burst of 19 900
/// exchanges that no real fleet makes, through which every later phase would be measured.
pub fn next_keepalive(now: tokio::time::Instant, spread: bool, jitter: &mut Jitter) -> tokio::time::Instant {
    if spread {
        now + jitter.below(KEEPALIVE) + Duration::from_secs(1)
    } else {
        now + KEEPALIVE
    }
}

/// A small xorshift generator for jitter, seeded per device.
pub struct Jitter(u64);

impl Jitter {
    /// A generator seeded with `seed`.
    pub fn new(seed: usize) -> Jitter {
        Jitter((seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A duration uniformly in `[0, max)`, to the nanosecond.
    pub fn below(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX).max(1);
        Duration::from_nanos(self.0 % nanos)
    }
}

/// Which protocol a device speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// NGTT frames.
    Ngtt,
    /// MQTT 3.1.1 with keepalive [`KEEPALIVE`].
    Mqtt,
}

/// Runs device `idx` until the process ends: connect, serve, move to the next node or back off.
pub async fn run(shared: Arc<Shared>, idx: usize, tls: Arc<ClientConfig>, protocol: Protocol) {
    let mut jitter = Jitter::new(idx);
    let mut backoff = BACKOFF_FIRST;
    let nodes = shared.servers.len().max(1);
    let home = home_node(idx, nodes);
    let mut rotation = Rotation::new();
    let mut uploads = Uploads::default();
    let mut jobs = shared.uploads.clone();
    loop {
        if rotation.round_over() {
            rotation.begin_round(nodes);
        }
        let node = (home + rotation.current().unwrap_or(0)) % nodes;
        let outcome = match protocol {
            Protocol::Ngtt => {
                let mut device = Device {
                    shared: &shared,
                    idx,
                    node,
                    uploads: &mut uploads,
                    jobs: &mut jobs,
                };
                ngtt_session(&mut device, &tls, &mut jitter).await
            }
            Protocol::Mqtt => super::mqtt::mqtt_session(&shared, idx, &tls, &mut jitter).await,
        };
        uploads.connection_lost();
        if outcome.was_up {
            let _ = shared.events.send(Event::Down(idx));
            backoff = BACKOFF_FIRST;
            rotation.connected();
        }
        if rotation.failed() == Step::BackOff {
            if !outcome.was_up {
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            // Half fixed, half random: a storm of reconnections spreads over the backoff.
            tokio::time::sleep(backoff / 2 + jitter.below(backoff / 2)).await;
        }
    }
}

/// How a session ended.
pub struct Outcome {
    /// Whether the device was connected (handshake done) before it ended.
    pub was_up: bool,
}

/// One NGTT device's state across its connections.
struct Device<'a> {
    shared: &'a Shared,
    idx: usize,
    /// The node of this connection.
    node: usize,
    uploads: &'a mut Uploads,
    jobs: &'a mut watch::Receiver<UploadJob>,
}

type Tls = tokio_rustls::client::TlsStream<wire::Counted>;

/// The source address of device `idx`: the `idx % sources`-th after `first` (IPv4).
pub fn source_of(first: IpAddr, sources: u32, idx: usize) -> IpAddr {
    match first {
        IpAddr::V4(v4) if sources > 1 => {
            let offset = (idx % sources as usize) as u32;
            IpAddr::V4(u32::from(v4).wrapping_add(offset).into())
        }
        other => other,
    }
}

/// Connects device `idx` to `server` and completes the TLS handshake.
pub async fn handshake(
    shared: &Shared,
    idx: usize,
    server: SocketAddr,
    tls: &Arc<ClientConfig>,
) -> Option<Tls> {
    let _permit = shared.handshakes.acquire().await.ok()?;
    let source = source_of(shared.source, shared.sources, idx);
    let tcp = tokio::time::timeout(
        Duration::from_secs(10),
        wire::connect(source, server, shared.counters.clone()),
    )
    .await
    .ok()?
    .ok()?;
    let name = ServerName::IpAddress(server.ip().into());
    tokio::time::timeout(
        Duration::from_secs(10),
        TlsConnector::from(tls.clone()).connect(name, tcp),
    )
    .await
    .ok()?
    .ok()
}

/// The sequence number in an ORDER payload, after [`ORDER_MARKER`].
pub fn order_seq(payload: &[u8]) -> Option<u64> {
    let at = payload
        .windows(ORDER_MARKER.len())
        .position(|w| w == ORDER_MARKER)?
        + ORDER_MARKER.len();
    let digits = payload.get(at..at + 12)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

async fn ngtt_session(d: &mut Device<'_>, tls: &Arc<ClientConfig>, jitter: &mut Jitter) -> Outcome {
    let down = Outcome { was_up: false };
    let shared = d.shared;
    let Some(mut stream) = handshake(shared, d.idx, shared.servers[d.node], tls).await else {
        return down;
    };
    let mut out = BytesMut::new();
    if ngtt_proto::encode(&Frame::fetch_orders(), &mut out).is_err() || stream.write_all(&out).await.is_err()
    {
        return down;
    }
    let _ = shared.events.send(Event::Up(d.idx, d.node, now_nanos()));
    let up = Outcome { was_up: true };
    let mut ping_now = shared.ping_now.clone();
    ping_now.mark_unchanged();
    let mut buf = BytesMut::with_capacity(512);
    let mut pings_out = 0u32;
    // The first keepalive at a random point of the interval, so that the fleet's spread out.
    let mut keepalive = next_keepalive(tokio::time::Instant::now(), true, jitter);
    // The keepalive being written was commanded: the next one is spread out again.
    let mut commanded = false;
    // What is owed from before (a job taken while disconnected, or uploads in flight when the
    // last connection dropped) goes out at once, with the FETCH_ORDERS already written.
    if d.jobs.has_changed().unwrap_or(false) {
        let job = d.jobs.borrow_and_update().clone();
        d.uploads.take(&job, d.idx);
    }
    out.clear();
    loop {
        let now_ms = (now_nanos() / 1_000_000) as u64;
        while let Some(upload) = d.uploads.next(d.idx, now_ms) {
            if ngtt_proto::encode(&upload, &mut out).is_err() {
                return up;
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
                return up;
            }
            keepalive = next_keepalive(
                tokio::time::Instant::now(),
                std::mem::take(&mut commanded),
                jitter,
            );
            out.clear();
        }
        tokio::select! {
            read = stream.read_buf(&mut buf) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return up;
                }
                loop {
                    match ngtt_proto::decode(&mut buf, 1 << 20) {
                        Ok(Some(frame)) => {
                            if let Some(reply) = on_frame(d, &frame, &mut pings_out) {
                                if ngtt_proto::encode(&reply, &mut out).is_err() {
                                    return up;
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(_) => return up,
                    }
                }
            }
            // As NGTT.md §4.6 says a device does: 30 s after its last write, and only with no
            // ping outstanding (a server holding its answers sets the pace).
            _ = tokio::time::sleep_until(keepalive), if pings_out == 0 => {
                pings_out += 1;
                let _ = ngtt_proto::encode(&Frame::ping(0), &mut out);
            }
            changed = ping_now.changed() => {
                if changed.is_err() {
                    return up;
                }
                pings_out += 1;
                commanded = true;
                let _ = ngtt_proto::encode(&Frame::ping(0), &mut out);
            }
            changed = d.jobs.changed() => {
                if changed.is_err() {
                    return up;
                }
                let job = d.jobs.borrow_and_update().clone();
                d.uploads.take(&job, d.idx);
            }
        }
    }
}

/// What an NGTT device answers to `frame`.
fn on_frame(d: &mut Device<'_>, frame: &Frame, pings_out: &mut u32) -> Option<Frame> {
    let events = &d.shared.events;
    match frame.kind {
        FrameType::Order => {
            let seq = order_seq(&frame.payload).unwrap_or(u64::MAX);
            let reply = Frame::order_confirm(frame.tid);
            let _ = events.send(Event::Order(d.idx, seq, now_nanos()));
            Some(reply)
        }
        FrameType::Ping if *pings_out > 0 => {
            *pings_out -= 1;
            let _ = events.send(Event::Pong);
            None
        }
        FrameType::Ping => Some(Frame::ping(frame.tid)),
        FrameType::DataStreamConfirm | FrameType::DataStreamReject => {
            let confirmed = frame.kind == FrameType::DataStreamConfirm;
            if d.uploads.answer(frame.tid, confirmed) == Answer::Done {
                let (c, r) = (d.uploads.confirmed, d.uploads.rejected);
                let _ = events.send(Event::Uploaded(d.idx, c, r, now_nanos()));
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commanded_keepalive_leaves_the_fleet_spread_over_the_interval() {
        let now = tokio::time::Instant::now();
        let mut second_buckets = [0usize; 32];
        for idx in 0..1000 {
            let mut jitter = Jitter::new(idx);
            // Each device's own keepalive: the full interval after its last write.
            assert_eq!(next_keepalive(now, false, &mut jitter), now + KEEPALIVE);
            // After the command every device wrote at `now`; the next keepalives spread out.
            let next = next_keepalive(now, true, &mut jitter) - now;
            assert!(next >= Duration::from_secs(1) && next < KEEPALIVE + Duration::from_secs(1));
            second_buckets[next.as_secs() as usize] += 1;
        }
        // 1 000 devices over 30 one-second buckets: about 33 each, none holding a burst.
        let fullest = second_buckets.iter().max().copied().unwrap_or(0);
        assert!(fullest < 70, "{second_buckets:?}");
        assert_eq!(
            second_buckets[1..31].iter().filter(|n| **n == 0).count(),
            0,
            "{second_buckets:?}"
        );
    }

    #[test]
    fn jitter_covers_a_short_slot_finer_than_a_millisecond() {
        // The paced orders' instants within their 10 ms slots (phase_orders.rs): every tenth of
        // the slot is used, and not on a millisecond grid.
        let slot = Duration::from_millis(10);
        let mut jitter = Jitter::new(0x0DE5);
        let mut tenths = [0usize; 10];
        let mut off_the_millisecond = 0;
        for _ in 0..1000 {
            let at = jitter.below(slot);
            assert!(at < slot);
            tenths[(at.as_micros() / 1000) as usize] += 1;
            off_the_millisecond += usize::from(at.subsec_nanos() % 1_000_000 != 0);
        }
        assert!(tenths.iter().all(|n| (50..150).contains(n)), "{tenths:?}");
        assert!(off_the_millisecond > 990);
    }

    #[test]
    fn order_sequence_is_found_in_a_payload() {
        assert_eq!(order_seq(b"\x01xx fleet#000000000042 yy"), Some(42));
        assert_eq!(order_seq(b"fleet#12"), None);
        assert_eq!(order_seq(b"no marker"), None);
    }

    #[test]
    fn devices_are_spread_over_consecutive_source_addresses() {
        let first: IpAddr = "127.1.0.1".parse().unwrap();
        assert_eq!(source_of(first, 64, 0), first);
        assert_eq!(source_of(first, 64, 65).to_string(), "127.1.0.2");
        assert_eq!(source_of(first, 300, 299).to_string(), "127.1.1.44");
        assert_eq!(source_of(first, 1, 5), first);
    }
}
