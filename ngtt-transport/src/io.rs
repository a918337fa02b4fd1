//! [`CountingIo`]: counts the bytes that pass through the TCP socket under TLS.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::state::{add, Counters};

/// Wraps a byte stream and adds what is read and written to the wire counters.
#[derive(Debug)]
pub(crate) struct CountingIo<T> {
    inner: T,
    counters: Arc<Counters>,
}

impl<T> CountingIo<T> {
    pub fn new(inner: T, counters: Arc<Counters>) -> Self {
        CountingIo { inner, counters }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            add(&self.counters.wire_bytes_received, buf.filled().len() - before);
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            add(&self.counters.wire_bytes_sent, n);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            add(&self.counters.wire_bytes_sent, n);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_both_directions() {
        let counters = Arc::new(Counters::default());
        let (a, mut b) = tokio::io::duplex(64);
        let mut a = CountingIo::new(a, counters.clone());
        a.write_all(b"hello").await.expect("write");
        b.write_all(b"abc").await.expect("write");
        let mut got = [0u8; 3];
        a.read_exact(&mut got).await.expect("read");
        a.flush().await.expect("flush");
        a.shutdown().await.expect("shutdown");
        assert_eq!(counters.wire_bytes_sent.load(Ordering::Relaxed), 5);
        assert_eq!(counters.wire_bytes_received.load(Ordering::Relaxed), 3);
    }
}
