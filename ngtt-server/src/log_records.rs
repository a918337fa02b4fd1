//! Received log records (NGTT LOGS and `PUT /v1/device/device_logs`) made ready to store, and
//! stored ones made ready to show, under one bound of what is inflated.
//!
//! A record's compressed parts — a `{"encoding": "base64-gzip"}` message and the
//! `exception_traceback` (base64 of gzip of JSON) — are inflated at most to
//! [`MAX_INFLATED_FIELD`] bytes each, and at most [`MAX_INFLATED_BATCH`] bytes in total per LOGS
//! frame or HTTP request. Messages are stored inflated; tracebacks are stored as sent (they are
//! only checked on receipt) and inflated again for display by the admin API with the very same
//! per-field bound, so a traceback shows exactly when it passed on receipt.

use ngtt_proto::payload::{decode_traceback, LogMessage, LogRecord};
use serde_json::{json, Value as Json};
use tracing::warn;

use crate::storage::LogEntry;

/// The most one compressed message or traceback is inflated to: 1 MiB.
pub(crate) const MAX_INFLATED_FIELD: usize = ngtt_proto::payload::MAX_INFLATED;

/// The most inflated per LOGS frame or HTTP request, all records together: 16 MiB. Beyond it,
/// messages are stored as sent (with a note) and tracebacks are stored unchecked.
pub(crate) const MAX_INFLATED_BATCH: usize = 16 << 20;

/// The log records among `items`, ready to store, and how many items were skipped because they
/// are not log records (each LOGS payload or HTTP body is judged record by record: one bad
/// record does not cost the others). Warns once per call, in the caller's span.
pub(crate) fn log_entries(items: &[minijson::Value]) -> (Vec<LogEntry>, usize) {
    let mut entries = Vec::with_capacity(items.len());
    let mut skipped = 0usize;
    let mut budget = Budget {
        left: MAX_INFLATED_BATCH,
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
    (entries, skipped)
}

/// What may still be inflated for one frame or request.
struct Budget {
    left: usize,
    warned: bool,
}

impl Budget {
    /// The per-field limit for the next field, or `None` once the batch's budget is spent.
    fn limit(&mut self) -> Option<usize> {
        if self.left == 0 {
            if !self.warned {
                warn!(
                    "log records inflate to more than {MAX_INFLATED_BATCH} bytes in one batch: \
                     the rest are stored as sent"
                );
                self.warned = true;
            }
            return None;
        }
        Some(self.left.min(MAX_INFLATED_FIELD))
    }

    fn spend(&mut self, n: usize) {
        self.left = self.left.saturating_sub(n);
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
                None => format!("[{encoding} message not inflated: batch budget spent] {content}"),
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
        let (entries, skipped) = log_entries(&[item(&record)]);
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
        let (entries, _) = log_entries(&[item(&record)]);
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
        let (entries, _) = log_entries(&items);
        let inflated = entries.iter().filter(|e| e.message == big).count();
        assert_eq!(inflated, MAX_INFLATED_BATCH / MAX_INFLATED_FIELD);
        assert!(entries[n - 1].message.contains("budget spent"));
    }
}
