//! The simulated devices' sockets: a TCP stream that counts the bytes of both directions (TLS
//! records included, i.e. what is on the wire above TCP), bound to a chosen loopback source
//! address.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

/// Bytes sent and received by all the sockets of one worker.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes written (device → server).
    pub out: AtomicU64,
    /// Bytes read (server → device).
    pub inb: AtomicU64,
}

/// A TCP stream counting its bytes into shared [`Counters`].
pub struct Counted {
    inner: TcpStream,
    counters: Arc<Counters>,
}

/// Connects to `server` from `source` (port chosen by the kernel), without Nagle's delay.
pub async fn connect(source: IpAddr, server: SocketAddr, counters: Arc<Counters>) -> io::Result<Counted> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let inner = socket.connect(server).await?;
    inner.set_nodelay(true)?;
    Ok(Counted { inner, counters })
}

impl AsyncRead for Counted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        this.counters.inb.fetch_add(read as u64, Ordering::Relaxed);
        poll
    }
}

impl AsyncWrite for Counted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &poll {
            this.counters.out.fetch_add(*n as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
