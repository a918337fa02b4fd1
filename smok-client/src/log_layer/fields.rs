//! Turning a `tracing` event's fields into the text of a log record.

use std::fmt::{self, Write as _};

use ngtt_proto::payload::Level;
use tracing::field::{Field, Visit};

use super::exception::{chain, Cause};

/// The fields of one event, formatted.
#[derive(Debug, Default)]
pub(crate) struct EventText {
    message: String,
    others: String,
    /// The `exception` field, if the event has one.
    pub exception: Option<String>,
    /// The `traceback` field, if the event has one.
    pub traceback: Option<String>,
    /// The chain of the first field recorded as an error (`error = &e as &dyn Error`).
    pub error_chain: Option<Vec<Cause>>,
}

impl EventText {
    /// The record's message: the `message` field, then every other field as `key=value`,
    /// separated by spaces.
    pub fn message(&self) -> String {
        match (self.message.is_empty(), self.others.is_empty()) {
            (_, true) => self.message.clone(),
            (true, false) => self.others.clone(),
            (false, false) => format!("{} {}", self.message, self.others),
        }
    }

    fn put(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        match field.name() {
            "message" => {
                let _ = self.message.write_fmt(value);
            }
            "exception" => self.exception = Some(value.to_string()),
            "traceback" => self.traceback = Some(value.to_string()),
            // Metadata added by `tracing-log` for events of the `log` crate.
            name if name.starts_with("log.") => {}
            name => {
                if !self.others.is_empty() {
                    self.others.push(' ');
                }
                let _ = write!(self.others, "{name}={value}");
            }
        }
    }
}

impl Visit for EventText {
    /// Values as `tracing-subscriber`'s `fmt` shows them: `%x` with `Display`, `?x` and plain
    /// strings with `Debug` (quoted).
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format_args!("{value:?}"));
    }

    /// The message, exception and traceback as they are; other strings quoted.
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" | "exception" | "traceback" => self.put(field, format_args!("{value}")),
            _ => self.put(field, format_args!("{value:?}")),
        }
    }

    /// Errors with `Display`; the first error field also gives the record its exception.
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.error_chain.is_none() {
            self.error_chain = Some(chain(value));
        }
        self.put(field, format_args!("{value}"));
    }
}

/// The Python logging level of a `tracing` level: TRACE and DEBUG 10, INFO 20, WARN 30,
/// ERROR 40.
pub fn level_of(level: tracing::Level) -> Level {
    match level {
        tracing::Level::TRACE | tracing::Level::DEBUG => Level::DEBUG,
        tracing::Level::INFO => Level::INFO,
        tracing::Level::WARN => Level::WARNING,
        tracing::Level::ERROR => Level::ERROR,
    }
}
