//! Received log records (NGTT LOGS and `PUT /v1/device/device_logs`) made ready to store, and
//! stored ones made ready to show, under one bound of what is inflated.
//!
//! A record's compressed parts — a `{"encoding": "base64-gzip"}` message and the
//! `exception_traceback` (base64 of gzip of JSON) — are inflated at most to
//! [`MAX_INFLATED_FIELD`] bytes each, at most [`MAX_INFLATED_BATCH`] bytes in total per LOGS
//! frame or HTTP request, and at most [`MAX_INFLATED_PER_MINUTE`] bytes per device and minute,
//! NGTT and HTTP together ([`InflateLimits`]). Messages are stored inflated; tracebacks are stored as sent (they are
//! only checked on receipt) and inflated again for display by the admin API with the very same
//! per-field bound, so a traceback shows exactly when it passed on receipt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ngtt_proto::payload::{decode_traceback, LogMessage, LogRecord};
use serde_json::{json, Value as Json};
use tracing::warn;

use crate::storage::LogEntry;

/// The most one compressed message or traceback is inflated to: 1 MiB.
pub(crate) const MAX_INFLATED_FIELD: usize = ngtt_proto::payload::MAX_INFLATED;

/// The most inflated per LOGS frame or HTTP request, all records together: 16 MiB. Beyond it,
/// messages are stored as sent (with a note) and tracebacks are stored unchecked.
pub(crate) const MAX_INFLATED_BATCH: usize = 16 << 20;

/// The most inflated per device and minute, NGTT and HTTP together: 64 MiB.
pub(crate) const MAX_INFLATED_PER_MINUTE: usize = 64 << 20;

/// What each device may still inflate in its current minute. Cheap to clone (shared); one
/// entry of a few dozen bytes per device that ever sent compressed logs.
#[derive(Clone, Default)]
pub(crate) struct InflateLimits {
    windows: Arc<Mutex<HashMap<String, Window>>>,
}

/// One device's minute: when it started and what was inflated since.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    used: usize,
}

impl Window {
    const LENGTH: Duration = Duration::from_secs(60);

    /// What may still be inflated at `now` (a new minute starts once the last one is over).
    fn available(&mut self, now: Instant, per_minute: usize) -> usize {
        if now.duration_since(self.start) >= Window::LENGTH {
            *self = Window { start: now, used: 0 };
        }
        per_minute.saturating_sub(self.used)
    }
}

impl InflateLimits {
    /// The log records among `items` of `device`, ready to store, and how many items were
    /// skipped because they are not log records (each LOGS payload or HTTP body is judged
    /// record by record: one bad record does not cost the others). Inflates within the
    /// device's allowance for this minute, and charges it. Warns once per call.
    pub(crate) fn log_entries(&self, device: &str, items: &[minijson::Value]) -> (Vec<LogEntry>, usize) {
        let now = Instant::now();
        let allowance = self.take(device, now, 0);
        let (entries, skipped, inflated) = log_entries(items, allowance.min(MAX_INFLATED_BATCH));
        self.take(device, now, inflated);
        (entries, skipped)
    }

    /// Charges `used` bytes to `device` at `now`; returns what is left of its minute.
    fn take(&self, device: &str, now: Instant, used: usize) -> usize {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows
            .entry(device.to_owned())
            .or_insert(Window { start: now, used: 0 });
        let available = window.available(now, MAX_INFLATED_PER_MINUTE);
        window.used = window.used.saturating_add(used);
        available.saturating_sub(used)
    }
}

/// The log records among `items` with at most `budget` bytes inflated in all: the records, how
/// many items were skipped, and how many bytes were inflated.
fn log_entries(items: &[minijson::Value], budget: usize) -> (Vec<LogEntry>, usize, usize) {
    let mut entries = Vec::with_capacity(items.len());
    let mut skipped = 0usize;
    let mut budget = Budget {
        left: budget,
        spent: 0,
        warned: false,
    };
    for item in items {
        match minijson::from_value::<LogRecord>(item) {
            Ok(record) => entries.push(log_entry(record, &mut budget)),
            Err(e) => {
                if skipped == 0 {
                    warn!("skipping invalid log record: {e}");
                }
                skipped += 1;
            }
        }
    }
    if skipped > 1 {
        warn!(skipped, "skipped invalid log records");
    }
    (entries, skipped, budget.spent)
}

/// What may still be inflated for one frame or request.
struct Budget {
    left: usize,
    spent: usize,
    warned: bool,
}

impl Budget {
    /// The per-field limit for the next field, or `None` once the batch's budget is spent.
    fn limit(&mut self) -> Option<usize> {
        if self.left == 0 {
            if !self.warned {
                warn!(
                    "log records inflate beyond the bound ({MAX_INFLATED_BATCH} bytes per frame \
                     or request, {MAX_INFLATED_PER_MINUTE} per device and minute): the rest are \
                     stored as sent"
                );
                self.warned = true;
            }
            return None;
        }
        Some(self.left.min(MAX_INFLATED_FIELD))
    }

    fn spend(&mut self, n: usize) {
        self.left = self.left.saturating_sub(n);
        self.spent = self.spent.saturating_add(n);
    }
}

fn log_entry(record: LogRecord, budget: &mut Budget) -> LogEntry {
    let message = match &record.message {
        LogMessage::Text(t) => t.clone(),
        LogMessage::Encoded { encoding, content } => {
            let decoded = budget.limit().map(|limit| record.message.text_within(limit));
            match decoded {
                Some(Ok(text)) => {
                    budget.spend(text.len());
                    text.into_owned()
                }
                Some(Err(e)) => {
                    warn!("storing a log message that cannot be inflated as sent: {e}");
                    format!("[undecodable {encoding} message] {content}")
                }
                None => format!("[{encoding} message not inflated: budget spent] {content}"),
            }
        }
    };
    if let Some(traceback) = &record.exception_traceback {
        if let Some(limit) = budget.limit() {
            match decode_traceback(traceback, limit) {
                Ok(json) => budget.spend(json.len()),
                Err(e) => warn!("storing an exception_traceback that cannot be shown: {e}"),
            }
        }
    }
    LogEntry {
        id: 0,
        service: record.service,
        when_us: record.when,
        level: record.level.0,
        message,
        exception_text: record.exception_text,
        exception_traceback: record.exception_traceback,
        received_at_ms: 0,
    }
}

/// A stored `exception_traceback` for display: the JSON document it carries, inflated under
/// the same per-field bound as on receipt; `{"undecodable": reason}` when it cannot be (not
/// base64 of gzip, too large, or not JSON).
pub(crate) fn traceback_for_display(stored: &str) -> Json {
    match decode_traceback(stored, MAX_INFLATED_FIELD) {
        Ok(text) => match serde_json::from_str::<Json>(&text) {
            Ok(document) => document,
            Err(e) => json!({ "undecodable": format!("exception_traceback is not JSON: {e}") }),
        },
        Err(e) => json!({ "undecodable": e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngtt_proto::payload::Level;

    fn item(record: &LogRecord) -> minijson::Value {
        minijson::to_value(record).unwrap()
    }

    #[test]
    fn tracebacks_are_kept_as_sent_and_shown_decoded() {
        let doc = br#"{"frames":[],"formatted_traceback":"Traceback (most recent call last)"}"#;
        let record = LogRecord::new("s", 1, Level::ERROR, "m").with_exception("E: x", doc);
        let (entries, skipped) = InflateLimits::default().log_entries("d", &[item(&record)]);
        assert_eq!(skipped, 0);
        assert_eq!(entries[0].exception_text.as_deref(), Some("E: x"));
        assert_eq!(entries[0].exception_traceback, record.exception_traceback);
        let shown = traceback_for_display(entries[0].exception_traceback.as_deref().unwrap());
        assert_eq!(shown["formatted_traceback"], "Traceback (most recent call last)");
        assert!(traceback_for_display("%%%")["undecodable"].is_string());
    }

    #[test]
    fn what_is_inflated_is_bounded_per_field_and_per_batch() {
        // A message and a traceback each inflating beyond the per-field bound.
        let huge = "x".repeat(MAX_INFLATED_FIELD + 1);
        let record = LogRecord::new("s", 1, Level::INFO, huge.clone()).with_exception("E", huge.as_bytes());
        let (entries, _, _) = log_entries(&[item(&record)], MAX_INFLATED_BATCH);
        assert!(entries[0]
            .message
            .starts_with("[undecodable base64-gzip message]"));
        let shown = traceback_for_display(entries[0].exception_traceback.as_deref().unwrap());
        assert!(
            shown["undecodable"].as_str().unwrap().contains("more than"),
            "{shown}"
        );
        // Records within the per-field bound, but together beyond the batch's.
        let big = "y".repeat(MAX_INFLATED_FIELD);
        let record = LogRecord::new("s", 1, Level::INFO, big.clone());
        let n = MAX_INFLATED_BATCH / MAX_INFLATED_FIELD + 2;
        let items: Vec<_> = (0..n).map(|_| item(&record)).collect();
        let (entries, _, spent) = log_entries(&items, MAX_INFLATED_BATCH);
        let inflated = entries.iter().filter(|e| e.message == big).count();
        assert_eq!(inflated, MAX_INFLATED_BATCH / MAX_INFLATED_FIELD);
        assert_eq!(spent, MAX_INFLATED_BATCH);
        assert!(entries[n - 1].message.contains("budget spent"));
    }

    #[test]
    fn each_device_has_its_minute() {
        let limits = InflateLimits::default();
        let t0 = Instant::now();
        assert_eq!(limits.take("a", t0, 0), MAX_INFLATED_PER_MINUTE);
        assert_eq!(limits.take("a", t0, 1000), MAX_INFLATED_PER_MINUTE - 1000);
        assert_eq!(
            limits.take("a", t0 + Duration::from_secs(30), MAX_INFLATED_PER_MINUTE),
            0
        );
        assert_eq!(limits.take("a", t0 + Duration::from_secs(59), 0), 0);
        assert_eq!(
            limits.take("b", t0, 0),
            MAX_INFLATED_PER_MINUTE,
            "another device's minute"
        );
        // A new minute starts once the last one is over.
        assert_eq!(
            limits.take("a", t0 + Duration::from_secs(60), 0),
            MAX_INFLATED_PER_MINUTE
        );
    }
}
