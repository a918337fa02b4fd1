//! [`CapturedLogs`]: everything a test binary logs through `tracing`, kept for the tests that
//! check what reached the log (escaping, warnings logged once). A test binary has one global
//! subscriber, so the capture is installed by the first call and shared by every test of the
//! binary; tests look for strings only they produce.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// The log text of this test binary so far (a cheap handle to one shared buffer).
#[derive(Clone)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs the capture (at DEBUG, without ANSI colours) on the first call; the same
    /// buffer afterwards. Captures nothing if another subscriber came first (only
    /// [`crate::init_logging`] installs one, and only with `RUST_LOG` set).
    pub fn install() -> CapturedLogs {
        static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = CapturedLogs(Arc::new(Mutex::new(Vec::new())));
            let sink = logs.clone();
            let _ = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .with_writer(move || sink.clone())
                .try_init();
            logs
        })
        .clone()
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// How many times `needle` occurs in the log.
    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
