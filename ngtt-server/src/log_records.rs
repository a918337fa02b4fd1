//! Received log records (NGTT LOGS and `PUT /v1/device/device_logs`) made ready to store, and
//! stored ones made ready to show, under one bound of what is inflated.
//!
//! A record's compressed parts — a `{"encoding": "base64-gzip"}` message and the
//! `exception_traceback` (base64 of gzip of JSON) — are inflated at most to
//! [`Budgets::inflated_per_field`] bytes each, at most [`Budgets::inflated_per_request`] bytes
//! in total per LOGS frame or HTTP request, and at most [`Budgets::inflated_per_minute`] bytes
//! per device and minute, NGTT and HTTP together ([`InflateLimits`]). Messages are stored
//! inflated; tracebacks are stored as sent (they are only checked on receipt) and inflated
//! again for display by the admin API with the very same per-field bound, so a traceback shows
//! exactly when it passed on receipt. Records are made ready batch by batch
//! ([`crate::log_batches`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ngtt_proto::payload::{decode_traceback, LogMessage, LogRecord};
use ngtt_proto::Escaped;
use serde_json::{json, Value as Json};
use tracing::warn;

use crate::budgets::Budgets;
use crate::storage::LogEntry;

/// What each device may still inflate in its current minute. Cheap to clone (shared); one
/// entry of a few dozen bytes per device that sent compressed logs in the last minute
/// ([`InflateLimits::forget_expired`] drops the others).
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
    /// What `device` may still inflate at `now` (`per_minute` a minute), after charging it
    /// `used` bytes.
    pub(crate) fn take(&self, device: &str, now: Instant, used: usize, per_minute: usize) -> usize {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows
            .entry(device.to_owned())
            .or_insert(Window { start: now, used: 0 });
        let available = window.available(now, per_minute);
        window.used = window.used.saturating_add(used);
        available.saturating_sub(used)
    }

    /// Forgets the devices whose minute is over at `now`: their next minute starts afresh
    /// anyway, so a device that left keeps nothing here.
    pub(crate) fn forget_expired(&self, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.retain(|_, w| now.saturating_duration_since(w.start) < Window::LENGTH);
        crate::memory::shrink_sparse(&mut windows);
    }

    /// Devices with a minute in progress.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.windows.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// What went wrong with a frame's or request's log records, for one warning per frame or
/// request (HTTP) or per connection (NGTT) rather than one per record: a peer chooses how many
/// records it sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LogNotes {
    /// Items skipped because they are not log records.
    pub(crate) skipped: usize,
    /// Why the first of them is not a log record.
    pub(crate) first_invalid: Option<String>,
    /// Why the first message or traceback that could not be inflated could not be (it is
    /// stored as sent).
    pub(crate) first_undecodable: Option<String>,
    /// Some compressed parts were stored as sent because the inflation budget was spent.
    pub(crate) budget_spent: bool,
}

impl LogNotes {
    /// Logs what is noted, as one warning each, with the escaped device id (`None`: the
    /// span already names the device).
    pub(crate) fn warn(&self, device: Option<&str>) {
        let device = device.map(|d| tracing::field::display(Escaped(d)));
        if let Some(e) = &self.first_invalid {
            warn!(
                device,
                skipped = self.skipped,
                "skipping invalid log records; the first: {}",
                Escaped(e)
            );
        }
        if let Some(e) = &self.first_undecodable {
            warn!(
                device,
                "storing log parts that cannot be inflated as sent; the first: {}",
                Escaped(e)
            );
        }
        if self.budget_spent {
            warn!(
                device,
                "log records inflate beyond the bound (per frame or request, or per device and \
                 minute): the rest are stored as sent"
            );
        }
    }
}

/// What may still be inflated for one frame or request, and what went wrong so far.
#[derive(Debug)]
pub(crate) struct Budget {
    left: usize,
    /// What is left of the device's minute, as last taken ([`Budget::set_minute`]).
    minute: usize,
    spent: usize,
    per_field: usize,
    notes: LogNotes,
}

impl Budget {
    /// A frame's or request's budget.
    pub(crate) fn new(budgets: &Budgets) -> Budget {
        Budget {
            left: budgets.inflated_per_request,
            minute: budgets.inflated_per_minute,
            spent: 0,
            per_field: budgets.inflated_per_field,
            notes: LogNotes::default(),
        }
    }

    /// Bytes inflated so far.
    pub(crate) fn spent(&self) -> usize {
        self.spent
    }

    /// What went wrong so far.
    pub(crate) fn notes(&self) -> &LogNotes {
        &self.notes
    }

    /// What the device may still inflate this minute, as just taken from its
    /// [`InflateLimits`].
    pub(crate) fn set_minute(&mut self, left: usize) {
        self.minute = left;
    }

    /// The log record `item`, ready to store, inflated within the budget; `None` (counted and
    /// noted) when it is not a log record.
    pub(crate) fn entry(&mut self, item: &minijson::Value) -> Option<LogEntry> {
        match minijson::from_value::<LogRecord>(item) {
            Ok(record) => Some(log_entry(record, self)),
            Err(e) => {
                self.notes.skipped += 1;
                self.notes.first_invalid.get_or_insert_with(|| e.to_string());
                None
            }
        }
    }

    /// The per-field limit for the next field, or `None` (noted) once the budget is spent.
    fn limit(&mut self) -> Option<usize> {
        let left = self.left.min(self.minute);
        if left == 0 {
            self.notes.budget_spent = true;
            return None;
        }
        Some(left.min(self.per_field))
    }

    fn undecodable(&mut self, e: impl std::fmt::Display) {
        self.notes.first_undecodable.get_or_insert_with(|| e.to_string());
    }

    fn spend(&mut self, n: usize) {
        self.left = self.left.saturating_sub(n);
        self.minute = self.minute.saturating_sub(n);
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
                    budget.undecodable(&e);
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
                Err(e) => budget.undecodable(format!("exception_traceback: {e}")),
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
/// the same per-field bound as on receipt (`per_field`); `{"undecodable": reason}` when it
/// cannot be (not base64 of gzip, too large, or not JSON).
pub(crate) fn traceback_for_display(stored: &str, per_field: usize) -> Json {
    match decode_traceback(stored, per_field) {
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

    const FIELD: usize = crate::budgets::DEFAULT_INFLATED_PER_FIELD;
    const REQUEST: usize = crate::budgets::DEFAULT_INFLATED_PER_REQUEST;
    const MINUTE: usize = crate::budgets::DEFAULT_INFLATED_PER_MINUTE;

    fn item(record: &LogRecord) -> minijson::Value {
        minijson::to_value(record).unwrap()
    }

    fn entries(items: &[minijson::Value], budget: &mut Budget) -> Vec<LogEntry> {
        items.iter().filter_map(|i| budget.entry(i)).collect()
    }

    #[test]
    fn tracebacks_are_kept_as_sent_and_shown_decoded() {
        let doc = br#"{"frames":[],"formatted_traceback":"Traceback (most recent call last)"}"#;
        let record = LogRecord::new("s", 1, Level::ERROR, "m").with_exception("E: x", doc);
        let mut budget = Budget::new(&Budgets::default());
        let entries = entries(&[item(&record), minijson::Value::Null], &mut budget);
        assert_eq!(budget.notes().skipped, 1);
        assert!(budget.notes().first_invalid.is_some());
        assert_eq!(entries[0].exception_text.as_deref(), Some("E: x"));
        assert_eq!(entries[0].exception_traceback, record.exception_traceback);
        let shown = traceback_for_display(entries[0].exception_traceback.as_deref().unwrap(), FIELD);
        assert_eq!(shown["formatted_traceback"], "Traceback (most recent call last)");
        assert!(traceback_for_display("%%%", FIELD)["undecodable"].is_string());
    }

    #[test]
    fn what_is_inflated_is_bounded_per_field_and_per_request() {
        // A message and a traceback each inflating beyond the per-field bound.
        let huge = "x".repeat(FIELD + 1);
        let record = LogRecord::new("s", 1, Level::INFO, huge.clone()).with_exception("E", huge.as_bytes());
        let mut budget = Budget::new(&Budgets::default());
        let e = entries(&[item(&record)], &mut budget);
        assert!(e[0].message.starts_with("[undecodable base64-gzip message]"));
        assert!(budget.notes().first_undecodable.is_some(), "{:?}", budget.notes());
        let shown = traceback_for_display(e[0].exception_traceback.as_deref().unwrap(), FIELD);
        assert!(
            shown["undecodable"].as_str().unwrap().contains("more than"),
            "{shown}"
        );
        // Records within the per-field bound, but together beyond the request's.
        let big = "y".repeat(FIELD);
        let record = LogRecord::new("s", 1, Level::INFO, big.clone());
        let n = REQUEST / FIELD + 2;
        let items: Vec<_> = (0..n).map(|_| item(&record)).collect();
        let mut budget = Budget::new(&Budgets::default());
        let e = entries(&items, &mut budget);
        let inflated = e.iter().filter(|e| e.message == big).count();
        assert_eq!(inflated, REQUEST / FIELD);
        assert_eq!(budget.spent(), REQUEST);
        assert!(e[n - 1].message.contains("budget spent"));
        assert!(budget.notes().budget_spent);
        // The device's minute bounds it too.
        let mut budget = Budget::new(&Budgets::default());
        budget.set_minute(FIELD);
        let e = entries(&items[..3], &mut budget);
        assert_eq!(e.iter().filter(|e| e.message == big).count(), 1);
    }

    #[test]
    fn each_device_has_its_minute() {
        let limits = InflateLimits::default();
        let t0 = Instant::now();
        assert_eq!(limits.take("a", t0, 0, MINUTE), MINUTE);
        assert_eq!(limits.take("a", t0, 1000, MINUTE), MINUTE - 1000);
        assert_eq!(limits.take("a", t0 + Duration::from_secs(30), MINUTE, MINUTE), 0);
        assert_eq!(limits.take("a", t0 + Duration::from_secs(59), 0, MINUTE), 0);
        assert_eq!(limits.take("b", t0, 0, MINUTE), MINUTE, "another device's minute");
        // A new minute starts once the last one is over.
        assert_eq!(limits.take("a", t0 + Duration::from_secs(60), 0, MINUTE), MINUTE);
    }

    #[test]
    fn devices_whose_minute_is_over_are_forgotten() {
        let limits = InflateLimits::default();
        let t0 = Instant::now();
        limits.take("a", t0, 1000, MINUTE);
        limits.take("b", t0 + Duration::from_secs(30), 1000, MINUTE);
        limits.forget_expired(t0 + Duration::from_secs(59));
        assert_eq!(limits.tracked(), 2);
        limits.forget_expired(t0 + Duration::from_secs(60));
        assert_eq!(limits.tracked(), 1, "a's minute is over");
        // b's minute still counts what it used.
        assert_eq!(
            limits.take("b", t0 + Duration::from_secs(61), 0, MINUTE),
            MINUTE - 1000
        );
        limits.forget_expired(t0 + Duration::from_secs(90));
        assert_eq!(limits.tracked(), 0);
    }
}
