//! Device configurations for the tests: short backoff, so that reconnects happen within
//! milliseconds, and a reproducible jitter.

use std::net::SocketAddr;
use std::time::Duration;

use ngtt_transport::{BackoffConfig, Config, Timings};

use crate::TestPki;

/// Device `id` of `pki` (issued on the spot) connecting to `addr`: backoff from 20 ms to at
/// most 100 ms with a fixed seed, the default keepalive timings.
pub fn device_config(pki: &TestPki, id: &str, addr: SocketAddr) -> Config {
    let device = pki.device(id);
    Config::new(&addr.to_string(), pki.ca_pem(), device.cert_pem, device.key_pem)
        .expect("device config")
        .with_server_name("localhost")
        .with_backoff(BackoffConfig {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            seed: Some(7),
            ..BackoffConfig::default()
        })
}

/// Like [`device_config`], with [`test_timings`] (a dead link is noticed within seconds) and
/// [`test_backoff`] — for end-to-end tests through faulty links.
pub fn lively_device_config(pki: &TestPki, id: &str, addr: SocketAddr) -> Config {
    device_config(pki, id, addr)
        .with_timings(test_timings())
        .with_backoff(test_backoff())
}

/// NGTT keepalive timings for tests: a ping after 500 ms of silence, the link dead after 3 s.
pub fn test_timings() -> Timings {
    Timings {
        ping_after: Duration::from_millis(500),
        dead_after: Duration::from_secs(3),
        write_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(3),
    }
}

/// NGTT reconnect backoff for tests: 20 ms to 200 ms, reset after a second up.
pub fn test_backoff() -> BackoffConfig {
    BackoffConfig {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        reset_after: Duration::from_secs(1),
        jitter: 0.25,
        seed: Some(7),
    }
}
