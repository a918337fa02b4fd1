//! [`FaultProxy`]: forwards TCP connections to a target and cuts each one after a random number
//! of bytes, in either direction, to exercise reconnects and redelivery at every stage of a
//! session (mid-handshake, mid-frame, between frames).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use ngtt_transport::SplitMix64;

/// Counters of what the proxy did.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections the proxy cut on purpose.
    pub cuts: AtomicU64,
    /// Bytes forwarded, both directions.
    pub bytes: AtomicU64,
}

/// A fault-injecting TCP proxy listening on `127.0.0.1:0`.
///
/// Each accepted connection gets a byte budget drawn from `min_bytes..max_bytes`; once the bytes
/// forwarded in both directions together reach it, both sides are closed abruptly. Faults can be
/// switched off ([`FaultProxy::set_faults`]) so that a test can finish on a healthy link.
pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<AtomicBool>,
    stats: Arc<ProxyStats>,
    stop: watch::Sender<bool>,
}

impl FaultProxy {
    /// Starts a proxy to `target`, cutting connections after `min_bytes..max_bytes` bytes, with
    /// a reproducible schedule from `seed`.
    pub async fn start(
        target: SocketAddr,
        min_bytes: u64,
        max_bytes: u64,
        seed: u64,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let faults = Arc::new(AtomicBool::new(true));
        let stats = Arc::new(ProxyStats::default());
        let (stop, mut stopped) = watch::channel(false);
        let rng = Arc::new(Mutex::new(SplitMix64::new(seed)));
        let (f, s) = (faults.clone(), stats.clone());
        tokio::spawn(async move {
            loop {
                let (client, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(c) => c,
                        Err(_) => continue,
                    },
                    _ = stopped.changed() => return,
                };
                s.connections.fetch_add(1, Ordering::Relaxed);
                let span = max_bytes.max(min_bytes + 1) - min_bytes;
                let budget = min_bytes + rng.lock().expect("rng lock").next_u64() % span;
                let (f, s, stopped) = (f.clone(), s.clone(), stopped.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        pipe(client, server, budget, f, s, stopped).await;
                    }
                });
            }
        });
        Ok(FaultProxy {
            addr,
            faults,
            stats,
            stop,
        })
    }

    /// Where devices should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Turns cutting on or off (connections already cut stay cut).
    pub fn set_faults(&self, on: bool) {
        self.faults.store(on, Ordering::SeqCst);
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> &ProxyStats {
        &self.stats
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    budget: u64,
    faults: Arc<AtomicBool>,
    stats: Arc<ProxyStats>,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let used = Arc::new(AtomicU64::new(0));
    let (mut cbuf, mut sbuf) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    loop {
        // Forward whichever side has bytes; at most the remaining budget of them.
        let (n, to_server) = tokio::select! {
            r = cr.read(&mut cbuf) => (r, true),
            r = sr.read(&mut sbuf) => (r, false),
            _ = stopped.changed() => return,
        };
        let Ok(n) = n else { return };
        if n == 0 {
            return;
        }
        let cutting = faults.load(Ordering::SeqCst);
        let before = used.fetch_add(n as u64, Ordering::Relaxed);
        let allowed = if cutting {
            budget.saturating_sub(before).min(n as u64) as usize
        } else {
            n
        };
        let (buf, out) = if to_server {
            (&cbuf, &mut sw)
        } else {
            (&sbuf, &mut cw)
        };
        if out.write_all(&buf[..allowed]).await.is_err() {
            return;
        }
        stats.bytes.fetch_add(allowed as u64, Ordering::Relaxed);
        if allowed < n {
            stats.cuts.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(budget, "fault proxy cutting the connection");
            return; // dropping all four halves resets both connections
        }
    }
}
