//! Frames and their pure encoder/decoder (NGTT.md §2).
//!
//! A frame is an 8-byte header — payload length (u32), transaction id (u16), type (u16), all
//! big-endian — followed by the payload. The functions here do no I/O: [`decode`] looks at a
//! buffer and either splits one complete frame off it or leaves it untouched.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{ProtoError, Result};
use crate::frame_type::FrameType;

/// Size of the frame header in bytes.
pub const HEADER_LEN: usize = 8;

/// Default cap on a received frame's payload length: 16 MiB (NGTT.md §2).
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// One NGTT frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Transaction id; 0 means "none".
    pub tid: u16,
    /// Frame type.
    pub kind: FrameType,
    /// Payload: empty, or one MiniJSON document (not interpreted by this crate).
    pub payload: Bytes,
}

impl Frame {
    /// A frame of type `kind` with transaction id `tid` carrying `payload`.
    pub fn new(kind: FrameType, tid: u16, payload: impl Into<Bytes>) -> Frame {
        Frame {
            tid,
            kind,
            payload: payload.into(),
        }
    }

    /// A frame with an empty payload.
    pub fn empty(kind: FrameType, tid: u16) -> Frame {
        Frame::new(kind, tid, Bytes::new())
    }

    /// A `PING` with transaction id `tid` (the server echoes it with the same tid).
    pub fn ping(tid: u16) -> Frame {
        Frame::empty(FrameType::Ping, tid)
    }

    /// An `ORDER_CONFIRM` answering the `ORDER` with transaction id `tid`.
    pub fn order_confirm(tid: u16) -> Frame {
        Frame::empty(FrameType::OrderConfirm, tid)
    }

    /// An `ORDER_REJECT` answering the `ORDER` with transaction id `tid`.
    pub fn order_reject(tid: u16) -> Frame {
        Frame::empty(FrameType::OrderReject, tid)
    }

    /// A `DATA_STREAM_CONFIRM` answering the `DATA_STREAM` with transaction id `tid`.
    pub fn data_stream_confirm(tid: u16) -> Frame {
        Frame::empty(FrameType::DataStreamConfirm, tid)
    }

    /// A `DATA_STREAM_REJECT` (without a reason) answering the `DATA_STREAM` with id `tid`.
    pub fn data_stream_reject(tid: u16) -> Frame {
        Frame::empty(FrameType::DataStreamReject, tid)
    }

    /// A `FETCH_ORDERS` frame (tid 0, empty payload).
    pub fn fetch_orders() -> Frame {
        Frame::empty(FrameType::FetchOrders, 0)
    }

    /// The frame's header.
    ///
    /// Fails with [`ProtoError::PayloadTooLarge`] if the payload exceeds `u32::MAX` bytes.
    pub fn header(&self) -> Result<FrameHeader> {
        Ok(FrameHeader {
            len: payload_len_field(self.payload.len())?,
            tid: self.tid,
            kind: self.kind,
        })
    }

    /// Size of the encoded frame: header plus payload.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload.len())
    }

    /// The frame encoded into a fresh buffer.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut buf = BytesMut::new();
        encode(self, &mut buf)?;
        Ok(buf.freeze())
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Payload length in bytes.
    pub len: u32,
    /// Transaction id.
    pub tid: u16,
    /// Frame type.
    pub kind: FrameType,
}

impl FrameHeader {
    /// Parses the header at the start of `buf`; `None` if fewer than [`HEADER_LEN`] bytes.
    ///
    /// The length is not checked against any maximum: see [`check`] for that.
    pub fn parse(buf: &[u8]) -> Option<FrameHeader> {
        match *buf {
            [l0, l1, l2, l3, t0, t1, k0, k1, ..] => Some(FrameHeader {
                len: u32::from_be_bytes([l0, l1, l2, l3]),
                tid: u16::from_be_bytes([t0, t1]),
                kind: FrameType::from_u16(u16::from_be_bytes([k0, k1])),
            }),
            _ => None,
        }
    }

    /// The header's 8 wire bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let [l0, l1, l2, l3] = self.len.to_be_bytes();
        let [t0, t1] = self.tid.to_be_bytes();
        let [k0, k1] = self.kind.as_u16().to_be_bytes();
        [l0, l1, l2, l3, t0, t1, k0, k1]
    }

    /// Size of the whole frame (header plus payload) this header announces.
    pub fn frame_len(&self) -> u64 {
        u64::from(self.len) + HEADER_LEN as u64
    }
}

/// The 32-bit length field for a payload of `len` bytes.
fn payload_len_field(len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| ProtoError::PayloadTooLarge { len })
}

/// Appends the encoding of `frame` to `dst`.
///
/// Fails with [`ProtoError::PayloadTooLarge`], leaving `dst` untouched, if the payload exceeds
/// `u32::MAX` bytes. The receiver's maximum is not checked here.
pub fn encode(frame: &Frame, dst: &mut BytesMut) -> Result<()> {
    let header = frame.header()?;
    dst.reserve(frame.encoded_len());
    dst.put_slice(&header.to_bytes());
    dst.put_slice(&frame.payload);
    Ok(())
}

/// Checks whether `buf` starts with a complete frame whose payload is at most `max_len` bytes.
///
/// * `Ok(Some(n))`: the first `n` bytes of `buf` are one complete frame.
/// * `Ok(None)`: more bytes are needed.
/// * `Err(FrameTooLarge)`: the length field (readable once 4 bytes are there) exceeds `max_len`.
pub fn check(buf: &[u8], max_len: usize) -> Result<Option<usize>> {
    let [l0, l1, l2, l3, ..] = *buf else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([l0, l1, l2, l3]);
    let too_large = || ProtoError::FrameTooLarge {
        len: u64::from(len),
        max: max_len,
    };
    let payload_len = usize::try_from(len).map_err(|_| too_large())?;
    if payload_len > max_len {
        return Err(too_large());
    }
    let total = HEADER_LEN.checked_add(payload_len).ok_or_else(too_large)?;
    Ok((buf.len() >= total).then_some(total))
}

/// Bytes still missing to complete the frame at the start of `buf`, once its header is known.
///
/// `None` while fewer than [`HEADER_LEN`] bytes are buffered, `Some(0)` when the frame is
/// complete. Does not check the length against a maximum: call [`check`] first.
pub fn missing_bytes(buf: &[u8]) -> Option<u64> {
    let header = FrameHeader::parse(buf)?;
    Some(header.frame_len().saturating_sub(buf.len() as u64))
}

/// Splits one complete frame off the front of `buf`.
///
/// Returns `Ok(None)` ("need more bytes") without consuming, copying or reserving anything when
/// the frame is incomplete. Fails with [`ProtoError::FrameTooLarge`] as soon as the length field
/// is readable and exceeds `max_len`, again without touching `buf`. A complete frame is split
/// off with `split_to` + `freeze`: a non-empty payload shares `buf`'s storage (zero copy).
/// Unknown types decode as [`FrameType::Unknown`].
pub fn decode(buf: &mut BytesMut, max_len: usize) -> Result<Option<Frame>> {
    let Some(total) = check(buf, max_len)? else {
        return Ok(None);
    };
    let Some(header) = FrameHeader::parse(buf) else {
        return Ok(None); // unreachable: check() saw at least HEADER_LEN bytes
    };
    let payload = if total == HEADER_LEN {
        // Empty payload (PING, confirmations): no need to share the buffer's storage.
        buf.advance(HEADER_LEN);
        Bytes::new()
    } else {
        let mut frame = buf.split_to(total);
        frame.advance(HEADER_LEN);
        frame.freeze()
    };
    Ok(Some(Frame {
        tid: header.tid,
        kind: header.kind,
        payload,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 10] = [0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x41, 0x4C];

    #[test]
    fn seed_example() {
        let mut buf = BytesMut::from(&SEED[..]);
        let frame = decode(&mut buf, DEFAULT_MAX_FRAME_LEN)
            .expect("valid")
            .expect("complete");
        assert_eq!(frame, Frame::new(FrameType::Ping, 1, &b"AL"[..]));
        assert!(buf.is_empty());
        assert_eq!(frame.to_bytes().expect("encodes"), &SEED[..]);
    }

    #[test]
    fn header_round_trip() {
        let h = FrameHeader {
            len: 0x0102_0304,
            tid: 0xBEEF,
            kind: FrameType::Unknown(0xCAFE),
        };
        assert_eq!(h.to_bytes(), [1, 2, 3, 4, 0xBE, 0xEF, 0xCA, 0xFE]);
        assert_eq!(FrameHeader::parse(&h.to_bytes()), Some(h));
        assert_eq!(FrameHeader::parse(&h.to_bytes()[..7]), None);
        assert_eq!(h.frame_len(), 0x0102_030C);
    }

    #[test]
    fn check_reports_sizes() {
        assert_eq!(check(&[], 16).ok(), Some(None));
        assert_eq!(check(&SEED[..3], 16).ok(), Some(None));
        assert_eq!(check(&SEED[..9], 16).ok(), Some(None));
        assert_eq!(check(&SEED, 16).ok(), Some(Some(10)));
        assert_eq!(check(&SEED, 2).ok(), Some(Some(10)));
        assert!(matches!(
            check(&SEED[..4], 1),
            Err(ProtoError::FrameTooLarge { len: 2, max: 1 })
        ));
        assert_eq!(missing_bytes(&SEED[..7]), None);
        assert_eq!(missing_bytes(&SEED[..8]), Some(2));
        assert_eq!(missing_bytes(&SEED), Some(0));
    }

    #[test]
    fn incomplete_leaves_buffer_alone() {
        for cut in 0..SEED.len() {
            let mut buf = BytesMut::with_capacity(4);
            buf.extend_from_slice(&SEED[..cut]);
            let cap = buf.capacity();
            assert!(decode(&mut buf, 16).expect("valid").is_none());
            assert_eq!(&buf[..], &SEED[..cut]);
            assert_eq!(buf.capacity(), cap);
        }
    }

    #[test]
    fn max_len_is_inclusive_and_max_zero_allows_empty() {
        let mut buf = BytesMut::from(&SEED[..]);
        assert!(decode(&mut buf, 2).expect("at the limit").is_some());
        let mut buf = BytesMut::new();
        encode(&Frame::ping(7), &mut buf).expect("encodes");
        assert_eq!(decode(&mut buf, 0).expect("empty ok"), Some(Frame::ping(7)));
    }

    #[test]
    fn payload_len_field_limits() {
        assert_eq!(payload_len_field(0).ok(), Some(0));
        assert_eq!(payload_len_field(u32::MAX as usize).ok(), Some(u32::MAX));
        if let Some(over) = (u32::MAX as usize).checked_add(1) {
            assert!(matches!(
                payload_len_field(over),
                Err(ProtoError::PayloadTooLarge { len }) if len == over
            ));
        }
    }

    #[test]
    fn constructors() {
        assert_eq!(Frame::ping(3).kind, FrameType::Ping);
        assert_eq!(Frame::order_confirm(3).kind, FrameType::OrderConfirm);
        assert_eq!(Frame::order_reject(3).kind, FrameType::OrderReject);
        assert_eq!(Frame::data_stream_confirm(3).kind, FrameType::DataStreamConfirm);
        assert_eq!(Frame::data_stream_reject(3).kind, FrameType::DataStreamReject);
        assert_eq!(Frame::fetch_orders(), Frame::empty(FrameType::FetchOrders, 0));
        assert_eq!(Frame::new(FrameType::Logs, 0, vec![1, 2]).encoded_len(), 10);
    }
}
