//! The TLS layer of a device connection, on rustls's unbuffered API: the connection owns its
//! buffers, and holds them only while they have something in them.
//!
//! rustls's buffered `ServerConnection` keeps a 4 KiB receive buffer for the whole life of a
//! connection (it is re-sized to 4 KiB on every read), which is a quarter of what an idle
//! device connection costs the server. Here the TLS bytes read from the socket go through a
//! buffer on the stack; only a record still in progress (or records not processed yet) are
//! kept, in a buffer released once they are; decrypted plaintext the reader has not taken yet
//! and encrypted bytes the socket has not taken yet are kept the same way. An idle connection
//! holds no buffer at all.
//!
//! Bounds: received TLS bytes are processed as soon as a record is complete, and never more
//! than [`MAX_INCOMING`] are held (a handshake message may take 64 KiB, rustls's own limit);
//! a write takes at most [`WRITE_CHUNK`] bytes of plaintext and is accepted only once the
//! previous one's ciphertext was handed to the socket, so a peer that does not read stalls
//! the writer (and the connection's write deadline ends it) instead of growing a buffer.
//!
//! A vectored write encrypts each of its buffers into TLS records of its own (never one record
//! across two buffers) and hands them to the socket in one write: a driver that gives one frame
//! per buffer writes several frames in one system call, each still in records of its own
//! (NGTT.md §8).

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustls::pki_types::CertificateDer;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// TLS bytes read from the socket at once, into a buffer on the stack: a whole record of the
/// largest size (16 KiB of plaintext and its overhead).
const READ_CHUNK: usize = 16 * 1024 + 256 + 5;

/// Received TLS bytes held at most: a handshake message of 64 KiB (rustls refuses larger
/// ones) in records of its own, and one read more.
pub(crate) const MAX_INCOMING: usize = 96 * 1024;

/// Plaintext bytes encrypted by one write, at most.
pub(crate) const WRITE_CHUNK: usize = 16 * 1024;

/// A server-side TLS connection over TCP, owning its buffers (see the module documentation).
pub(crate) struct ServerTls {
    tcp: TcpStream,
    conn: UnbufferedServerConnection,
    /// TLS bytes received and not processed yet (a record in progress, mostly), from `in_at`
    /// on: processed records are skipped, and moved out only before the next read.
    incoming: Vec<u8>,
    in_at: usize,
    /// Decrypted plaintext not read yet, from `plain_at` on.
    plain: Vec<u8>,
    plain_at: usize,
    /// Encrypted bytes not handed to the socket yet, from `out_at` on.
    outgoing: Vec<u8>,
    out_at: usize,
    /// The peer sent close_notify: once `plain` is read, the reader sees the end.
    peer_closed: bool,
    /// close_notify was queued: nothing more is encrypted.
    close_sent: bool,
}

/// What processing the received bytes came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    /// More bytes from the peer are needed to go on (the handshake, or a record in progress).
    NeedData,
    /// Application data may flow (and was written, when that was asked for).
    Traffic,
    /// Both sides sent close_notify.
    Closed,
}

/// What to do once application data may flow.
enum Action<'a> {
    /// Encrypt the first `.1` bytes of these buffers, each buffer in records of its own.
    Encrypt(&'a [IoSlice<'a>], usize),
    CloseNotify,
}

/// Accepts a TLS connection on `tcp` with `config`: the handshake, until the client is
/// authenticated and application data may flow both ways. A peer that leaves during the
/// handshake gives [`io::ErrorKind::UnexpectedEof`]; a TLS failure
/// [`io::ErrorKind::InvalidData`], after the alert went out when the socket took it.
pub(crate) async fn accept(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<ServerTls> {
    let conn = UnbufferedServerConnection::new(config).map_err(invalid)?;
    let mut tls = ServerTls {
        tcp,
        conn,
        incoming: Vec::new(),
        in_at: 0,
        plain: Vec::new(),
        plain_at: 0,
        outgoing: Vec::new(),
        out_at: 0,
        peer_closed: false,
        close_sent: false,
    };
    loop {
        let rest = match tls.process(None) {
            Ok(rest) => rest,
            Err(e) => {
                // The alert rustls queued, if the socket takes it.
                let _ = poll_fn(|cx| tls.poll_send(cx)).await;
                return Err(e);
            }
        };
        poll_fn(|cx| tls.poll_send(cx)).await?;
        match rest {
            Rest::Traffic if !tls.conn.is_handshaking() => return Ok(tls),
            Rest::Closed => return Err(eof("the peer closed the connection during the TLS handshake")),
            Rest::Traffic | Rest::NeedData => {
                if tls.peer_closed {
                    return Err(eof("the peer closed the connection during the TLS handshake"));
                }
                if poll_fn(|cx| tls.poll_receive(cx)).await? == 0 {
                    return Err(eof("the peer left during the TLS handshake"));
                }
            }
        }
    }
}

impl ServerTls {
    /// The certificate chain the client authenticated with.
    pub(crate) fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// Bytes this connection holds in its buffers now (their capacity).
    #[cfg(test)]
    pub(crate) fn buffered_capacity(&self) -> usize {
        self.incoming.capacity() + self.plain.capacity() + self.outgoing.capacity()
    }

    /// Processes the received bytes until more are needed or application data may flow,
    /// keeping decrypted plaintext for the reader and what rustls wants sent for the socket;
    /// then carries out `action`, if application data may flow.
    fn process(&mut self, mut action: Option<Action<'_>>) -> io::Result<Rest> {
        loop {
            let UnbufferedStatus { mut discard, state } =
                self.conn.process_tls_records(&mut self.incoming[self.in_at..]);
            let rest = match state {
                Err(e) => Err(e),
                Ok(ConnectionState::ReadTraffic(mut traffic)) => {
                    let mut result = Ok(None);
                    while let Some(record) = traffic.next_record() {
                        match record {
                            Ok(record) => {
                                discard += record.discard;
                                self.plain.extend_from_slice(record.payload);
                            }
                            Err(e) => {
                                result = Err(e);
                                break;
                            }
                        }
                    }
                    result
                }
                Ok(ConnectionState::EncodeTlsData(mut encode)) => {
                    encode_into(&mut self.outgoing, |out| encode.encode(out)).map(|()| None)
                }
                Ok(ConnectionState::TransmitTlsData(transmit)) => {
                    // Queued in `outgoing`, in order before anything encrypted later; the
                    // socket gets it at the next send.
                    transmit.done();
                    Ok(None)
                }
                Ok(ConnectionState::BlockedHandshake) => Ok(Some(Rest::NeedData)),
                Ok(ConnectionState::PeerClosed) => {
                    self.peer_closed = true;
                    Ok(None)
                }
                Ok(ConnectionState::Closed) => Ok(Some(Rest::Closed)),
                Ok(ConnectionState::WriteTraffic(mut traffic)) => {
                    let done = match action.take() {
                        None => Ok(()),
                        Some(Action::Encrypt(bufs, len)) => {
                            let mut left = len;
                            let mut done = Ok(());
                            for buf in bufs.iter().map(|b| &**b) {
                                let data = &buf[..buf.len().min(left)];
                                if data.is_empty() {
                                    continue;
                                }
                                left -= data.len();
                                done = encrypt_into(&mut self.outgoing, data.len(), |out| {
                                    traffic.encrypt(data, out)
                                });
                                if done.is_err() || left == 0 {
                                    break;
                                }
                            }
                            done
                        }
                        Some(Action::CloseNotify) => {
                            encrypt_into(&mut self.outgoing, 0, |out| traffic.queue_close_notify(out))
                        }
                    };
                    match done {
                        Ok(()) => Ok(Some(Rest::Traffic)),
                        Err(e) => {
                            self.discard(discard);
                            return Err(e);
                        }
                    }
                }
                // Early data is not enabled (the configuration's default): never offered.
                Ok(_) => Err(rustls::Error::General("unexpected TLS state".into())),
            };
            self.discard(discard);
            match rest {
                Ok(Some(rest)) => return Ok(rest),
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// After rustls failed: queues the alert it prepared, for the next send.
    fn fail(&mut self, e: rustls::Error) -> io::Error {
        for _ in 0..4 {
            let UnbufferedStatus { discard, state } =
                self.conn.process_tls_records(&mut self.incoming[self.in_at..]);
            let more = match state {
                Ok(ConnectionState::EncodeTlsData(mut encode)) => {
                    encode_into(&mut self.outgoing, |out| encode.encode(out)).is_ok()
                }
                Ok(ConnectionState::TransmitTlsData(transmit)) => {
                    transmit.done();
                    false
                }
                _ => false,
            };
            self.discard(discard);
            if !more {
                break;
            }
        }
        invalid(e)
    }

    /// Skips `n` processed bytes of `incoming`; releases it once all is processed.
    fn discard(&mut self, n: usize) {
        self.in_at += n;
        if self.in_at >= self.incoming.len() {
            self.incoming = Vec::new();
            self.in_at = 0;
        }
    }

    /// Reads what the socket has into `incoming`: the number of bytes, 0 at its end.
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.in_at > 0 {
            self.incoming.drain(..self.in_at);
            self.in_at = 0;
        }
        if self.incoming.len() >= MAX_INCOMING {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "more than 96 KiB of TLS data without a complete message",
            )));
        }
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut chunk);
        ready!(Pin::new(&mut self.tcp).poll_read(cx, &mut buf))?;
        let read = buf.filled();
        self.incoming.extend_from_slice(read);
        Poll::Ready(Ok(read.len()))
    }

    /// Hands what is in `outgoing` to the socket; releases the buffer once it is all sent.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_at < self.outgoing.len() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.outgoing[self.out_at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_at += n;
        }
        self.outgoing = Vec::new();
        self.out_at = 0;
        Poll::Ready(Ok(()))
    }

    /// Gives the reader what `plain` holds; releases it once read.
    fn take_plain(&mut self, buf: &mut ReadBuf<'_>) {
        let n = buf.remaining().min(self.plain.len() - self.plain_at);
        buf.put_slice(&self.plain[self.plain_at..self.plain_at + n]);
        self.plain_at += n;
        if self.plain_at == self.plain.len() {
            self.plain = Vec::new();
            self.plain_at = 0;
        }
    }
}

impl AsyncRead for ServerTls {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.plain_at < this.plain.len() {
                this.take_plain(buf);
                return Poll::Ready(Ok(()));
            }
            if this.peer_closed {
                return Poll::Ready(Ok(()));
            }
            let processed = this.process(None);
            if this.out_at < this.outgoing.len() {
                // What rustls answers by itself (a key update, an alert): sent now if the
                // socket takes it, else with the next write.
                if let Poll::Ready(Err(e)) = this.poll_send(cx) {
                    return Poll::Ready(Err(processed.err().unwrap_or(e)));
                }
            }
            match processed? {
                _ if this.plain_at < this.plain.len() || this.peer_closed => continue,
                Rest::Closed => return Poll::Ready(Ok(())),
                Rest::NeedData | Rest::Traffic => {
                    if ready!(this.poll_receive(cx))? == 0 {
                        return Poll::Ready(Err(eof(
                            "peer closed connection without sending TLS close_notify",
                        )));
                    }
                }
            }
        }
    }
}

impl AsyncWrite for ServerTls {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(data)])
    }

    /// Encrypts up to [`WRITE_CHUNK`] bytes of `bufs`, each buffer in records of its own, and
    /// hands them to the socket together.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let len = bufs.iter().map(|b| b.len()).sum::<usize>().min(WRITE_CHUNK);
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        if this.close_sent {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the TLS session was closed",
            )));
        }
        // The previous write's ciphertext first: a peer that does not read stalls the writer.
        ready!(this.poll_send(cx))?;
        match this.process(Some(Action::Encrypt(bufs, len)))? {
            Rest::Traffic => {}
            Rest::NeedData | Rest::Closed => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the TLS session does not carry data",
                )))
            }
        }
        // Accepted: what the socket does not take now goes with the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(len))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_sent {
            this.close_sent = true;
            // A session that already failed has nothing to close cleanly.
            let _ = this.process(Some(Action::CloseNotify));
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

/// Appends what `encode` writes to `out`, growing it to the size rustls asks for.
fn encode_into(
    out: &mut Vec<u8>,
    encode: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
) -> Result<(), rustls::Error> {
    let required = |e: &EncodeError| match e {
        EncodeError::InsufficientSize(e) => Some(e.required_size),
        _ => None,
    };
    grow_into(out, 1024, encode, required)
        .map_err(|e| rustls::Error::General(format!("encoding a TLS message: {e}")))
}

/// Appends what `encrypt` writes to `out`, growing it to the size rustls asks for.
fn encrypt_into(
    out: &mut Vec<u8>,
    len: usize,
    encrypt: impl FnMut(&mut [u8]) -> Result<usize, EncryptError>,
) -> io::Result<()> {
    let required = |e: &EncryptError| match e {
        EncryptError::InsufficientSize(e) => Some(e.required_size),
        _ => None,
    };
    // Room for the records' overhead and a queued handshake message; rustls says when more
    // is needed (records smaller than 256 bytes).
    grow_into(out, len + len / 8 + 512, encrypt, required)
        .map_err(|e| io::Error::other(format!("encrypting a TLS record: {e}")))
}

/// Appends what `write` writes to `out`, starting with room for `want` bytes and growing to
/// the size its error asks for (`required`, when larger); on any other error `out` is left as
/// it was.
fn grow_into<E>(
    out: &mut Vec<u8>,
    mut want: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, E>,
    required: impl Fn(&E) -> Option<usize>,
) -> Result<(), E> {
    let start = out.len();
    loop {
        out.resize(start + want, 0);
        match write(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(e) => match required(&e) {
                Some(size) if size > want => want = size,
                _ => {
                    out.truncate(start);
                    return Err(e);
                }
            },
        }
    }
}

fn invalid(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn eof(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what)
}

#[cfg(test)]
#[path = "tls_stream_tests.rs"]
mod tests;
