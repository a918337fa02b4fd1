//! The unbuffered TLS stream against tokio-rustls clients over real loopback sockets: the
//! handshake, data both ways in small records, closing, refusals, and what it holds.

use std::sync::Arc;

use futures::FutureExt;
use ngtt_net::tls::{self as net_tls, PemIdentity};
use ngtt_pki::{Ca, CertifiedKey};
use ngtt_proto::Environment;
use rustls::pki_types::ServerName;
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream as ClientTls;
use tokio_rustls::TlsConnector;

use super::{accept, ServerTls, MAX_INCOMING, WRITE_CHUNK};
use crate::config::TlsPems;

/// Test bounds: nothing here waits that long unless something is broken.
const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

struct Setup {
    ca: Ca,
    server: Arc<ServerConfig>,
    listener: TcpListener,
}

/// A CA, the NGTT server configuration (records of at most 512 bytes of plaintext) and a
/// listener on loopback.
async fn setup() -> Setup {
    let ca = Ca::generate("test CA").expect("CA");
    let server = ca.issue_server(&[]).expect("server certificate");
    let pems = TlsPems {
        device_ca: ca.cert_pem().to_owned(),
        server_cert: server.cert_pem,
        server_key: server.key_pem,
    };
    let acceptor = crate::tls::acceptor(&pems, 512, None).expect("acceptor");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    Setup {
        ca,
        server: Arc::clone(acceptor.config()),
        listener,
    }
}

impl Setup {
    fn device(&self) -> CertifiedKey {
        self.ca
            .issue_device("dev-1", Environment::LocalDevelopment)
            .expect("device certificate")
    }

    async fn accept(&self) -> std::io::Result<ServerTls> {
        let (tcp, _) = self.listener.accept().await.expect("accept");
        tokio::time::timeout(WAIT, accept(tcp, Arc::clone(&self.server)))
            .await
            .expect("the handshake ends")
    }

    async fn connect(&self, cert: Option<&CertifiedKey>) -> std::io::Result<ClientTls<TcpStream>> {
        let roots = net_tls::roots([self.ca.cert_pem()], "CA").expect("roots");
        let identity = cert.map(|cert| PemIdentity {
            cert_pem: &cert.cert_pem,
            key_pem: &cert.key_pem,
            name: "device",
        });
        let config = net_tls::client_config(roots, identity).expect("client configuration");
        let tcp = TcpStream::connect(self.listener.local_addr().expect("address"))
            .await
            .expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        TlsConnector::from(Arc::new(config)).connect(name, tcp).await
    }

    /// A device connected with its certificate, and the server's end.
    async fn pair(&self) -> (ClientTls<TcpStream>, ServerTls) {
        let device = self.device();
        let (client, server) = tokio::join!(self.connect(Some(&device)), self.accept());
        (
            client.expect("client handshake"),
            server.expect("server handshake"),
        )
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn an_idle_connection_holds_no_buffer_after_an_exchange() {
    let s = setup().await;
    let (mut client, mut server) = s.pair().await;
    let leaf = server
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("client certificate");
    let identity = ngtt_proto::DeviceIdentity::from_der(leaf).expect("identity");
    assert_eq!(identity.device_id, "dev-1");

    client.write_all(&pattern(1000, 1)).await.expect("client write");
    client.flush().await.expect("client flush");
    let mut got = vec![0; 1000];
    server.read_exact(&mut got).await.expect("server read");
    assert_eq!(got, pattern(1000, 1));
    server.write_all(&pattern(700, 2)).await.expect("server write");
    server.flush().await.expect("server flush");
    let mut back = vec![0; 700];
    client.read_exact(&mut back).await.expect("client read");
    assert_eq!(back, pattern(700, 2));
    assert_eq!(server.buffered_capacity(), 0, "nothing held between frames");
}

#[tokio::test]
async fn megabytes_both_ways_arrive_intact() {
    let s = setup().await;
    let (client, mut server) = s.pair().await;
    let up = pattern(3 << 20, 7);
    let (mut client_rx, mut client_tx) = tokio::io::split(client);
    let sending = async {
        client_tx.write_all(&up).await.expect("client write");
        client_tx.flush().await.expect("client flush");
    };
    let echo = async {
        let mut buf = vec![0; 10_000];
        let mut total = 0;
        while total < up.len() {
            let n = server.read(&mut buf).await.expect("server read");
            assert!(n > 0, "early end after {total} bytes");
            server.write_all(&buf[..n]).await.expect("server write");
            total += n;
        }
        server.flush().await.expect("server flush");
    };
    let receiving = async {
        let mut down = vec![0; up.len()];
        client_rx.read_exact(&mut down).await.expect("client read");
        down
    };
    let ((), (), down) = tokio::time::timeout(WAIT, async { tokio::join!(sending, echo, receiving) })
        .await
        .expect("the transfer ends");
    assert!(down == up, "the echo differs");
}

#[tokio::test]
async fn close_notify_is_a_clean_end_and_a_bare_close_is_not() {
    let s = setup().await;
    let (mut client, mut server) = s.pair().await;
    client.write_all(b"last words").await.expect("write");
    client.shutdown().await.expect("client close_notify");
    let mut got = Vec::new();
    server.read_to_end(&mut got).await.expect("a clean end");
    assert_eq!(got, b"last words");
    server.shutdown().await.expect("server close_notify");
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .await
        .expect("the client sees a clean end too");
    assert!(rest.is_empty());

    let (mut client, mut server) = s.pair().await;
    // The client reads what the server sent (its session tickets too): a socket closed with
    // unread data is reset, not ended.
    server.write_all(b"x").await.expect("server write");
    server.flush().await.expect("server flush");
    client.read_exact(&mut [0]).await.expect("client read");
    let (tcp, _) = client.into_inner();
    drop(tcp);
    let err = server
        .read_to_end(&mut Vec::new())
        .await
        .expect_err("no close_notify");
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
}

#[tokio::test]
async fn a_client_without_certificate_is_refused_with_an_alert() {
    let s = setup().await;
    let (client, server) = tokio::join!(
        async {
            let mut tls = s.connect(None).await?;
            // TLS 1.3: the refusal arrives after the client's handshake is done.
            tls.read_to_end(&mut Vec::new()).await
        },
        s.accept()
    );
    let err = server.err().expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    let client_err = client.expect_err("the client learns it was refused");
    assert!(
        client_err.to_string().contains("CertificateRequired"),
        "the server's alert reached the client: {client_err}"
    );
}

#[tokio::test]
async fn a_peer_leaving_during_the_handshake_is_an_unexpected_end() {
    let s = setup().await;
    let addr = s.listener.local_addr().expect("address");
    let leaving = async {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        // The start of a ClientHello record, then gone.
        tcp.write_all(&[0x16, 0x03, 0x01, 0x01, 0x00, 0x01])
            .await
            .expect("write");
    };
    let ((), server) = tokio::join!(leaving, s.accept());
    let err = server.err().expect("no handshake");
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
}

#[tokio::test]
async fn a_handshake_message_in_endless_tiny_records_is_refused_at_the_bound() {
    let s = setup().await;
    let addr = s.listener.local_addr().expect("address");
    let flooding = async {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        // A ClientHello header announcing 60 000 bytes, then its body one byte per record:
        // six bytes held per byte of the message, which never completes.
        let mut flood = vec![0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0xea, 0x60];
        for _ in 0..(MAX_INCOMING / 6 + 1000) {
            flood.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x01, 0x00]);
        }
        // The server stops reading (and closes) once over its bound.
        let _ = tcp.write_all(&flood).await;
        tcp
    };
    let (_tcp, server) = tokio::join!(flooding, s.accept());
    let err = server.err().expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
}

#[tokio::test]
async fn a_peer_that_does_not_read_stalls_the_writer_with_one_chunk_held() {
    let s = setup().await;
    let (_client, mut server) = s.pair().await;
    let chunk = pattern(WRITE_CHUNK, 3);
    let mut accepted = 0usize;
    // The socket buffers on both sides fill, then writes are no longer taken.
    for _ in 0..100_000 {
        match server.write(&chunk).now_or_never() {
            Some(Ok(n)) => accepted += n,
            Some(Err(e)) => panic!("write failed: {e}"),
            None => break,
        }
        tokio::task::yield_now().await;
    }
    assert!(
        accepted < 100_000 * WRITE_CHUNK,
        "a peer that does not read never stalled the writer"
    );
    assert!(
        server.buffered_capacity() <= 2 * WRITE_CHUNK,
        "a stalled writer holds one chunk's ciphertext, not {} bytes",
        server.buffered_capacity()
    );
}

/// A client's TCP stream that keeps a copy of every byte it reads: the TLS records as they
/// arrived.
struct Recording {
    tcp: TcpStream,
    seen: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl tokio::io::AsyncRead for Recording {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.tcp).poll_read(cx, buf);
        let read = buf.filled()[before..].to_vec();
        self.seen.lock().expect("recording").extend_from_slice(&read);
        polled
    }
}

impl tokio::io::AsyncWrite for Recording {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.tcp).poll_write(cx, data)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// The lengths of the TLS records in `raw` (whole records only).
fn record_lengths(raw: &[u8]) -> Vec<usize> {
    let mut lens = Vec::new();
    let mut at = 0;
    while at + 5 <= raw.len() {
        let len = usize::from(u16::from_be_bytes([raw[at + 3], raw[at + 4]]));
        if at + 5 + len > raw.len() {
            break;
        }
        lens.push(len);
        at += 5 + len;
    }
    lens
}

#[tokio::test]
async fn a_vectored_write_puts_each_buffer_in_records_of_its_own() {
    let s = setup().await;
    let device = s.device();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let connecting = async {
        let roots = net_tls::roots([s.ca.cert_pem()], "CA").expect("roots");
        let identity = PemIdentity {
            cert_pem: &device.cert_pem,
            key_pem: &device.key_pem,
            name: "device",
        };
        let config = net_tls::client_config(roots, Some(identity)).expect("client configuration");
        let tcp = TcpStream::connect(s.listener.local_addr().expect("address"))
            .await
            .expect("connect");
        let recording = Recording {
            tcp,
            seen: Arc::clone(&seen),
        };
        let name = ServerName::try_from("localhost").expect("name");
        TlsConnector::from(Arc::new(config))
            .connect(name, recording)
            .await
            .expect("client handshake")
    };
    let (mut client, server) = tokio::join!(connecting, s.accept());
    let mut server = server.expect("server handshake");
    assert!(tokio::io::AsyncWrite::is_write_vectored(&server));

    // One byte alone: its record's length minus one is the records' overhead.
    server.write_all(b"x").await.expect("write");
    server.flush().await.expect("flush");
    client.read_exact(&mut [0]).await.expect("read");
    let overhead = *record_lengths(&seen.lock().expect("recording"))
        .last()
        .expect("a record")
        - 1;

    // Three buffers in one write: 7 bytes, 100 bytes and 600 bytes (two records of at most 512).
    let (a, b, c) = (pattern(7, 1), pattern(100, 2), pattern(600, 3));
    let bufs = [
        std::io::IoSlice::new(&a),
        std::io::IoSlice::new(&b),
        std::io::IoSlice::new(&c),
    ];
    let before = record_lengths(&seen.lock().expect("recording")).len();
    let n = server.write_vectored(&bufs).await.expect("vectored write");
    assert_eq!(n, 707, "all three taken by one write");
    server.flush().await.expect("flush");
    let mut got = vec![0; 707];
    client.read_exact(&mut got).await.expect("read");
    assert_eq!(got, [&a[..], &b, &c].concat());
    let records: Vec<usize> = record_lengths(&seen.lock().expect("recording"))[before..]
        .iter()
        .map(|len| len - overhead)
        .collect();
    assert_eq!(
        records,
        [7, 100, 512, 88],
        "one record per buffer, none across two"
    );

    // A write larger than a chunk takes one chunk, whole buffers first.
    let big = pattern(WRITE_CHUNK, 4);
    let bufs = [std::io::IoSlice::new(&a), std::io::IoSlice::new(&big)];
    let n = server.write_vectored(&bufs).await.expect("vectored write");
    assert_eq!(n, WRITE_CHUNK);
}
