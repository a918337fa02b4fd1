//! [`write_step`]: one cancel-safe step of writing a buffer and then flushing it, for drivers
//! that race their writer against reads and timers and report write progress to a pure
//! session (the device's and the server's write deadlines).

use std::io;

use bytes::Buf;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// What one [`write_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStep {
    /// Some bytes of the buffer were written (it may not be empty yet).
    Wrote,
    /// The buffer was empty and everything written is flushed.
    Flushed,
}

/// Writes some of `buf` (advancing it), or flushes once it is empty. Cancel safe: dropped
/// before completion, nothing of `buf` is lost or written twice.
pub async fn write_step<W: AsyncWrite + Unpin, B: Buf>(w: &mut W, buf: &mut B) -> io::Result<WriteStep> {
    if !buf.has_remaining() {
        w.flush().await?;
        return Ok(WriteStep::Flushed);
    }
    match w.write_buf(buf).await? {
        0 => Err(io::ErrorKind::WriteZero.into()),
        _ => Ok(WriteStep::Wrote),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn writes_then_flushes() {
        let (mut a, mut b) = tokio::io::duplex(4);
        let mut buf = &b"abcdef"[..];
        assert_eq!(write_step(&mut a, &mut buf).await.unwrap(), WriteStep::Wrote);
        assert_eq!(buf, b"ef", "as much as the pipe takes");
        let mut got = [0u8; 4];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(write_step(&mut a, &mut buf).await.unwrap(), WriteStep::Wrote);
        assert!(buf.is_empty());
        assert_eq!(write_step(&mut a, &mut buf).await.unwrap(), WriteStep::Flushed);
        drop(b);
        let mut more = &b"x"[..];
        assert!(write_step(&mut a, &mut more).await.is_err(), "the reader is gone");
    }
}
