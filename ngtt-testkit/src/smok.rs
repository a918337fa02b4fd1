//! `smok-client` devices for the end-to-end tests: one builder for both transports, with
//! timings short enough that reconnects and retries happen within milliseconds.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use ngtt_proto::payload::{Advise, PathpointSeries, PathpointValue, ReadError, Sample};
use smok_client::pathpoint::PathpointIo;
use smok_client::{DeviceOrder, DeviceOrders, LinkState, SmokDevice, SmokDeviceBuilder, Via};
use smok_http::{AuthMode, HttpConfig};
use tokio::time::timeout;

use crate::{test_backoff, test_timings, TestPki, TestServer, WAIT};

/// 2026-11-25 00:00:00 UTC in ms: the timestamp of test samples.
pub const T0: u64 = 1_795_564_800_000;

/// Which transport carries a device's orders, logs and pathpoint data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `use_ngtt(true)`: one persistent NGTT connection.
    Ngtt,
    /// `use_ngtt(false)`: the device HTTP API, orders polled.
    Http,
}

impl Mode {
    /// What [`DeviceOrder::via`] says for an order of this mode.
    pub fn via(self) -> Via {
        match self {
            Mode::Ngtt => Via::Ngtt,
            Mode::Http => Via::Http,
        }
    }
}

/// How often an HTTP-mode test device polls for orders.
pub const TEST_POLL: Duration = Duration::from_millis(50);

/// Device `id` of `pki` (issued on the spot) in `mode`, NGTT at `ngtt`, the HTTP API at
/// `http` (both on loopback, verified against the test CA), with test timings: 50 ms polls,
/// HTTP retries from 10 ms to 100 ms, NGTT reconnects from 20 ms.
pub fn device_builder(
    pki: &TestPki,
    id: &str,
    mode: Mode,
    ngtt: SocketAddr,
    http: SocketAddr,
) -> SmokDeviceBuilder {
    let device = pki.device(id);
    SmokDevice::builder(device.cert_pem, device.key_pem)
        .ca_pem(pki.ca_pem())
        .use_ngtt(mode == Mode::Ngtt)
        .ngtt_server(ngtt.to_string())
        .ngtt_server_name("localhost")
        .http_base_url(format!("https://{http}"))
        .http_timeouts(Duration::from_secs(2), Duration::from_secs(5))
        .poll_interval(TEST_POLL)
        .http_retry(Duration::from_millis(10), Duration::from_millis(100))
        .ngtt_timings(test_timings())
        .ngtt_backoff(test_backoff())
}

/// Starts a server with its NGTT listener on `ngtt` and the device HTTP API on `http`
/// (`127.0.0.1:0` for fresh ports), its database at `db`.
pub async fn start_server(pki: &TestPki, db: PathBuf, ngtt: SocketAddr, http: SocketAddr) -> TestServer {
    TestServer::start_at(pki, db, ngtt, |c| c.http_listen = Some(http)).await
}

/// A loopback address nothing listens on right now (bound, then released): where a server
/// will be started later, and restarted.
///
/// Taken below the kernel's range of ephemeral ports when there is room (Linux:
/// `ip_local_port_range`, 32768–60999 by default): a port of that range, once released, may
/// become the source port of any outgoing connection of a test running alongside, and the
/// server's later bind then fails with "address in use". Each call of a process gets a port of
/// its own (a counter, from an offset of the process id); two test processes may still pick
/// the same one only if both find it free at once.
pub fn vacant_addr() -> SocketAddr {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next().and_then(|p| p.parse::<u32>().ok()))
        .unwrap_or(0);
    const FIRST: u32 = 10_000;
    if low > FIRST + 1_000 {
        let span = low - FIRST;
        let offset = std::process::id().wrapping_mul(7919) % span;
        for _ in 0..span {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let port = FIRST + (offset + n) % span;
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port as u16)) {
                return listener.local_addr().expect("address");
            }
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// `127.0.0.1:0`.
pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Ten samples of `path`, a second apart from [`T0`], valued 0 to 9.
pub fn ten_samples(path: &str) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new(
        path,
        (0..10).map(|k| Sample::value(T0 + k * 1000, k as i64)),
    )]
}

/// The device's next order, failing the test after [`WAIT`].
pub async fn next_order(orders: &mut DeviceOrders) -> DeviceOrder {
    timeout(WAIT, orders.recv())
        .await
        .expect("an order in time")
        .expect("the device is open")
}

/// Waits until `done` holds for the device's link state, failing the test after [`WAIT`].
pub async fn until_link(device: &SmokDevice, what: &str, done: impl Fn(&LinkState) -> bool) {
    let mut states = device.watch_link_state();
    timeout(WAIT, states.wait_for(|s| done(s)))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for the link to be {what}"))
        .expect("the device is open");
}

/// A server with its database in `pki`'s scratch space and the device HTTP API on
/// `127.0.0.1:0`: over HTTPS with client certificates, or — `behind_proxy` — plain HTTP that
/// trusts the client-certificate header, as behind a TLS-terminating proxy.
pub async fn start_http_server(pki: &TestPki, behind_proxy: bool) -> TestServer {
    TestServer::start(pki, pki.scratch("ngtt.db"), |c| {
        c.http_listen = Some(any_port());
        c.trust_proxy_header = behind_proxy;
        c.http_plain = behind_proxy;
    })
    .await
}

/// The `smok-http` configuration of device `id` of `pki` (issued on the spot) against
/// `server`'s device HTTP API: HTTPS with its certificate, or the header over plain HTTP for a
/// server started `behind_proxy`.
pub fn http_config(pki: &TestPki, server: &TestServer, id: &str, behind_proxy: bool) -> HttpConfig {
    let cert = pki.device(id);
    let config = HttpConfig::new(cert.cert_pem, cert.key_pem);
    match behind_proxy {
        true => config
            .with_auth(AuthMode::ProxyHeader)
            .with_base_url(format!("http://{}", server.http_addr())),
        false => config
            .with_ca_pem(pki.ca_pem())
            .with_base_url(format!("https://localhost:{}", server.http_addr().port())),
    }
}

/// A pathpoint's I/O whose every read gives the same integer and whose writes succeed (and
/// change nothing).
#[derive(Clone, Copy, Debug)]
pub struct ConstantIo(pub i64);

impl PathpointIo for ConstantIo {
    async fn read(&self, _: &str, _: Advise) -> Result<PathpointValue, ReadError> {
        Ok(PathpointValue::Int(self.0))
    }
    async fn write(&self, _: &str, _: PathpointValue, _: Advise) -> Result<(), ReadError> {
        Ok(())
    }
}
