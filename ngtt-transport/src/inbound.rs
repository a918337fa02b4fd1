//! [`InboundCodec`]: the device's frame decoder, which reads past frames larger than its limit
//! instead of failing the connection on them (pure: no I/O).
//!
//! NGTT.md §2 has a receiver refuse a length above its cap before allocating anything. Dropping
//! the connection for it, though, only makes a server that keeps the frame (an ORDER it will
//! deliver again) send it again on the next connection, forever. Since the length is in the
//! header, the device can instead read the payload and discard it as it arrives, buffering at
//! most what one read returns, and carry on with the next frame: the header (tid and type) is
//! handed to the [`crate::Session`], which decides what to answer.

use bytes::{Buf, BytesMut};
use ngtt_proto::{Frame, FrameHeader, ProtoError, HEADER_LEN};
use tokio_util::codec::Decoder;

/// What the decoder found.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A frame within the limit.
    Frame(Frame),
    /// The header of a frame above the limit, whose payload is being discarded.
    Oversized(FrameHeader),
}

/// Frames up to `max_frame_len` payload bytes, and the headers of larger ones.
#[derive(Debug, Clone)]
pub struct InboundCodec {
    max_frame_len: usize,
    /// Payload bytes of an oversized frame still to discard.
    skipping: u64,
}

impl InboundCodec {
    /// A decoder accepting payloads up to `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        InboundCodec {
            max_frame_len,
            skipping: 0,
        }
    }

    /// Payload bytes of an oversized frame not read yet.
    pub fn skipping(&self) -> u64 {
        self.skipping
    }
}

impl Decoder for InboundCodec {
    type Item = Inbound;
    type Error = ProtoError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, ProtoError> {
        if self.skipping > 0 {
            let n = usize::try_from(self.skipping)
                .unwrap_or(usize::MAX)
                .min(src.len());
            src.advance(n);
            self.skipping -= n as u64;
            if self.skipping > 0 {
                return Ok(None);
            }
        }
        let Some(header) = FrameHeader::parse(src) else {
            return Ok(None);
        };
        if usize::try_from(header.len).map_or(true, |len| len > self.max_frame_len) {
            src.advance(HEADER_LEN);
            self.skipping = u64::from(header.len);
            let n = usize::try_from(self.skipping)
                .unwrap_or(usize::MAX)
                .min(src.len());
            src.advance(n);
            self.skipping -= n as u64;
            return Ok(Some(Inbound::Oversized(header)));
        }
        let frame = ngtt_proto::decode(src, self.max_frame_len)?;
        if frame.is_none() {
            // Within the limit: room for the rest of this frame, at most max_frame_len + 8.
            if let Some(missing) = ngtt_proto::missing_bytes(src) {
                src.reserve(usize::try_from(missing).unwrap_or(0));
            }
        }
        Ok(frame.map(Inbound::Frame))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, ProtoError> {
        match self.decode(src)? {
            Some(item) => Ok(Some(item)),
            None if src.is_empty() && self.skipping == 0 => Ok(None),
            None => Err(ProtoError::TruncatedAtClose {
                have: src.len(),
                need: FrameHeader::parse(src).map_or(HEADER_LEN, |h| {
                    usize::try_from(h.frame_len()).unwrap_or(usize::MAX)
                }),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngtt_proto::FrameType;

    fn bytes(frames: &[Frame]) -> Vec<u8> {
        frames
            .iter()
            .flat_map(|f| f.to_bytes().expect("encodes").to_vec())
            .collect()
    }

    /// Feeds `input` in chunks of `chunk` bytes, as reads would deliver it.
    fn decode_all(input: &[u8], chunk: usize, max: usize) -> (Vec<Inbound>, usize) {
        let mut codec = InboundCodec::new(max);
        let mut buf = BytesMut::new();
        let (mut out, mut peak) = (Vec::new(), 0);
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            peak = peak.max(buf.len());
            while let Some(item) = codec.decode(&mut buf).expect("valid") {
                out.push(item);
            }
        }
        assert!(buf.is_empty() && codec.skipping() == 0);
        (out, peak)
    }

    #[test]
    fn an_oversized_frame_is_skipped_and_the_next_ones_decode() {
        let big = Frame::new(FrameType::Order, 7, vec![b'x'; 10_000]);
        let input = bytes(&[Frame::ping(1), big, Frame::order_confirm(3), Frame::ping(2)]);
        for chunk in [1, 3, 100, 512, 4096, input.len()] {
            let (out, peak) = decode_all(&input, chunk, 100);
            assert_eq!(
                out,
                [
                    Inbound::Frame(Frame::ping(1)),
                    Inbound::Oversized(FrameHeader {
                        len: 10_000,
                        tid: 7,
                        kind: FrameType::Order
                    }),
                    Inbound::Frame(Frame::order_confirm(3)),
                    Inbound::Frame(Frame::ping(2)),
                ],
                "chunk {chunk}"
            );
            // Never more buffered than one read's worth plus an unfinished small frame.
            assert!(
                peak <= chunk + 2 * (HEADER_LEN + 100),
                "chunk {chunk}: peak {peak}"
            );
        }
    }

    #[test]
    fn a_length_beyond_the_address_space_is_only_counted_down() {
        let mut codec = InboundCodec::new(16);
        let mut buf = BytesMut::from(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 9, 0, 1][..]);
        let got = codec.decode(&mut buf).expect("valid").expect("header");
        assert!(matches!(got, Inbound::Oversized(h) if h.len == u32::MAX && h.tid == 9));
        assert_eq!(codec.skipping(), u64::from(u32::MAX));
        buf.extend_from_slice(&[0u8; 1000]);
        assert_eq!(codec.decode(&mut buf).expect("valid"), None);
        assert_eq!(codec.skipping(), u64::from(u32::MAX) - 1000);
        // The connection ending inside it is a truncation.
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(ProtoError::TruncatedAtClose { .. })
        ));
    }
}
