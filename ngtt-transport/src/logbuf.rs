//! [`LogBuffer`]: the bounded queue of log records waiting to be sent (NGTT.md §4.4), and
//! [`encode_batch`]: records cut into LOGS payloads of a bounded size.

use std::collections::VecDeque;

use bytes::Bytes;
use ngtt_proto::payload::{LogMessage, LogRecord};
use ngtt_proto::Frame;

use crate::error::TransportError;

/// Bytes a record adds to a LOGS payload besides its strings (keys, numbers, headers), roughly.
const RECORD_OVERHEAD: usize = 48;

/// Log records waiting to be sent, oldest first, at most `capacity` of them: pushing beyond
/// that drops the oldest and counts them.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    records: VecDeque<LogRecord>,
    capacity: usize,
    dropped: u64,
}

impl LogBuffer {
    /// An empty buffer holding at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        LogBuffer {
            records: VecDeque::new(),
            capacity,
            dropped: 0,
        }
    }

    /// Appends `records`, dropping the oldest beyond the capacity; returns how many were
    /// dropped by this call.
    pub fn push(&mut self, records: impl IntoIterator<Item = LogRecord>) -> usize {
        let mut dropped = 0;
        for record in records {
            self.records.push_back(record);
            if self.records.len() > self.capacity {
                self.records.pop_front();
                dropped += 1;
            }
        }
        self.dropped = self.dropped.saturating_add(dropped as u64);
        dropped
    }

    /// Removes and returns the oldest records whose estimated encoded size stays within
    /// `max_bytes` (at least one record when any is buffered).
    pub fn take_batch(&mut self, max_bytes: usize) -> Vec<LogRecord> {
        let mut size = 0usize;
        let mut n = 0;
        for record in &self.records {
            size = size.saturating_add(estimated_size(record));
            if n > 0 && size > max_bytes {
                break;
            }
            n += 1;
        }
        self.records.drain(..n).collect()
    }

    /// Removes every record, returning how many there were (they are not counted as dropped).
    pub fn clear(&mut self) -> usize {
        let n = self.records.len();
        self.records.clear();
        n
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no record waits.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records dropped because the buffer was full, since it was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Encodes `records` as LOGS payloads, in order, each of about `batch_bytes` at most (at least
/// one record each). Fails when a record cannot be encoded, or when one alone is larger than
/// `max_frame_len` ([`TransportError::UploadTooLarge`]: a server with the same frame limit
/// would drop the connection for it every time it is sent).
pub(crate) fn encode_batch(
    records: &[LogRecord],
    batch_bytes: usize,
    max_frame_len: usize,
) -> Result<Vec<Bytes>, TransportError> {
    // The estimate is never below the encoded size, so a group within the limit encodes
    // within it; only a lone record can be over.
    let limit = batch_bytes.min(max_frame_len);
    let mut payloads = Vec::new();
    let mut start = 0;
    while start < records.len() {
        let mut end = start + 1;
        let mut size = estimated_size(&records[start]);
        while let Some(next) = records.get(end) {
            size = size.saturating_add(estimated_size(next));
            if size > limit {
                break;
            }
            end += 1;
        }
        let payload = Frame::logs(&records[start..end])?.payload;
        if payload.len() > max_frame_len {
            return Err(TransportError::UploadTooLarge {
                len: payload.len(),
                max: max_frame_len,
            });
        }
        payloads.push(payload);
        start = end;
    }
    Ok(payloads)
}

/// A record's approximate size in a MiniJSON LOGS payload.
pub fn estimated_size(record: &LogRecord) -> usize {
    let message = match &record.message {
        LogMessage::Text(t) => t.len(),
        LogMessage::Encoded { encoding, content } => encoding.len() + content.len() + 20,
    };
    let optional = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + 12);
    RECORD_OVERHEAD
        + record.service.len()
        + message
        + optional(&record.exception_text)
        + optional(&record.exception_traceback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngtt_proto::payload::Level;

    fn record(n: u64) -> LogRecord {
        LogRecord::new("svc", n, Level::INFO, format!("message {n}"))
    }

    fn whens(records: &[LogRecord]) -> Vec<u64> {
        records.iter().map(|r| r.when).collect()
    }

    #[test]
    fn drops_oldest_beyond_capacity_and_counts() {
        let mut b = LogBuffer::new(3);
        assert_eq!(b.push((0..2).map(record)), 0);
        assert_eq!(b.push((2..7).map(record)), 4);
        assert_eq!((b.len(), b.dropped()), (3, 4));
        assert_eq!(whens(&b.take_batch(usize::MAX)), [4, 5, 6]);
        assert!(b.is_empty());
        assert_eq!(b.dropped(), 4, "taking is not dropping");
    }

    #[test]
    fn zero_capacity_drops_everything() {
        let mut b = LogBuffer::new(0);
        assert_eq!(b.push((0..5).map(record)), 5);
        assert!(b.is_empty());
        assert!(b.take_batch(100).is_empty());
    }

    #[test]
    fn batches_respect_the_size_but_take_at_least_one() {
        let mut b = LogBuffer::new(100);
        b.push((0..10).map(record));
        let one = estimated_size(&record(0));
        assert_eq!(whens(&b.take_batch(3 * one)), [0, 1, 2]);
        assert_eq!(whens(&b.take_batch(1)), [3], "at least one");
        assert_eq!(b.take_batch(usize::MAX).len(), 6);
        assert_eq!(b.clear(), 0);
        b.push([record(1)]);
        assert_eq!(b.clear(), 1);
        assert_eq!(b.dropped(), 0);
    }

    #[test]
    fn batches_are_encoded_in_order_within_the_size() {
        let all: Vec<_> = (0..10).map(record).collect();
        let one = estimated_size(&record(0));
        let payloads = encode_batch(&all, 3 * one, 1 << 20).expect("encodes");
        let decoded: Vec<Vec<LogRecord>> = payloads
            .iter()
            .map(|p| minijson::from_slice(p).expect("a list of records"))
            .collect();
        let sizes: Vec<usize> = decoded.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
        assert_eq!(decoded.concat(), all);
        // The frame limit bounds the payloads too; a record alone above it is refused.
        assert_eq!(encode_batch(&all, 1 << 20, one).expect("encodes").len(), 10);
        let big = LogRecord::new("svc", 1, Level::INFO, "x".repeat(500));
        let err = encode_batch(&[record(0), big], 1 << 20, 200).expect_err("too large");
        assert!(
            matches!(err, TransportError::UploadTooLarge { max: 200, .. }),
            "{err}"
        );
        assert!(encode_batch(&[], 100, 100).expect("nothing").is_empty());
    }

    #[test]
    fn estimate_is_close_to_the_encoding() {
        let mut r = LogRecord::new("service", 1_700_000_000_000_000, Level::ERROR, "x".repeat(300));
        r.exception_text = Some("ValueError".into());
        let encoded = minijson::to_vec(&r).expect("encodes").len();
        let estimate = estimated_size(&r);
        assert!(
            estimate >= encoded && estimate < encoded + 64,
            "{estimate} vs {encoded}"
        );
    }
}
