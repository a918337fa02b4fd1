//! TLS session resumption on the NGTT listener: stateless TLS 1.3 tickets whose keys live in a
//! file beside the database, so that a device reconnecting — after a network loss, and after a
//! restart of the server (the reconnect storm after `kill -9`) — resumes its session instead of
//! a full handshake: no certificates on the wire (about 1.1 KB fewer on a metered link) and no
//! signatures to make or check on either side, only the key exchange.
//!
//! Keys roll every [`TICKET_PERIOD`]: a ticket is sealed (ChaCha20-Poly1305, a random nonce) with
//! the key of the period it was issued in, and opened only while that key is kept — the current
//! period's and the one before — so a ticket lives at most two periods, and a key is erased
//! (from memory and from the file) once its period is two behind. A resumed session is the
//! device's earlier, fully verified one: its certificate chain travels inside the ticket and
//! gives the device id again. The file records a fingerprint of the device CA and the server's
//! certificate: when either changes, the keys are discarded, so no ticket issued under the old
//! CA resumes. Whoever can read the file can forge tickets: it is a secret like the server's
//! key (mode 0600). Resumed sessions still run an ECDHE exchange (rustls offers only
//! `psk_dhe_ke`) and take no early data, so a stolen key does not open recorded traffic.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;

use crate::error::ServerError;
use crate::private_file::hex;

/// How long a ticket key seals new tickets; tickets open for up to twice this.
pub const TICKET_PERIOD: Duration = Duration::from_secs(12 * 3600);

const FILE_HEADER: &str = "ngtt tls ticket keys 1";
const VERSION: u8 = 1;
/// Version byte and period number, authenticated as associated data.
const HEADER_LEN: usize = 1 + 4;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// The ticket keys of one server: the current period's and the previous one's.
pub(crate) struct TicketKeys {
    /// Where the keys are kept; `None`: in memory only (they end with the process).
    file: Option<PathBuf>,
    /// Hex SHA-256 of the device CA and the server certificate the keys belong to.
    binding: String,
    rng: SystemRandom,
    keys: Mutex<Vec<(u32, [u8; KEY_LEN])>>,
}

impl std::fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketKeys")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// What [`TicketKeys::roll`] leaves: the current period's key, and the error of a file that could
/// not be rewritten with it.
struct Rolled {
    current: (u32, [u8; KEY_LEN]),
    unsaved: Option<ServerError>,
}

/// The period number of `now` (seconds since the epoch).
fn period_of(now: u64) -> u32 {
    u32::try_from(now / TICKET_PERIOD.as_secs()).unwrap_or(u32::MAX)
}

/// Seconds since the epoch now (0 before it).
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unhex_key(text: &str) -> Option<[u8; KEY_LEN]> {
    let mut key = [0u8; KEY_LEN];
    if text.len() != 2 * KEY_LEN {
        return None;
    }
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// The keys kept in `text` for `binding`: none when the file belongs to other certificates.
fn parse(text: &str, binding: &str) -> Option<Vec<(u32, [u8; KEY_LEN])>> {
    let mut lines = text.lines();
    if lines.next()? != FILE_HEADER || lines.next()?.strip_prefix("binding ")? != binding {
        return None;
    }
    lines
        .map(|line| {
            let mut fields = line.strip_prefix("key ")?.split(' ');
            let period = fields.next()?.parse().ok()?;
            let key = unhex_key(fields.next()?)?;
            fields.next().is_none().then_some((period, key))
        })
        .collect()
}

impl TicketKeys {
    /// The keys in `file` (`None`: new keys in memory only) for these certificates (PEM), at
    /// `now` (seconds since the epoch): read, completed with a key for the current period and written back (mode 0600) when
    /// anything changed. A file that cannot be read or belongs to other certificates is
    /// replaced.
    pub(crate) fn load(
        file: Option<&Path>,
        device_ca_pem: &str,
        server_cert_pem: &str,
        now: u64,
    ) -> Result<TicketKeys, ServerError> {
        let mut fingerprint = ring::digest::Context::new(&ring::digest::SHA256);
        fingerprint.update(device_ca_pem.as_bytes());
        fingerprint.update(&[0]);
        fingerprint.update(server_cert_pem.as_bytes());
        let binding = hex(fingerprint.finish().as_ref());
        let keys = match file.map(|f| (f, std::fs::read_to_string(f))) {
            None => Vec::new(),
            Some((_, Err(e))) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Some((file, Err(source))) => {
                return Err(ServerError::ReadFile {
                    path: file.to_owned(),
                    source,
                })
            }
            Some((file, Ok(text))) => parse(&text, &binding).unwrap_or_else(|| {
                tracing::warn!(file = %file.display(), "TLS ticket keys belong to other certificates or are unreadable: replaced (devices make one full handshake)");
                Vec::new()
            }),
        };
        let tickets = TicketKeys {
            file: file.map(Path::to_owned),
            binding,
            rng: SystemRandom::new(),
            keys: Mutex::new(keys),
        };
        if let Some(e) = tickets.roll(now)?.unsaved {
            return Err(e);
        }
        Ok(tickets)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(u32, [u8; KEY_LEN])>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes sure the current period has a key and only it and the previous one are kept; the
    /// file is rewritten when that changed. Fails only when a new key is needed and the system
    /// has no randomness; a file that could not be rewritten is reported in [`Rolled`] (the
    /// keys serve from memory meanwhile).
    fn roll(&self, now: u64) -> Result<Rolled, ServerError> {
        let period = period_of(now);
        let mut keys = self.lock();
        let kept = keys.len();
        keys.retain(|(p, _)| *p == period || p.checked_add(1) == Some(period));
        let mut changed = keys.len() != kept;
        let current = match keys.iter().find(|(p, _)| *p == period) {
            Some(current) => *current,
            None => {
                let mut key = [0u8; KEY_LEN];
                self.rng
                    .fill(&mut key)
                    .map_err(|_| ServerError::Config("no system randomness for a TLS ticket key".into()))?;
                keys.push((period, key));
                changed = true;
                (period, key)
            }
        };
        let unsaved = match (changed, &self.file) {
            (true, Some(file)) => {
                let mut text = format!("{FILE_HEADER}\nbinding {}\n", self.binding);
                for (p, key) in keys.iter() {
                    text.push_str(&format!("key {p} {}\n", hex(key)));
                }
                crate::private_file::replace_private(file, &text)
                    .err()
                    .map(|source| ServerError::ReadFile {
                        path: file.clone(),
                        source,
                    })
            }
            _ => None,
        };
        Ok(Rolled { current, unsaved })
    }

    /// Seals `plain` into a ticket with the current period's key (made now if needed).
    fn seal(&self, plain: &[u8], now: u64) -> Option<Vec<u8>> {
        let Rolled {
            current: (period, key),
            unsaved,
        } = self.roll(now).ok()?;
        if let Some(e) = unsaved {
            // Once per new key: the key serves from memory, devices resume until a restart.
            tracing::warn!(error = %e, "TLS ticket keys: could not keep the new key in the file");
        }
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut ticket = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plain.len() + TAG_LEN);
        ticket.push(VERSION);
        ticket.extend_from_slice(&period.to_be_bytes());
        ticket.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key).ok()?);
        let aad = Aad::from(&ticket[..HEADER_LEN]);
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad, &mut body)
            .ok()?;
        ticket.extend_from_slice(&body);
        Some(ticket)
    }

    /// Opens `ticket` if it was sealed with a key still kept at `now`.
    fn open(&self, ticket: &[u8], now: u64) -> Option<Vec<u8>> {
        if ticket.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || ticket[0] != VERSION {
            return None;
        }
        let period = u32::from_be_bytes(ticket[1..HEADER_LEN].try_into().ok()?);
        let current = period_of(now);
        if period > current || period.checked_add(1).map_or(true, |p| p < current) {
            return None;
        }
        let key = self.lock().iter().find(|(p, _)| *p == period).map(|(_, k)| *k)?;
        let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key).ok()?);
        let nonce = Nonce::try_assume_unique_for_key(&ticket[HEADER_LEN..HEADER_LEN + NONCE_LEN]).ok()?;
        let mut body = ticket[HEADER_LEN + NONCE_LEN..].to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(&ticket[..HEADER_LEN]), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

impl ProducesTickets for TicketKeys {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        TICKET_PERIOD.as_secs() as u32
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.seal(plain, now_secs())
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.open(cipher, now_secs())
    }
}

#[cfg(test)]
#[path = "tls_tickets_tests.rs"]
mod tests;
