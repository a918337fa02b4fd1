//! The uploads of a [`Session`]: DATA_STREAM frames stored several at once, each confirmed only
//! after its commit and in the order they arrived (docs/delivery-guarantees.md, "Pathpoint
//! data").

use ngtt_proto::payload::PathpointSeries;
use ngtt_proto::Frame;
use tracing::{debug, warn};

use super::{Session, MAX_DATA_REJECT_REASON};
use crate::budgets::{Encoding, Shape};
use crate::connection::ops::{End, Op, OpId, Outcome};
use crate::storage::StorageError;

impl Session {
    /// Starts storing an upload, or answers it with DATA_STREAM_REJECT (behind the uploads
    /// still committing) when it is not a list of pathpoint series.
    pub(super) fn on_data_stream(&mut self, frame: &Frame) {
        let tid = frame.tid;
        let factor = self.config.decode_factor;
        let check = crate::Budgets::check_decoded(factor, Encoding::MiniJson, Shape::Samples, &frame.payload);
        if let Err(over) = check {
            // Refused whole, before decoding: the device must not send it again.
            if self.warnings.first("DATA_STREAM over the decode budget") {
                warn!(tid, "rejecting DATA_STREAM: {over} (repeats are counted)");
            }
            let reason = over.to_string();
            let reject = Frame::data_stream_reject_because(tid, &reason)
                .unwrap_or_else(|_| Frame::data_stream_reject(tid));
            return self.uploads.answered_now(reject);
        }
        match frame.payload_as::<Vec<PathpointSeries>>() {
            Ok(series) => {
                debug!(tid, paths = series.len(), "storing DATA_STREAM");
                let id = self.queue_op(Op::StoreSeries { series });
                self.uploads.committing_as(id, tid, frame.payload.len());
            }
            Err(e) => {
                let mut reason = format!("not a list of pathpoint series: {e}");
                truncate(&mut reason, MAX_DATA_REJECT_REASON);
                if self.warnings.first("DATA_STREAM rejected") {
                    warn!(
                        tid,
                        "rejecting DATA_STREAM: {} (repeats are counted)",
                        ngtt_proto::Escaped(&reason)
                    );
                }
                let reject = Frame::data_stream_reject_because(tid, &reason)
                    .unwrap_or_else(|_| Frame::data_stream_reject(tid));
                self.uploads.answered_now(reject);
            }
        }
    }

    /// The outcome of upload operation `id`. A storage failure ends the session: nothing more
    /// can be acknowledged, and the uploads not confirmed are sent again by the device.
    pub(super) fn on_upload_stored(&mut self, id: OpId, result: Result<Outcome, StorageError>) {
        match result {
            Ok(Outcome::Stored(stored)) => {
                let tid = self.uploads.committed(id);
                debug!(tid, stored, "DATA_STREAM stored");
            }
            Ok(outcome) => {
                tracing::error!(?outcome, "an outcome that does not fit an upload; not confirmed");
                self.uploads.failed(id);
                self.finish(End::Storage(StorageError::Task(
                    "the storage answered an upload with another kind of result".into(),
                )));
            }
            Err(e) => {
                self.uploads.failed(id);
                self.finish(End::Storage(e));
            }
        }
    }

    /// Queues the answers whose turn has come (every earlier upload answered).
    pub(super) fn release_uploads(&mut self) {
        while let Some(frame) = self.uploads.pop_ready() {
            self.push(frame);
        }
    }
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}
