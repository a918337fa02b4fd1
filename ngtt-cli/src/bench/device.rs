//! One simulated device of `ngtt bench fleet`: a raw NGTT session (ngtt-proto frames over
//! tokio-rustls) or a raw MQTT 3.1.1 session (CONNECT, then PINGREQ every keepalive), both
//! reconnecting after a loss with a jittered backoff.
//!
//! An NGTT device sends FETCH_ORDERS after the handshake, confirms every ORDER at once, answers
//! the server's PINGs and sends its own every 30 s of silence, as `ngtt-transport` does. What
//! the orchestrator needs to know goes out as [`Event`]s.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use ngtt_proto::{Frame, FrameType};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::TlsConnector;

use super::wire::{self, Counters};

/// Seconds of silence after which a device sends a keepalive (NGTT PING or MQTT PINGREQ).
pub const KEEPALIVE: Duration = Duration::from_secs(30);

/// Marker in an order's path carrying the orchestrator's sequence number (12 digits).
pub const ORDER_MARKER: &[u8] = b"fleet#";

/// What a device reports.
#[derive(Debug)]
pub enum Event {
    /// Device `idx` is connected (handshake done).
    Up(usize),
    /// Device `idx` lost its connection.
    Down(usize),
    /// Device `idx` received and confirmed the order with this sequence number, at this time
    /// (ns since the epoch).
    Order(usize, u64, u128),
    /// A keepalive was answered.
    Pong,
}

/// What every device of a worker shares.
pub struct Shared {
    /// Where the server (or broker) listens.
    pub server: SocketAddr,
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
}

/// Nanoseconds since the Unix epoch (comparable between the bench's processes).
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A small xorshift generator for jitter, seeded per device.
struct Jitter(u64);

impl Jitter {
    fn new(seed: usize) -> Jitter {
        Jitter((seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A duration uniformly in `[0, max)`.
    fn below(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let millis = max.as_millis().max(1) as u64;
        Duration::from_millis(self.0 % millis)
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

/// Runs device `idx` until the process ends: connect, serve, reconnect after a backoff.
pub async fn run(shared: Arc<Shared>, idx: usize, tls: Arc<ClientConfig>, protocol: Protocol) {
    let mut jitter = Jitter::new(idx);
    let mut backoff = Duration::from_millis(100);
    loop {
        let outcome = match protocol {
            Protocol::Ngtt => ngtt_session(&shared, idx, &tls, &mut jitter).await,
            Protocol::Mqtt => mqtt_session(&shared, idx, &tls, &mut jitter).await,
        };
        if outcome.was_up {
            let _ = shared.events.send(Event::Down(idx));
            backoff = Duration::from_millis(100);
        } else {
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        // Half fixed, half random: a storm of reconnections spreads over the backoff.
        tokio::time::sleep(backoff / 2 + jitter.below(backoff / 2)).await;
    }
}

/// How a session ended.
struct Outcome {
    was_up: bool,
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

async fn handshake(shared: &Shared, idx: usize, tls: &Arc<ClientConfig>) -> Option<Tls> {
    let _permit = shared.handshakes.acquire().await.ok()?;
    let source = source_of(shared.source, shared.sources, idx);
    let tcp = tokio::time::timeout(
        Duration::from_secs(10),
        wire::connect(source, shared.server, shared.counters.clone()),
    )
    .await
    .ok()?
    .ok()?;
    let name = ServerName::IpAddress(shared.server.ip().into());
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

async fn ngtt_session(shared: &Shared, idx: usize, tls: &Arc<ClientConfig>, jitter: &mut Jitter) -> Outcome {
    let down = Outcome { was_up: false };
    let Some(mut stream) = handshake(shared, idx, tls).await else {
        return down;
    };
    let mut out = BytesMut::new();
    if ngtt_proto::encode(&Frame::fetch_orders(), &mut out).is_err() || stream.write_all(&out).await.is_err()
    {
        return down;
    }
    let _ = shared.events.send(Event::Up(idx));
    let up = Outcome { was_up: true };
    let mut ping_now = shared.ping_now.clone();
    ping_now.mark_unchanged();
    let mut buf = BytesMut::with_capacity(512);
    let mut pings_out = 0u32;
    // The first keepalive at a random point of the interval, so that the fleet's spread out.
    let mut keepalive = tokio::time::Instant::now() + jitter.below(KEEPALIVE) + Duration::from_secs(1);
    loop {
        out.clear();
        tokio::select! {
            read = stream.read_buf(&mut buf) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return up;
                }
                loop {
                    match ngtt_proto::decode(&mut buf, 1 << 20) {
                        Ok(Some(frame)) => {
                            if let Some(reply) = on_frame(shared, idx, &frame, &mut pings_out) {
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
            _ = tokio::time::sleep_until(keepalive) => {
                pings_out += 1;
                let _ = ngtt_proto::encode(&Frame::ping(0), &mut out);
            }
            changed = ping_now.changed() => {
                if changed.is_err() {
                    return up;
                }
                pings_out += 1;
                let _ = ngtt_proto::encode(&Frame::ping(0), &mut out);
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
                return up;
            }
            keepalive = tokio::time::Instant::now() + KEEPALIVE;
        }
    }
}

/// What an NGTT device answers to `frame`.
fn on_frame(shared: &Shared, idx: usize, frame: &Frame, pings_out: &mut u32) -> Option<Frame> {
    match frame.kind {
        FrameType::Order => {
            let seq = order_seq(&frame.payload).unwrap_or(u64::MAX);
            let reply = Frame::order_confirm(frame.tid);
            let _ = shared.events.send(Event::Order(idx, seq, now_nanos()));
            Some(reply)
        }
        FrameType::Ping if *pings_out > 0 => {
            *pings_out -= 1;
            let _ = shared.events.send(Event::Pong);
            None
        }
        FrameType::Ping => Some(Frame::ping(frame.tid)),
        _ => None,
    }
}

/// MQTT 3.1.1 CONNECT: clean session, keepalive [`KEEPALIVE`], client id `id`.
pub fn mqtt_connect(id: &str) -> Vec<u8> {
    let keepalive = KEEPALIVE.as_secs() as u16;
    let mut variable = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02];
    variable.extend_from_slice(&keepalive.to_be_bytes());
    variable.extend_from_slice(&(id.len() as u16).to_be_bytes());
    variable.extend_from_slice(id.as_bytes());
    let mut packet = vec![0x10];
    let mut len = variable.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        packet.push(byte);
        if len == 0 {
            break;
        }
    }
    packet.extend_from_slice(&variable);
    packet
}

/// MQTT PINGREQ.
const PINGREQ: [u8; 2] = [0xC0, 0x00];

async fn mqtt_session(shared: &Shared, idx: usize, tls: &Arc<ClientConfig>, jitter: &mut Jitter) -> Outcome {
    let down = Outcome { was_up: false };
    let Some(mut stream) = handshake(shared, idx, tls).await else {
        return down;
    };
    if stream
        .write_all(&mqtt_connect(&format!("fleet-{idx}")))
        .await
        .is_err()
    {
        return down;
    }
    let mut connack = [0u8; 4];
    let accepted = tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut connack)).await;
    if !matches!(accepted, Ok(Ok(_))) || connack != [0x20, 0x02, 0x00, 0x00] {
        return down;
    }
    let _ = shared.events.send(Event::Up(idx));
    let up = Outcome { was_up: true };
    let mut ping_now = shared.ping_now.clone();
    ping_now.mark_unchanged();
    let mut buf = [0u8; 256];
    let mut keepalive = tokio::time::Instant::now() + jitter.below(KEEPALIVE) + Duration::from_secs(1);
    loop {
        let send = tokio::select! {
            read = stream.read(&mut buf) => {
                let Ok(n) = read else { return up };
                if n == 0 {
                    return up;
                }
                // Idle clients only ever receive PINGRESPs (0xD0 0x00).
                for _ in buf[..n].chunks(2).filter(|p| p[0] == 0xD0) {
                    let _ = shared.events.send(Event::Pong);
                }
                false
            }
            _ = tokio::time::sleep_until(keepalive) => true,
            changed = ping_now.changed() => {
                if changed.is_err() {
                    return up;
                }
                true
            }
        };
        if send {
            if stream.write_all(&PINGREQ).await.is_err() || stream.flush().await.is_err() {
                return up;
            }
            keepalive = tokio::time::Instant::now() + KEEPALIVE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn mqtt_connect_is_well_formed() {
        let packet = mqtt_connect("fleet-7");
        assert_eq!(packet[0], 0x10);
        assert_eq!(packet[1] as usize, packet.len() - 2);
        assert_eq!(&packet[2..9], b"\0\x04MQTT\x04");
        assert_eq!(&packet[10..12], &[0, 30]);
        assert!(packet.ends_with(b"\0\x07fleet-7"));
    }
}
