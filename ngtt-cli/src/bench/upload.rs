//! A simulated device's uploads: how many DATA_STREAMs it still owes, which are in flight on
//! the current connection, and what the answers mean. Pure state, no I/O: the session encodes
//! the frames [`Uploads::next`] hands it and feeds back each DATA_STREAM_CONFIRM or _REJECT.
//!
//! As `ngtt-transport` does (NGTT.md §4 rule 5), an upload not answered when the connection
//! drops is sent again, with a new tid, on the next connection: it stays owed until answered.

use std::sync::Arc;

use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_proto::Frame;

/// Samples in each upload (one series).
pub const SAMPLES_PER_UPLOAD: u64 = 10;

/// The path every simulated device uploads to (a 16-bit register).
const PATH: &str = "W1r4002";

/// What the orchestrator asks: `count` more uploads from each device of `only` (every device
/// when `None`), at most `window` in flight per device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadJob {
    /// Bumped by every new job (a device takes each job once).
    pub generation: u64,
    /// Uploads each device adds to what it owes.
    pub count: u32,
    /// Uploads in flight at once per device.
    pub window: u32,
    /// Only these devices (indexes, sorted).
    pub only: Option<Arc<[usize]>>,
}

/// One device's upload state.
#[derive(Debug, Default)]
pub struct Uploads {
    owed: u32,
    window: u32,
    in_flight: Vec<u16>,
    last_tid: u16,
    made: u64,
    base_ms: u64,
    /// Uploads the server confirmed.
    pub confirmed: u64,
    /// Uploads the server rejected.
    pub rejected: u64,
}

/// What an answer did.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Not one of ours in flight (ignored, as NGTT.md §3 says).
    Unknown,
    /// Answered; more are owed.
    Counted,
    /// Answered, and that was the last one owed: the job is done.
    Done,
}

impl Uploads {
    /// Takes `job` if it is for device `idx`.
    pub fn take(&mut self, job: &UploadJob, idx: usize) {
        let mine = job
            .only
            .as_ref()
            .map_or(true, |only| only.binary_search(&idx).is_ok());
        if job.count > 0 && mine {
            self.owed = self.owed.saturating_add(job.count);
            self.window = job.window.max(1);
        }
    }

    /// The next DATA_STREAM to send, if the window and what is owed allow one. Its samples
    /// follow the last upload's by one millisecond each, from `now_ms` at the first upload.
    pub fn next(&mut self, device: usize, now_ms: u64) -> Option<Frame> {
        let room = self.window.min(self.owed) as usize;
        if self.in_flight.len() >= room {
            return None;
        }
        let tid = self.fresh_tid();
        if self.made == 0 {
            self.base_ms = now_ms;
        }
        // Consecutive milliseconds from the first upload's time: distinct, and plausible.
        let first = self.base_ms + self.made * SAMPLES_PER_UPLOAD;
        self.made += 1;
        let series = PathpointSeries::new(
            PATH,
            (0..SAMPLES_PER_UPLOAD).map(|k| Sample::value(first + k, ((device as u64 + k) % 1000) as i64)),
        );
        let frame = Frame::data_stream(tid, &[series]).ok()?;
        self.in_flight.push(tid);
        Some(frame)
    }

    /// A DATA_STREAM_CONFIRM (`confirmed`) or DATA_STREAM_REJECT for `tid`.
    pub fn answer(&mut self, tid: u16, confirmed: bool) -> Answer {
        let Some(at) = self.in_flight.iter().position(|t| *t == tid) else {
            return Answer::Unknown;
        };
        self.in_flight.swap_remove(at);
        self.owed -= 1;
        if confirmed {
            self.confirmed += 1;
        } else {
            self.rejected += 1;
        }
        if self.owed == 0 {
            Answer::Done
        } else {
            Answer::Counted
        }
    }

    /// The connection dropped: what was in flight is owed again, for the next connection.
    pub fn connection_lost(&mut self) {
        self.in_flight.clear();
    }

    /// A tid in 1..=0x7FFF not in flight.
    fn fresh_tid(&mut self) -> u16 {
        loop {
            self.last_tid = if self.last_tid >= 0x7FFF {
                1
            } else {
                self.last_tid + 1
            };
            if !self.in_flight.contains(&self.last_tid) {
                return self.last_tid;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngtt_proto::FrameType;

    fn job(count: u32, window: u32, only: Option<&[usize]>) -> UploadJob {
        UploadJob {
            generation: 1,
            count,
            window,
            only: only.map(Arc::from),
        }
    }

    #[test]
    fn the_window_bounds_what_is_in_flight_and_answers_free_it() {
        let mut u = Uploads::default();
        assert!(u.next(0, 1).is_none(), "nothing owed");
        u.take(&job(3, 2, None), 0);
        let a = u.next(0, 1).expect("first");
        let b = u.next(0, 1).expect("second");
        assert_eq!(a.kind, FrameType::DataStream);
        assert_ne!(a.tid, b.tid);
        assert_ne!(a.payload, b.payload, "distinct samples");
        assert!(u.next(0, 1).is_none(), "window of 2");
        assert_eq!(u.answer(999, true), Answer::Unknown);
        assert_eq!(u.answer(a.tid, true), Answer::Counted);
        let c = u.next(0, 1).expect("third");
        assert!(u.next(0, 1).is_none(), "only 3 owed");
        assert_eq!(u.answer(b.tid, false), Answer::Counted);
        assert_eq!(u.answer(b.tid, true), Answer::Unknown, "answered once");
        assert_eq!(u.answer(c.tid, true), Answer::Done);
        assert_eq!((u.confirmed, u.rejected, u.owed), (2, 1, 0));
    }

    #[test]
    fn what_was_in_flight_is_sent_again_after_a_lost_connection() {
        let mut u = Uploads::default();
        u.take(&job(1, 8, None), 0);
        let first = u.next(0, 1).expect("sent");
        u.connection_lost();
        assert_eq!(u.answer(first.tid, true), Answer::Unknown, "old connection's tid");
        let again = u.next(0, 1).expect("sent again");
        assert_ne!(again.tid, first.tid);
        assert_eq!(u.answer(again.tid, true), Answer::Done);
    }

    #[test]
    fn a_job_for_other_devices_is_not_taken() {
        let mut u = Uploads::default();
        u.take(&job(5, 1, Some(&[1, 4])), 3);
        assert_eq!(u.owed, 0);
        u.take(&job(5, 1, Some(&[1, 3, 4])), 3);
        assert_eq!(u.owed, 5);
        u.take(&job(2, 1, None), 3);
        assert_eq!(u.owed, 7);
    }

    #[test]
    fn tids_wrap_and_skip_zero() {
        let mut u = Uploads {
            last_tid: 0x7FFE,
            ..Uploads::default()
        };
        assert_eq!(u.fresh_tid(), 0x7FFF);
        assert_eq!(u.fresh_tid(), 1);
    }
}
