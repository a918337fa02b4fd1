//! [`Outbox`]: the encoded frames a connection's driver has taken from its session and not
//! written yet, kept apart so that a vectored write hands each frame to the TLS layer as a buffer
//! of its own.
//!
//! The TLS stream encrypts each buffer of a vectored write into records of its own and sends
//! them in one system call ([`super::tls_stream`]): several ready frames (the
//! DATA_STREAM_CONFIRMs of one group commit) leave in one write, each still in its own records,
//! as the Python clients need (NGTT.md §8: they handle one frame per read).

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, BytesMut};

/// Encoded frames waiting to be written, back to back in one buffer, with where each ends.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    bytes: BytesMut,
    /// The length of each frame in `bytes`, in order; the first one's is what is left of it.
    lens: VecDeque<usize>,
}

impl Outbox {
    /// Appends `frame`, encoded; a frame that cannot be encoded is logged and dropped.
    pub(super) fn push(&mut self, frame: &ngtt_proto::Frame) {
        let before = self.bytes.len();
        match ngtt_proto::encode(frame, &mut self.bytes) {
            Ok(()) if self.bytes.len() > before => self.lens.push_back(self.bytes.len() - before),
            Ok(()) => {}
            Err(e) => {
                self.bytes.truncate(before);
                tracing::warn!(error = %e, kind = %frame.kind, "cannot encode a frame: dropped");
            }
        }
    }

    /// Frames (or the rest of one) not written yet.
    pub(super) fn frames(&self) -> usize {
        self.lens.len()
    }

    /// The buffer of encoded bytes, to give back when it is empty and large
    /// ([`super::driver`]'s `shrink`); the frame list is released with it.
    pub(super) fn bytes_mut(&mut self) -> &mut BytesMut {
        if self.lens.is_empty() && self.lens.capacity() > 0 {
            self.lens = VecDeque::new();
        }
        &mut self.bytes
    }
}

impl Buf for Outbox {
    fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// The first frame (what is left of it).
    fn chunk(&self) -> &[u8] {
        let len = self.lens.front().copied().unwrap_or(0);
        &self.bytes[..len]
    }

    /// One slice per frame.
    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut rest = &self.bytes[..];
        let mut n = 0;
        for (slot, &len) in dst.iter_mut().zip(&self.lens) {
            let (frame, after) = rest.split_at(len);
            *slot = IoSlice::new(frame);
            rest = after;
            n += 1;
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.bytes.len(), "advanced past the end of the outbox");
        self.bytes.advance(cnt);
        while cnt > 0 {
            let Some(front) = self.lens.front_mut() else {
                break;
            };
            if cnt < *front {
                *front -= cnt;
                break;
            }
            cnt -= *front;
            self.lens.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;

    use bytes::Buf;
    use ngtt_proto::Frame;

    use super::Outbox;

    fn encoded(frame: &Frame) -> Vec<u8> {
        let mut buf = bytes::BytesMut::new();
        ngtt_proto::encode(frame, &mut buf).expect("encodes");
        buf.to_vec()
    }

    /// The slices a vectored write of at most `room` buffers gets, copied.
    fn slices(outbox: &Outbox, room: usize) -> Vec<Vec<u8>> {
        let mut slices = vec![IoSlice::new(&[]); room];
        let n = outbox.chunks_vectored(&mut slices);
        slices[..n].iter().map(|s| s.to_vec()).collect()
    }

    #[test]
    fn each_frame_is_a_slice_of_its_own_until_written() {
        let frames = [
            Frame::data_stream_confirm(1),
            Frame::data_stream_confirm(2),
            Frame::data_stream_reject(3),
        ];
        let mut outbox = Outbox::default();
        for f in &frames {
            outbox.push(f);
        }
        assert_eq!(outbox.frames(), 3);
        let all: Vec<Vec<u8>> = frames.iter().map(encoded).collect();
        assert_eq!(slices(&outbox, 8), all);
        assert_eq!(outbox.chunk(), &all[0][..], "one frame at a time");

        // Part of the first frame written: its rest is still a slice of its own.
        outbox.advance(2);
        assert_eq!(outbox.chunk(), &all[0][2..]);
        assert_eq!(
            slices(&outbox, 2),
            [all[0][2..].to_vec(), all[1].clone()],
            "no more than room"
        );

        // The rest of the first, and the second, in one go.
        let cut = outbox.chunk().len() + all[1].len();
        outbox.advance(cut);
        assert_eq!(outbox.frames(), 1);
        assert_eq!(outbox.chunk(), &all[2][..]);
        let last = outbox.remaining();
        outbox.advance(last);
        assert_eq!(outbox.frames(), 0);
        assert!(!outbox.has_remaining());
        assert!(slices(&outbox, 8).is_empty());
    }

    #[test]
    fn its_buffers_are_given_back_once_empty() {
        let mut outbox = Outbox::default();
        for tid in 0..100 {
            outbox.push(&Frame::data_stream_confirm(tid));
        }
        let all = outbox.remaining();
        outbox.advance(all);
        assert_eq!(outbox.bytes_mut().len(), 0);
        assert_eq!(outbox.lens.capacity(), 0, "the frame list is released");
    }
}
