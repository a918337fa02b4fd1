//! Frame encode/decode throughput, in frames/s and bytes/s.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ngtt_proto::{decode, encode, Frame, FrameType, NgttCodec, DEFAULT_MAX_FRAME_LEN};
use tokio_util::codec::Decoder;

/// (label, payload size, frames per batch)
const CASES: [(&str, usize, usize); 3] = [
    ("ping_0B", 0, 10_000),
    ("payload_200B", 200, 10_000),
    ("payload_16KiB", 16 * 1024, 256),
];

fn frames(payload_len: usize, count: usize) -> Vec<Frame> {
    let payload = Bytes::from(vec![0x5A; payload_len]);
    (0..count)
        .map(|i| {
            let kind = if payload_len == 0 {
                FrameType::Ping
            } else {
                FrameType::DataStream
            };
            Frame::new(kind, (i % 0x7FFF) as u16 + 1, payload.clone())
        })
        .collect()
}

fn stream_of(frames: &[Frame]) -> BytesMut {
    let mut buf = BytesMut::new();
    for f in frames {
        encode(f, &mut buf).expect("encodable");
    }
    buf
}

fn bench_encode(c: &mut Criterion) {
    for (label, size, count) in CASES {
        let frames = frames(size, count);
        let total = stream_of(&frames).len() as u64;
        let mut group = c.benchmark_group(format!("encode/{label}"));
        for throughput in [Throughput::Elements(count as u64), Throughput::Bytes(total)] {
            let unit = match throughput {
                Throughput::Elements(_) => "frames",
                _ => "bytes",
            };
            group.throughput(throughput);
            let mut buf = BytesMut::with_capacity(total as usize);
            group.bench_function(unit, |b| {
                b.iter(|| {
                    buf.clear();
                    for f in &frames {
                        encode(black_box(f), &mut buf).expect("encodable");
                    }
                    black_box(buf.len())
                })
            });
        }
        group.finish();
    }
}

fn bench_decode(c: &mut Criterion) {
    for (label, size, count) in CASES {
        let stream = stream_of(&frames(size, count)).freeze();
        let total = stream.len() as u64;
        let mut group = c.benchmark_group(format!("decode/{label}"));
        for throughput in [Throughput::Elements(count as u64), Throughput::Bytes(total)] {
            let unit = match throughput {
                Throughput::Elements(_) => "frames",
                _ => "bytes",
            };
            group.throughput(throughput);
            // The whole stream in one buffer, as after one large read.
            group.bench_function(unit, |b| {
                b.iter_batched(
                    || BytesMut::from(&stream[..]),
                    |mut buf| {
                        let mut n = 0usize;
                        while let Some(f) = decode(&mut buf, DEFAULT_MAX_FRAME_LEN).expect("ok") {
                            n += black_box(f).payload.len();
                        }
                        n
                    },
                    BatchSize::LargeInput,
                )
            });
        }
        // Through the codec, arriving in 4 KiB reads (frames split across reads).
        group.throughput(Throughput::Bytes(total));
        group.bench_function("codec_4KiB_reads_bytes", |b| {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            b.iter(|| {
                let mut codec = NgttCodec::new();
                let mut n = 0usize;
                for chunk in stream.chunks(4096) {
                    buf.extend_from_slice(chunk);
                    while let Some(f) = codec.decode(&mut buf).expect("ok") {
                        n += black_box(f).payload.len();
                    }
                }
                n
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_encode, bench_decode);
criterion_main!(benches);
