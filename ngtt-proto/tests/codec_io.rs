//! [`NgttCodec`] with `tokio_util`'s framed streams and sinks.

use futures::{SinkExt, StreamExt};
use ngtt_proto::{Frame, FrameType, NgttCodec, ProtoError};
use tokio_util::codec::{FramedRead, FramedWrite};

fn frames() -> Vec<Frame> {
    vec![
        Frame::new(FrameType::Ping, 1, &b"AL"[..]),
        Frame::new(FrameType::DataStream, 2, vec![0x42; 20_000]),
        Frame::data_stream_confirm(2),
        Frame::new(FrameType::Unknown(99), 3, &b"?"[..]),
    ]
}

async fn write_all(frames: &[Frame]) -> Vec<u8> {
    let mut sink = FramedWrite::new(Vec::new(), NgttCodec::new());
    for f in frames {
        sink.send(f).await.expect("write to Vec");
    }
    sink.into_inner()
}

#[tokio::test]
async fn framed_read_over_a_byte_slice() {
    let wire = write_all(&frames()).await;
    let read: Vec<Frame> = FramedRead::new(&wire[..], NgttCodec::new())
        .map(|r| r.expect("valid frame"))
        .collect()
        .await;
    assert_eq!(read, frames());
}

#[tokio::test]
async fn framed_read_reports_truncation_at_close() {
    let wire = write_all(&frames()).await;
    let cut = &wire[..wire.len() - 1];
    let mut stream = FramedRead::new(cut, NgttCodec::new());
    for expected in &frames()[..3] {
        assert_eq!(&stream.next().await.expect("item").expect("frame"), expected);
    }
    let err = stream.next().await.expect("item").expect_err("truncated");
    assert!(matches!(err, ProtoError::TruncatedAtClose { have: 8, need: 9 }));
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn framed_read_refuses_oversized_frames() {
    let wire = write_all(&frames()).await;
    let mut stream = FramedRead::new(&wire[..], NgttCodec::with_max_frame_len(1000));
    assert_eq!(stream.next().await.expect("item").expect("ping"), frames()[0]);
    let err = stream.next().await.expect("item").expect_err("oversized");
    assert!(matches!(
        err,
        ProtoError::FrameTooLarge {
            len: 20_000,
            max: 1000
        }
    ));
}
