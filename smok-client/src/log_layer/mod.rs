//! A [`tracing_subscriber::Layer`] that turns the application's log events into NGTT log
//! records (NGTT.md §6) and hands them to a [`LogSink`].
//!
//! ```
//! use smok_client::log_layer::{BufferedSink, SmokLogLayer};
//! use tracing_subscriber::prelude::*;
//!
//! let sink = BufferedSink::default(); // 20 000 records, oldest dropped first
//! let layer = SmokLogLayer::new(sink.clone()).with_min_level(tracing::Level::INFO);
//! tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
//!     tracing::warn!(target: "boiler", pressure = 3.5, "too high");
//! });
//! let records = sink.drain(10);
//! assert_eq!(records[0].service, "boiler");
//! assert_eq!(records[0].level.0, 30);
//! assert_eq!(records[0].message.text().unwrap(), "too high pressure=3.5");
//! ```
//!
//! * **Record.** `service` is the configured service name, or else the event's target;
//!   `when` is the clock's time in µs, strictly increasing per [`WhenSequencer`] (a tie or a
//!   step back is bumped to last + 1 µs); `message` is the `message` field followed by the
//!   other fields as `key=value`, gzip+base64 compressed when over 1 000 characters and shorter
//!   so ([`LogMessage::new`]); `level` maps TRACE/DEBUG → 10, INFO → 20, WARN → 30, ERROR → 40.
//!   Span fields are not included.
//! * **Exceptions.** The first field recorded as an error (`error = &e as &dyn Error`) gives
//!   the record `exception_text` — the error and its `source()` chain, as `anyhow` prints it —
//!   and `exception_traceback`, the published clients' JSON document (HTTP-API.md §8), gzip +
//!   base64, with one frame per cause from the root cause outward, at the event's file and
//!   line. String fields named `exception` and `traceback` give the text and the document's
//!   `formatted_traceback` instead. The two keys are always sent together.
//! * **Filter.** Events below the minimum level (default INFO) are ignored, and so are events
//!   whose target is, or is a module of, an excluded target ([`DEFAULT_EXCLUDED_TARGETS`]: the
//!   client's and transports' own crates, whose events could otherwise feed back into the
//!   upload). The filtering is done by this layer alone: other layers still see every event.
//! * **Never blocks, never recurses.** Formatting and queueing happen on the caller's thread
//!   with only short locks and no I/O. An event emitted on a thread while the layer handles
//!   one there (by the sink, a `Debug` impl...) is not captured: `tracing` itself drops events
//!   emitted during a dispatch on the same thread, and the layer keeps its own per-thread
//!   guard as well. Events of other threads (a transport's background task) are kept out by
//!   the excluded targets.

mod exception;
mod fields;
mod sink;
mod when;

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::Arc;

use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

pub use fields::level_of;
pub use ngtt_proto::payload::{Level, LogMessage, LogRecord};
pub use sink::{BufferedSink, LogSink, TransportSink};
pub use when::{next_when, WhenSequencer};

use crate::clock::{epoch_micros, Clock, SystemClock};
use fields::EventText;

/// Targets whose events (and those of their modules) are never captured: the plumbing that
/// uploads logs, so that uploading cannot log about itself in a loop.
pub const DEFAULT_EXCLUDED_TARGETS: &[&str] = &[
    "smok_client",
    "smok_http",
    "ngtt_transport",
    "ngtt_proto",
    "minijson",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "tokio",
    "tokio_util",
    "tower",
    "mio",
];

thread_local! {
    /// Set while this thread is inside [`SmokLogLayer::on_event`].
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Marks the thread busy; `None` when it already is (a nested event).
struct Busy;

impl Busy {
    fn enter() -> Option<Busy> {
        BUSY.with(|busy| (!busy.replace(true)).then_some(Busy))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.with(|busy| busy.set(false));
    }
}

/// The layer: see the [module docs](self).
pub struct SmokLogLayer<K> {
    sink: K,
    service: Option<String>,
    min_level: tracing::Level,
    excluded: Vec<Cow<'static, str>>,
    clock: Arc<dyn Clock>,
    sequencer: Arc<WhenSequencer>,
}

impl<K: std::fmt::Debug> std::fmt::Debug for SmokLogLayer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmokLogLayer")
            .field("sink", &self.sink)
            .field("service", &self.service)
            .field("min_level", &self.min_level)
            .field("excluded", &self.excluded)
            .finish_non_exhaustive()
    }
}

impl<K: LogSink> SmokLogLayer<K> {
    /// A layer feeding `sink`: service = event target, minimum level INFO, the
    /// [`DEFAULT_EXCLUDED_TARGETS`], the system clock and a fresh [`WhenSequencer`].
    pub fn new(sink: K) -> Self {
        SmokLogLayer {
            sink,
            service: None,
            min_level: tracing::Level::INFO,
            excluded: DEFAULT_EXCLUDED_TARGETS
                .iter()
                .map(|t| Cow::Borrowed(*t))
                .collect(),
            clock: Arc::new(SystemClock),
            sequencer: Arc::new(WhenSequencer::new()),
        }
    }

    /// Every record gets `service` as its service, instead of the event's target.
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// Ignores events less severe than `level` (e.g. `Level::WARN` keeps WARN and ERROR).
    pub fn with_min_level(mut self, level: tracing::Level) -> Self {
        self.min_level = level;
        self
    }

    /// Also ignores events of `target` and of its modules (`target::...`).
    pub fn exclude_target(mut self, target: impl Into<Cow<'static, str>>) -> Self {
        self.excluded.push(target.into());
        self
    }

    /// Reads the time from `clock`.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Stamps records with `sequencer`, shared with whatever else makes records for the device.
    pub fn with_sequencer(mut self, sequencer: Arc<WhenSequencer>) -> Self {
        self.sequencer = sequencer;
        self
    }

    /// The sequencer stamping this layer's records.
    pub fn sequencer(&self) -> &Arc<WhenSequencer> {
        &self.sequencer
    }

    /// The sink.
    pub fn sink(&self) -> &K {
        &self.sink
    }

    /// True when an event with `meta` is turned into a record.
    pub fn captures(&self, meta: &Metadata<'_>) -> bool {
        // tracing orders levels by verbosity: ERROR < WARN < ... < TRACE.
        *meta.level() <= self.min_level && !self.is_excluded(meta.target())
    }

    fn is_excluded(&self, target: &str) -> bool {
        self.excluded.iter().any(|ex| {
            target
                .strip_prefix(ex.as_ref())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }

    fn record(&self, event: &Event<'_>) -> LogRecord {
        let meta = event.metadata();
        let mut text = EventText::default();
        event.record(&mut text);
        let record = LogRecord::new(
            self.service.clone().unwrap_or_else(|| meta.target().to_owned()),
            0,
            level_of(*meta.level()),
            text.message(),
        );
        let causes = text.error_chain.take().unwrap_or_default();
        if causes.is_empty() && text.exception.is_none() && text.traceback.is_none() {
            return record;
        }
        let chain_text = exception::text(&causes);
        let exception_text = text
            .exception
            .take()
            .or_else(|| (!causes.is_empty()).then(|| chain_text.clone()))
            .or_else(|| text.traceback.clone())
            .unwrap_or_default();
        let formatted = text.traceback.take().unwrap_or_else(|| exception_text.clone());
        let site = exception::Site {
            file: meta.file(),
            line: meta.line(),
        };
        let document = exception::traceback_document(&causes, site, &formatted);
        record.with_exception(exception_text, document.to_string().as_bytes())
    }
}

impl<S: Subscriber, K: LogSink + 'static> Layer<S> for SmokLogLayer<K> {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !self.captures(event.metadata()) {
            return;
        }
        let Some(_busy) = Busy::enter() else {
            return;
        };
        let mut record = self.record(event);
        let now = epoch_micros(self.clock.now());
        self.sequencer.issue(now, |when| {
            record.when = when;
            self.sink.push(record);
        });
    }
}
