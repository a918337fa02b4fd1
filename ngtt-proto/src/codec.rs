//! [`NgttCodec`]: the pure frame functions as a `tokio_util` codec.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{ProtoError, Result};
use crate::frame::{self, Frame, FrameHeader, DEFAULT_MAX_FRAME_LEN, HEADER_LEN};

/// A `tokio_util` codec for NGTT frames, for use with `Framed`, `FramedRead` and `FramedWrite`.
///
/// Decoding rejects a frame whose payload exceeds the configured maximum as soon as its length
/// field has arrived, and only then reserves room for the rest of a partially received frame.
/// Encoding does not apply the maximum (it is the receiver's limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NgttCodec {
    max_frame_len: usize,
}

impl NgttCodec {
    /// A codec accepting payloads up to [`DEFAULT_MAX_FRAME_LEN`] (16 MiB).
    pub fn new() -> NgttCodec {
        NgttCodec::with_max_frame_len(DEFAULT_MAX_FRAME_LEN)
    }

    /// A codec accepting payloads up to `max_frame_len` bytes (header not included).
    pub fn with_max_frame_len(max_frame_len: usize) -> NgttCodec {
        NgttCodec { max_frame_len }
    }

    /// The largest payload length the decoder accepts.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }
}

impl Default for NgttCodec {
    fn default() -> Self {
        NgttCodec::new()
    }
}

impl Decoder for NgttCodec {
    type Item = Frame;
    type Error = ProtoError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>> {
        let decoded = frame::decode(src, self.max_frame_len)?;
        if decoded.is_none() {
            // The length was accepted by `decode`, so this is at most max_frame_len + HEADER_LEN.
            if let Some(missing) = frame::missing_bytes(src) {
                src.reserve(usize::try_from(missing).unwrap_or(0));
            }
        }
        Ok(decoded)
    }

    /// Like `decode`, but bytes left over that do not form a complete frame are reported as
    /// [`ProtoError::TruncatedAtClose`].
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>> {
        match frame::decode(src, self.max_frame_len)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(ProtoError::TruncatedAtClose {
                have: src.len(),
                need: FrameHeader::parse(src).map_or(HEADER_LEN, |h| {
                    usize::try_from(h.frame_len()).unwrap_or(usize::MAX)
                }),
            }),
        }
    }
}

impl Encoder<&Frame> for NgttCodec {
    type Error = ProtoError;

    fn encode(&mut self, item: &Frame, dst: &mut BytesMut) -> Result<()> {
        frame::encode(item, dst)
    }
}

impl Encoder<Frame> for NgttCodec {
    type Error = ProtoError;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<()> {
        frame::encode(&item, dst)
    }
}
