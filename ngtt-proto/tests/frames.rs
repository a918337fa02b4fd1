//! Frame encoding and decoding through the pure functions and the codec.

use bytes::{Bytes, BytesMut};
use ngtt_proto::{
    check, decode, encode, Frame, FrameType, NgttCodec, ProtoError, DEFAULT_MAX_FRAME_LEN, HEADER_LEN,
};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

const SEED: [u8; 10] = [0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x41, 0x4C];

fn encode_all(frames: &[Frame]) -> BytesMut {
    let mut buf = BytesMut::new();
    for f in frames {
        encode(f, &mut buf).expect("encodable");
    }
    buf
}

/// Feeds `stream` to a fresh codec in the given chunks, then signals end of stream.
fn feed_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Frame>, ProtoError> {
    let mut codec = NgttCodec::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut buf)? {
            out.push(frame);
        }
    }
    while let Some(frame) = codec.decode_eof(&mut buf)? {
        out.push(frame);
    }
    Ok(out)
}

/// Splits `stream` at the sorted, deduplicated offsets in `cuts`.
fn split_at<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(stream.len())).collect();
    points.sort_unstable();
    points.dedup();
    let mut chunks = Vec::new();
    let mut start = 0;
    for p in points.into_iter().chain([stream.len()]) {
        chunks.push(&stream[start..p]);
        start = p;
    }
    chunks
}

fn sample_frames() -> Vec<Frame> {
    vec![
        Frame::new(FrameType::Ping, 1, &b"AL"[..]),
        Frame::fetch_orders(),
        Frame::new(FrameType::Order, 0x7FFF, vec![0xAB; 300]),
        Frame::order_confirm(0x7FFF),
        Frame::new(FrameType::Unknown(4242), 9, &b"future"[..]),
        Frame::new(FrameType::Logs, 0, vec![7; 17]),
    ]
}

#[test]
fn seed_example_both_directions() {
    let mut codec = NgttCodec::new();
    let mut buf = BytesMut::from(&SEED[..]);
    let frame = codec.decode(&mut buf).expect("valid").expect("complete");
    assert_eq!(frame.kind, FrameType::Ping);
    assert_eq!(frame.tid, 1);
    assert_eq!(frame.payload, Bytes::from_static(b"AL"));

    let mut out = BytesMut::new();
    codec.encode(&frame, &mut out).expect("encodes");
    assert_eq!(&out[..], SEED);
    codec.encode(frame, &mut out).expect("encodes by value");
    assert_eq!(&out[10..], SEED);
}

#[test]
fn every_frame_type_round_trips() {
    let kinds = FrameType::KNOWN
        .into_iter()
        .chain([11, 0x7FFF, 0x8000, u16::MAX].map(FrameType::Unknown));
    for kind in kinds {
        for payload in [
            Bytes::new(),
            Bytes::from_static(b"\x80"),
            Bytes::from(vec![0x5A; 1000]),
        ] {
            let frame = Frame::new(kind, 0xA55A, payload.clone());
            let mut buf = encode_all(std::slice::from_ref(&frame));
            assert_eq!(buf.len(), HEADER_LEN + payload.len());
            assert_eq!(check(&buf, DEFAULT_MAX_FRAME_LEN).ok(), Some(Some(buf.len())));
            let back = decode(&mut buf, DEFAULT_MAX_FRAME_LEN)
                .expect("ok")
                .expect("whole");
            assert_eq!(back, frame);
            assert!(buf.is_empty());
        }
    }
}

#[test]
fn unknown_type_reencodes_identically() {
    let wire = [0, 0, 0, 3, 0x12, 0x34, 0x00, 0x0B, 1, 2, 3];
    let mut buf = BytesMut::from(&wire[..]);
    let frame = decode(&mut buf, 16).expect("ok").expect("whole");
    assert_eq!(frame.kind, FrameType::Unknown(11));
    assert_eq!(frame.tid, 0x1234);
    assert_eq!(frame.to_bytes().expect("encodes"), &wire[..]);
}

#[test]
fn many_frames_in_one_read() {
    let frames = sample_frames();
    let mut buf = encode_all(&frames);
    let mut out = Vec::new();
    while let Some(f) = decode(&mut buf, DEFAULT_MAX_FRAME_LEN).expect("valid") {
        out.push(f);
    }
    assert_eq!(out, frames);
    assert!(buf.is_empty());
}

#[test]
fn every_split_offset_of_a_fixed_stream() {
    let frames = sample_frames();
    let stream = encode_all(&frames);
    for cut in 0..=stream.len() {
        assert_eq!(
            feed_chunks(split_at(&stream, &[cut])).expect("valid"),
            frames,
            "cut {cut}"
        );
    }
    assert_eq!(feed_chunks(stream.chunks(1)).expect("valid"), frames);
}

#[test]
fn decoded_payload_shares_the_receive_buffer() {
    let mut buf = encode_all(&[Frame::new(FrameType::Order, 5, vec![9u8; 64])]);
    let payload_addr = buf[HEADER_LEN..].as_ptr();
    let frame = decode(&mut buf, DEFAULT_MAX_FRAME_LEN)
        .expect("ok")
        .expect("whole");
    assert_eq!(frame.payload.as_ptr(), payload_addr, "payload must not be copied");
}

#[test]
fn oversized_length_fails_before_allocating() {
    for extra in [&[][..], &[0, 1, 0, 0][..], &[0, 1, 0, 0, 1, 2, 3][..]] {
        let mut buf = BytesMut::with_capacity(16);
        buf.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        buf.extend_from_slice(extra);
        let (cap, len) = (buf.capacity(), buf.len());

        let err = decode(&mut buf, DEFAULT_MAX_FRAME_LEN).expect_err("too large");
        assert!(matches!(
            err,
            ProtoError::FrameTooLarge {
                len: 0xFFFF_FFFF,
                max: DEFAULT_MAX_FRAME_LEN
            }
        ));
        let err = NgttCodec::new().decode(&mut buf).expect_err("too large");
        assert!(matches!(err, ProtoError::FrameTooLarge { .. }));
        assert_eq!((buf.capacity(), buf.len()), (cap, len), "buffer untouched");
    }
    // One byte over a small limit is refused; exactly the limit is accepted.
    let mut codec = NgttCodec::with_max_frame_len(100);
    assert_eq!(codec.max_frame_len(), 100);
    let mut over = BytesMut::from(&[0, 0, 0, 101][..]);
    assert!(matches!(
        codec.decode(&mut over),
        Err(ProtoError::FrameTooLarge { len: 101, max: 100 })
    ));
    let mut at = BytesMut::from(&[0, 0, 0, 100][..]);
    assert!(codec.decode(&mut at).expect("accepted").is_none());
}

#[test]
fn codec_reserves_rest_of_accepted_frame_only_once_header_is_in() {
    let mut codec = NgttCodec::new();
    let mut buf = BytesMut::with_capacity(4);
    buf.extend_from_slice(&[0, 0, 0x10, 0]); // 4096-byte payload announced
    assert!(codec.decode(&mut buf).expect("ok").is_none());
    assert_eq!(buf.capacity(), 4, "no reservation before the header is complete");
    buf.extend_from_slice(&[0, 1, 0, 1]);
    assert!(codec.decode(&mut buf).expect("ok").is_none());
    assert!(buf.capacity() >= HEADER_LEN + 4096);
    assert_eq!(buf.len(), HEADER_LEN);
}

#[test]
fn truncated_at_close() {
    let mut codec = NgttCodec::new();
    let mut empty = BytesMut::new();
    assert!(codec.decode_eof(&mut empty).expect("clean close").is_none());

    let mut header_part = BytesMut::from(&SEED[..3]);
    assert!(matches!(
        codec.decode_eof(&mut header_part),
        Err(ProtoError::TruncatedAtClose {
            have: 3,
            need: HEADER_LEN
        })
    ));
    let mut payload_part = BytesMut::from(&SEED[..9]);
    assert!(matches!(
        codec.decode_eof(&mut payload_part),
        Err(ProtoError::TruncatedAtClose { have: 9, need: 10 })
    ));
    let mut whole = BytesMut::from(&SEED[..]);
    assert_eq!(
        codec.decode_eof(&mut whole).expect("ok"),
        Some(Frame::new(FrameType::Ping, 1, &b"AL"[..]))
    );
    assert!(codec.decode_eof(&mut whole).expect("ok").is_none());
}

#[test]
fn errors_display() {
    let e = ProtoError::FrameTooLarge { len: 20, max: 10 };
    assert_eq!(
        e.to_string(),
        "frame payload of 20 bytes exceeds the maximum of 10 bytes"
    );
    let e = ProtoError::TruncatedAtClose { have: 3, need: 8 };
    assert!(e.to_string().contains("have 3 of 8 bytes"));
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    (
        any::<u16>(),
        prop_oneof![0u16..=10, any::<u16>()],
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(tid, kind, payload)| Frame::new(FrameType::from_u16(kind), tid, payload))
}

proptest! {
    #[test]
    fn arbitrary_streams_split_arbitrarily(
        frames in prop::collection::vec(arb_frame(), 0..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
    ) {
        let stream = encode_all(&frames);
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        let chunks = split_at(&stream, &cuts);
        prop_assert_eq!(feed_chunks(chunks.iter().copied()).expect("valid stream"), frames.clone());

        // The pure functions agree with the codec.
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(f) = decode(&mut buf, DEFAULT_MAX_FRAME_LEN).expect("valid") {
                out.push(f);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), max in 0usize..64) {
        let mut buf = BytesMut::from(&bytes[..]);
        let mut codec = NgttCodec::with_max_frame_len(max);
        loop {
            match codec.decode_eof(&mut buf) {
                Ok(Some(f)) => prop_assert!(f.payload.len() <= max),
                Ok(None) => { prop_assert!(buf.is_empty()); break; }
                Err(_) => break,
            }
        }
    }
}
