//! [`CountingRelay`]: a TCP relay on `127.0.0.1:0` that counts every byte it forwards, to
//! measure what a transport costs on the wire — TCP payload in both directions, TLS records and
//! handshakes included (TCP/IP headers are not counted). `ngtt demo` puts one in front of each
//! transport; the benchmarks and tests use it too.
//!
//! Each direction is copied until its own reader ends and then half-closed, so a FIN (or a TLS
//! close_notify followed by FIN) one way never cuts what is still flowing the other way.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What a [`CountingRelay`] has forwarded so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes from the client (the device) to the target (the server).
    pub up: u64,
    /// Bytes from the target to the client.
    pub down: u64,
    /// TCP connections accepted.
    pub connections: u64,
}

impl Traffic {
    /// Both directions together.
    pub fn total(&self) -> u64 {
        self.up + self.down
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: Traffic) -> Traffic {
        Traffic {
            up: self.up - earlier.up,
            down: self.down - earlier.down,
            connections: self.connections - earlier.connections,
        }
    }
}

#[derive(Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    connections: AtomicU64,
    /// The tasks of the connections relayed so far (finished ones included).
    pipes: Mutex<Vec<JoinHandle<()>>>,
}

/// Forwards every connection made to [`CountingRelay::addr`] to one target, counting bytes.
pub struct CountingRelay {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl CountingRelay {
    /// Starts relaying to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<CountingRelay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let counters = Arc::clone(&shared);
                let task = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        let _ = (client.set_nodelay(true), server.set_nodelay(true));
                        pipe(client, server, counters).await;
                    }
                });
                let mut pipes = shared.pipes.lock().expect("lock");
                pipes.retain(|p| !p.is_finished());
                pipes.push(task);
            }
        });
        Ok(CountingRelay { addr, counters, task })
    }

    /// Where clients connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every connection relayed so far (both sockets closed at once), as a server closing
    /// idle connections would; the relay keeps accepting new ones.
    pub fn sever(&self) {
        for pipe in self.counters.pipes.lock().expect("lock").drain(..) {
            pipe.abort();
        }
    }

    /// The counters now.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            up: self.counters.up.load(Ordering::SeqCst),
            down: self.counters.down.load(Ordering::SeqCst),
            connections: self.counters.connections.load(Ordering::SeqCst),
        }
    }
}

impl Drop for CountingRelay {
    fn drop(&mut self) {
        self.task.abort();
        self.sever();
    }
}

async fn pipe(client: TcpStream, server: TcpStream, counters: Arc<Counters>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // Each direction runs until its reader ends, then passes the half-close on, so that a
    // close_notify or FIN in one direction does not cut what is still coming the other way.
    let up = async {
        let _ = copy(&mut cr, &mut sw, &counters.up).await;
        let _ = sw.shutdown().await;
    };
    let down = async {
        let _ = copy(&mut sr, &mut cw, &counters.down).await;
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}

async fn copy(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    counter: &AtomicU64,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
        counter.fetch_add(n as u64, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that half-closes its side still gets the whole answer: the relay does not cut
    /// both directions when one ends.
    #[tokio::test]
    async fn one_direction_ending_does_not_cut_the_other() {
        let target = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let target_addr = target.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let (mut socket, _) = target.accept().await.expect("accept");
            let mut request = Vec::new();
            socket
                .read_to_end(&mut request)
                .await
                .expect("read until the client's FIN");
            // Answer only after the client's direction has ended.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            socket.write_all(&vec![7u8; 100_000]).await.expect("answer");
            request.len()
        });
        let relay = CountingRelay::start(target_addr).await.expect("relay");
        let mut client = TcpStream::connect(relay.addr()).await.expect("connect");
        client.write_all(b"hello").await.expect("request");
        client.shutdown().await.expect("half-close");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.expect("answer");
        assert_eq!(answer.len(), 100_000);
        assert_eq!(server.await.expect("server"), 5);
        let traffic = relay.traffic();
        assert_eq!((traffic.up, traffic.down, traffic.connections), (5, 100_000, 1));
        assert_eq!(traffic.total(), 100_005);
    }
}
