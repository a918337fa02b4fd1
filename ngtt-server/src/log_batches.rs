//! Log records stored in bounded batches: the items of one LOGS frame or `PUT
//! /v1/device/device_logs` request are made ready ([`crate::log_records`]) and stored a batch
//! at a time — at most [`Budgets::log_batch_records`] records or [`Budgets::log_batch_bytes`]
//! bytes each, one transaction each — so one huge upload neither holds the storage writer for
//! long (other devices' commits go between its batches) nor holds all its inflated records in
//! memory at once.
//!
//! What is promised (docs/delivery-guarantees.md): the HTTP `2xx` goes out only after every
//! batch committed; a storage failure part-way answers `5xx`, the batches already committed
//! stay (logs are best effort and not deduplicated: a re-send duplicates them).

use std::time::Instant;

use crate::budgets::Budgets;
use crate::log_records::{Budget, InflateLimits, LogNotes};
use crate::storage::{Db, LogEntry, StorageError};

/// The batches of one frame or request, made on demand ([`LogBatches::next_batch`]).
pub(crate) struct LogBatches {
    items: std::vec::IntoIter<minijson::Value>,
    budget: Budget,
    budgets: Budgets,
}

impl LogBatches {
    /// The batches of `items` under `budgets`.
    pub(crate) fn new(items: Vec<minijson::Value>, budgets: Budgets) -> LogBatches {
        LogBatches {
            items: items.into_iter(),
            budget: Budget::new(&budgets),
            budgets,
        }
    }

    /// The next batch of `device`'s records, inflating within its minute in `limits` at
    /// `now` (and charging it); `None` when every item was taken. Items that are not log
    /// records are skipped and counted ([`LogBatches::notes`]); a batch is never empty.
    pub(crate) fn next_batch(
        &mut self,
        limits: &InflateLimits,
        device: &str,
        now: Instant,
    ) -> Option<Vec<LogEntry>> {
        let per_minute = self.budgets.inflated_per_minute;
        self.budget.set_minute(limits.take(device, now, 0, per_minute));
        let spent_before = self.budget.spent();
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        while batch.len() < self.budgets.log_batch_records && bytes < self.budgets.log_batch_bytes {
            let Some(item) = self.items.next() else { break };
            if let Some(entry) = self.budget.entry(&item) {
                bytes = bytes.saturating_add(entry_bytes(&entry));
                batch.push(entry);
            }
        }
        limits.take(device, now, self.budget.spent() - spent_before, per_minute);
        (!batch.is_empty()).then_some(batch)
    }

    /// What went wrong so far (items skipped, parts stored as sent).
    pub(crate) fn notes(&self) -> &LogNotes {
        self.budget.notes()
    }
}

/// What a record weighs in a batch: its texts as stored.
fn entry_bytes(entry: &LogEntry) -> usize {
    entry.service.len()
        + entry.message.len()
        + entry.exception_text.as_ref().map_or(0, String::len)
        + entry.exception_traceback.as_ref().map_or(0, String::len)
}

/// Stores the log records among `items` of `device` batch by batch (inflating on the storage
/// workers, not the caller's thread); returns how many were stored and what went wrong, for the
/// caller to log once (per request, or per connection). Each batch has committed before the
/// next is made.
pub(crate) async fn store_logs(
    db: &Db,
    limits: &InflateLimits,
    budgets: Budgets,
    device: &str,
    items: Vec<minijson::Value>,
) -> Result<(usize, LogNotes), StorageError> {
    let mut batches = LogBatches::new(items, budgets);
    let mut stored = 0usize;
    loop {
        let (limits2, dev) = (limits.clone(), device.to_owned());
        let (back, batch) = db
            .call(move |_| {
                let batch = batches.next_batch(&limits2, &dev, Instant::now());
                Ok((batches, batch))
            })
            .await?;
        batches = back;
        let Some(batch) = batch else { break };
        stored += db.store_logs(device, batch).await?;
    }
    Ok((stored, batches.notes().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngtt_proto::payload::{Level, LogRecord};

    fn items(n: usize, message: &str) -> Vec<minijson::Value> {
        let record = LogRecord::new("svc", 1, Level::INFO, message);
        let mut items = vec![minijson::to_value(&record).unwrap(); n];
        items.insert(n / 2, minijson::Value::Null);
        items
    }

    fn batch_sizes(mut batches: LogBatches) -> (Vec<usize>, usize) {
        let limits = InflateLimits::default();
        let mut sizes = Vec::new();
        while let Some(batch) = batches.next_batch(&limits, "d", Instant::now()) {
            sizes.push(batch.len());
        }
        (sizes, batches.notes().skipped)
    }

    #[test]
    fn batches_are_bounded_in_records_and_bytes() {
        let budgets = Budgets {
            log_batch_records: 100,
            ..Budgets::default()
        };
        let (sizes, skipped) = batch_sizes(LogBatches::new(items(250, "m"), budgets));
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(skipped, 1);
        // 1000-byte messages, 10 000 bytes a batch: 10 records each (the last one crosses it).
        let budgets = Budgets {
            log_batch_bytes: 10_000 - 1,
            ..Budgets::default()
        };
        let message = "x".repeat(1000 - "svc".len());
        let (sizes, _) = batch_sizes(LogBatches::new(items(25, &message), budgets));
        assert_eq!(sizes, [10, 10, 5]);
        let (sizes, skipped) = batch_sizes(LogBatches::new(vec![minijson::Value::Null; 3], budgets));
        assert!(sizes.is_empty());
        assert_eq!(skipped, 3);
    }
}
