//! The MQTT side of a simulated device: a raw MQTT 3.1.1 session (CONNECT with a client
//! certificate, then PINGREQ every keepalive), for the comparison with Mosquitto.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::device::{handshake, next_keepalive, now_nanos, Event, Jitter, Outcome, Shared, KEEPALIVE};

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

/// One MQTT session of device `idx` against the broker (the first of `shared.servers`).
pub async fn mqtt_session(
    shared: &Shared,
    idx: usize,
    tls: &Arc<ClientConfig>,
    jitter: &mut Jitter,
) -> Outcome {
    let down = Outcome { was_up: false };
    let Some(mut stream) = handshake(shared, idx, shared.servers[0], tls).await else {
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
    let _ = shared.events.send(Event::Up(idx, 0, now_nanos()));
    let up = Outcome { was_up: true };
    let mut ping_now = shared.ping_now.clone();
    ping_now.mark_unchanged();
    let mut buf = [0u8; 256];
    let mut keepalive = next_keepalive(tokio::time::Instant::now(), true, jitter);
    loop {
        // `Some(commanded)`: a PINGREQ is due (commanded by the bench, or the keepalive's).
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
                None
            }
            _ = tokio::time::sleep_until(keepalive) => Some(false),
            changed = ping_now.changed() => {
                if changed.is_err() {
                    return up;
                }
                Some(true)
            }
        };
        if let Some(commanded) = send {
            if stream.write_all(&PINGREQ).await.is_err() || stream.flush().await.is_err() {
                return up;
            }
            keepalive = next_keepalive(tokio::time::Instant::now(), commanded, jitter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
