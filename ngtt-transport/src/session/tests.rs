//! Tests of the pure session: plain `Instant`s advanced by hand, no sockets, no runtime.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ngtt_proto::payload::{Level, LogRecord, Order, PathpointSeries, Sample, Section};
use ngtt_proto::{Frame, FrameHeader, FrameType};

use super::*;

pub(super) const MS: Duration = Duration::from_millis(1);

pub(super) fn timings() -> Timings {
    Timings {
        ping_after: 30 * 1000 * MS,
        dead_after: 120 * 1000 * MS,
        write_timeout: 90 * 1000 * MS,
        connect_timeout: 30 * 1000 * MS,
    }
}

pub(super) fn session(fetch_orders: bool) -> Session {
    Session::new(SessionConfig {
        timings: timings(),
        fetch_orders,
        ..SessionConfig::default()
    })
}

pub(super) fn drain(s: &mut Session, now: Instant) -> Vec<Frame> {
    std::iter::from_fn(|| s.poll_transmit(now)).collect()
}

pub(super) fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

pub(super) fn payload(n: i64) -> Bytes {
    let series = [PathpointSeries::new("W1", [Sample::value(1000, n)])];
    minijson::to_vec(&series).expect("encodes").into()
}

fn order_frame(tid: u16) -> Frame {
    Frame::order(tid, &[Section::new([Order::read("W1")])]).expect("encodes")
}

#[test]
fn fetch_orders_first_only_when_wanted() {
    let t0 = Instant::now();
    let mut s = session(true);
    assert_eq!(s.poll_transmit(t0), None, "nothing before a connection");
    assert_eq!(s.connect(t0), 1);
    assert_eq!(drain(&mut s, t0), [Frame::fetch_orders()]);
    let mut s = session(false);
    s.connect(t0);
    assert_eq!(drain(&mut s, t0), []);
    s.upload(payload(1));
    assert_eq!(drain(&mut s, t0)[0].kind, FrameType::DataStream);
}

#[test]
fn upload_confirmed_and_rejected() {
    let t0 = Instant::now();
    let mut s = session(false);
    s.connect(t0);
    let a = s.upload(payload(1));
    let b = s.upload(payload(2));
    let c = s.upload(payload(3));
    let sent = drain(&mut s, t0);
    assert_eq!(sent.iter().map(|f| f.tid).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(sent[1].payload, payload(2));
    s.handle_frame(Frame::data_stream_confirm(1), t0).expect("ok");
    s.handle_frame(
        Frame::data_stream_reject_because(2, "bad path").expect("encodes"),
        t0,
    )
    .expect("ok");
    let map_reason = Frame::new(
        FrameType::DataStreamReject,
        3,
        minijson::to_vec(&std::collections::BTreeMap::from([("why", 7)])).expect("encodes"),
    );
    s.handle_frame(map_reason, t0).expect("ok");
    assert_eq!(
        events(&mut s),
        [
            Event::UploadConfirmed(a),
            Event::UploadRejected {
                id: b,
                reason: Some("bad path".into())
            },
            Event::UploadRejected {
                id: c,
                reason: Some(r#"{"why":7}"#.into())
            },
        ]
    );
    assert_eq!(s.pending_uploads(), 0);
    // Answering again is an unknown tid: ignored.
    s.handle_frame(Frame::data_stream_confirm(1), t0)
        .expect("ignored");
    s.handle_frame(Frame::data_stream_reject(99), t0)
        .expect("ignored");
    assert_eq!(events(&mut s), []);
}

#[test]
fn unanswered_uploads_are_resent_once_per_connection_with_new_tids_in_order() {
    let t0 = Instant::now();
    let mut s = session(true);
    let early = s.upload(payload(1)); // made while disconnected
    s.connect(t0);
    let late = s.upload(payload(2));
    let first = drain(&mut s, t0);
    assert_eq!(first.len(), 3);
    assert_eq!((first[1].tid, first[2].tid), (1, 2));
    s.disconnect();
    assert_eq!(s.connected_epoch(), None);
    assert_eq!(s.pending_uploads(), 2);
    assert_eq!(s.connect(t0), 2);
    let second = drain(&mut s, t0);
    assert_eq!(second[0], Frame::fetch_orders());
    let resent: Vec<_> = second[1..]
        .iter()
        .map(|f| (f.kind, f.tid, f.payload.clone()))
        .collect();
    assert_eq!(
        resent,
        [
            (FrameType::DataStream, 3, payload(1)),
            (FrameType::DataStream, 4, payload(2))
        ]
    );
    assert_eq!(drain(&mut s, t0), [], "exactly once per connection");
    // An answer to a tid of the old connection matches nothing.
    s.handle_frame(Frame::data_stream_confirm(1), t0)
        .expect("ignored");
    assert_eq!(events(&mut s), []);
    s.handle_frame(Frame::data_stream_confirm(4), t0).expect("ok");
    s.handle_frame(Frame::data_stream_confirm(3), t0).expect("ok");
    assert_eq!(
        events(&mut s),
        [Event::UploadConfirmed(late), Event::UploadConfirmed(early)]
    );
}

#[test]
fn keepalive_ping_echo_and_dead_peer() {
    let t0 = Instant::now();
    let mut s = session(false);
    assert_eq!(s.poll_timeout(), None);
    s.connect(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 30_000 * MS));
    s.handle_timeout(t0 + 29_999 * MS).expect("alive");
    assert_eq!(drain(&mut s, t0), []);
    let t1 = t0 + 30_000 * MS;
    s.handle_timeout(t1).expect("alive");
    let ping = drain(&mut s, t1);
    assert_eq!(ping, [Frame::ping(1)]);
    s.on_written(t1, true);
    // No second ping while one is outstanding; the dead-peer deadline is 120 s after it.
    assert_eq!(s.poll_timeout(), Some(t1 + 120_000 * MS));
    s.handle_timeout(t1 + 60_000 * MS).expect("alive");
    assert_eq!(drain(&mut s, t1), []);
    // The echo clears it; an echo of another tid is ignored.
    s.handle_frame(Frame::ping(7), t1 + MS).expect("ignored");
    s.handle_frame(Frame::ping(1), t1 + MS).expect("ok");
    assert_eq!(s.poll_timeout(), Some(t1 + 30_000 * MS));
    // Next ping, never answered: dead 120 s later, counted from the last read.
    let t2 = t1 + 30_000 * MS;
    s.handle_timeout(t2).expect("alive");
    assert_eq!(drain(&mut s, t2), [Frame::ping(2)]);
    s.on_written(t2, true);
    s.handle_frame(order_frame(5), t2 + 10_000 * MS).expect("ok"); // a read postpones death
    s.handle_timeout(t2 + 120_000 * MS)
        .expect("still alive: read 110 s ago");
    let err = s.handle_timeout(t2 + 130_000 * MS).expect_err("dead");
    assert!(matches!(err, TransportError::PeerDead { silent_for } if silent_for == 120_000 * MS));
}

#[test]
fn pings_and_uploads_share_the_tid_space() {
    let t0 = Instant::now();
    let mut s = session(false);
    s.connect(t0);
    s.upload(payload(1));
    let frames = drain(&mut s, t0);
    assert_eq!(
        frames.iter().map(|f| (f.kind, f.tid)).collect::<Vec<_>>(),
        [(FrameType::DataStream, 1)]
    );
    let t1 = t0 + 30_000 * MS;
    s.handle_timeout(t1).expect("alive");
    assert_eq!(drain(&mut s, t1), [Frame::ping(2)], "1 still awaits its answer");
    // A DATA_STREAM_CONFIRM naming the ping's tid is not an upload answer.
    s.handle_frame(Frame::data_stream_confirm(2), t1)
        .expect("ignored");
    assert_eq!(events(&mut s), []);
    s.upload(payload(2));
    assert_eq!(drain(&mut s, t1)[0].tid, 3, "2 still awaits its echo");
}

#[test]
fn stalled_writes_kill_the_connection() {
    let t0 = Instant::now();
    let mut s = session(true);
    s.connect(t0);
    assert_eq!(drain(&mut s, t0).len(), 1);
    assert_eq!(s.poll_timeout(), Some(t0 + 30_000 * MS), "the ping comes first");
    s.on_written(t0 + 1000 * MS, false); // progress, not finished
    s.handle_timeout(t0 + 30_000 * MS).expect("alive");
    assert_eq!(drain(&mut s, t0 + 30_000 * MS), [Frame::ping(1)]);
    assert_eq!(s.poll_timeout(), Some(t0 + 91_000 * MS));
    let err = s.handle_timeout(t0 + 91_000 * MS).expect_err("stalled");
    assert!(matches!(err, TransportError::WriteStalled { stalled_for } if stalled_for == 90_000 * MS));
    // Once everything is flushed there is no write deadline.
    let mut s = session(true);
    s.connect(t0);
    drain(&mut s, t0);
    s.on_written(t0, true);
    s.handle_timeout(t0 + 100_000 * MS).expect("alive");
}

#[test]
fn orders_are_answered_on_their_connection_only() {
    let t0 = Instant::now();
    let mut s = session(true);
    let epoch = s.connect(t0);
    drain(&mut s, t0);
    s.handle_frame(order_frame(40), t0).expect("ok");
    s.handle_frame(order_frame(41), t0).expect("ok");
    s.handle_frame(order_frame(41), t0).expect("duplicate ignored");
    let got = events(&mut s);
    assert_eq!(got.len(), 2);
    let Event::Order(order) = &got[0] else {
        panic!("order expected: {got:?}")
    };
    assert_eq!((order.tid, order.sections.len()), (40, 1));
    assert_eq!(order.payload, order_frame(40).payload);
    assert!(s.answer_order(epoch, 40, true));
    assert!(!s.answer_order(epoch, 40, true), "answered already");
    assert!(!s.answer_order(epoch, 99, true), "never received");
    assert!(s.answer_order(epoch, 41, false));
    assert_eq!(
        drain(&mut s, t0),
        [Frame::order_confirm(40), Frame::order_reject(41)]
    );
    // An order of a dropped connection is not answered on the next one.
    s.handle_frame(order_frame(42), t0).expect("ok");
    s.disconnect();
    assert!(!s.answer_order(epoch, 42, true));
    let next = s.connect(t0);
    assert!(!s.answer_order(epoch, 42, true));
    assert_eq!(drain(&mut s, t0), [Frame::fetch_orders()]);
    s.handle_frame(order_frame(42), t0).expect("redelivered");
    assert!(s.answer_order(next, 42, true));
}

#[test]
fn bad_orders() {
    let t0 = Instant::now();
    let mut s = session(true);
    s.connect(t0);
    drain(&mut s, t0);
    // Valid MiniJSON that is not a list of sections: refused, not delivered.
    let not_sections = Frame::new(FrameType::Order, 8, minijson::to_vec("hello").expect("encodes"));
    s.handle_frame(not_sections, t0).expect("handled");
    s.handle_frame(Frame::empty(FrameType::Order, 9), t0)
        .expect("handled");
    assert_eq!(
        drain(&mut s, t0),
        [Frame::order_reject(8), Frame::order_reject(9)]
    );
    assert_eq!(events(&mut s), []);
    // Not MiniJSON at all: a protocol error.
    let garbage = Frame::new(FrameType::Order, 10, vec![0x1c, 0xff]);
    assert!(matches!(
        s.handle_frame(garbage, t0),
        Err(TransportError::Proto(_))
    ));
}

#[test]
fn unexpected_frames_are_ignored() {
    let t0 = Instant::now();
    let mut s = session(false);
    s.connect(t0);
    for frame in [
        Frame::empty(FrameType::Unknown(42), 1),
        Frame::empty(FrameType::Unknown(42), 2),
        Frame::empty(FrameType::Unknown(43), 0),
        Frame::fetch_orders(),
        Frame::order_confirm(1),
        Frame::empty(FrameType::SyncBaobResponse, 1),
    ] {
        s.handle_frame(frame, t0).expect("ignored");
    }
    assert_eq!(drain(&mut s, t0), []);
    assert_eq!(events(&mut s), []);
    assert_eq!(s.unknown_types.len(), 2, "each unknown type noted once");
    // While disconnected, frames are ignored altogether.
    s.disconnect();
    s.handle_frame(order_frame(1), t0).expect("ignored");
    assert_eq!(events(&mut s), []);
}

#[test]
fn logs_only_while_connected() {
    let t0 = Instant::now();
    let mut s = session(false);
    let records = [LogRecord::new("svc", 1, Level::INFO, "hi")];
    assert!(!s.send_logs(&records).expect("ok"));
    s.connect(t0);
    assert!(s.send_logs(&records).expect("ok"));
    assert_eq!(drain(&mut s, t0), [Frame::logs(&records).expect("encodes")]);
}

#[test]
fn uploads_wait_when_every_tid_is_taken() {
    let t0 = Instant::now();
    let mut s = session(false);
    s.connect(t0);
    let n = usize::from(MAX_TID);
    for i in 0..=n {
        s.upload(payload(i as i64));
    }
    assert_eq!(drain(&mut s, t0).len(), n, "one upload waits for a free tid");
    // With every tid taken there is no ping either: the idle check just waits.
    s.handle_timeout(t0 + 30_000 * MS).expect("alive");
    assert_eq!(drain(&mut s, t0), []);
    s.handle_frame(Frame::data_stream_confirm(500), t0).expect("ok");
    let last = drain(&mut s, t0);
    assert_eq!((last.len(), last[0].tid), (1, 500));
    assert_eq!(last[0].payload, payload(n as i64));
}

#[test]
fn an_oversized_order_is_rejected_by_its_tid_and_other_oversized_frames_ignored() {
    let t0 = Instant::now();
    let mut s = Session::new(SessionConfig {
        timings: timings(),
        fetch_orders: false,
        max_frame_len: 100,
        ..SessionConfig::default()
    });
    let header = |kind, tid| FrameHeader { len: 5000, tid, kind };
    s.handle_oversized(header(FrameType::Order, 4), t0);
    assert!(drain(&mut s, t0).is_empty(), "nothing before a connection");
    s.connect(t0);
    s.handle_frame(order_frame(1), t0).expect("valid");
    s.handle_oversized(header(FrameType::Order, 2), t0 + MS);
    s.handle_frame(order_frame(3), t0).expect("valid");
    // Another oversized ORDER reusing an open tid is not answered: that tid is order 1's.
    s.handle_oversized(header(FrameType::Order, 1), t0);
    s.handle_oversized(header(FrameType::DataStreamConfirm, 9), t0);
    s.handle_oversized(header(FrameType::Unknown(77), 0), t0);
    let out = drain(&mut s, t0);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].kind, out[0].tid), (FrameType::OrderReject, 2));
    let reason: String = out[0].payload_as().expect("a reason");
    assert_eq!(
        reason,
        "ORDER of 5000 bytes is larger than this device accepts (100 bytes)"
    );
    let tids: Vec<_> = events(&mut s)
        .into_iter()
        .map(|e| match e {
            Event::Order(o) => o.tid,
            Event::OversizedOrderRejected { tid, len: 5000 } => 1000 + tid,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(tids, [1, 1002, 3]);
    // Orders 1 and 3 are answered as usual; the oversized one is not open.
    assert!(s.answer_order(1, 1, true) && s.answer_order(1, 3, true));
    assert!(!s.answer_order(1, 2, true));
    // Reading one counts as hearing from the server.
    assert_eq!(s.poll_timeout(), Some(t0 + timings().ping_after));
}

#[test]
fn orders_beyond_the_bound_are_not_taken() {
    let t0 = Instant::now();
    let mut s = Session::new(SessionConfig {
        timings: timings(),
        fetch_orders: false,
        max_open_orders: 2,
        ..SessionConfig::default()
    });
    s.connect(t0);
    for tid in 1..=4 {
        s.handle_frame(order_frame(tid), t0).expect("valid");
    }
    let seen: Vec<_> = events(&mut s)
        .into_iter()
        .map(|e| match e {
            Event::Order(o) => (o.tid, true),
            Event::OrderNotTaken { tid } => (tid, false),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seen, [(1, true), (2, true), (3, false), (4, false)]);
    assert!(drain(&mut s, t0).is_empty(), "nothing answered");
    // An answer (or an order forgotten) makes room.
    assert!(s.answer_order(1, 1, true));
    assert!(s.forget_order(1, 2));
    assert!(!s.forget_order(1, 2), "forgotten once");
    s.handle_frame(order_frame(3), t0).expect("valid");
    assert!(matches!(events(&mut s)[..], [Event::Order(ref o)] if o.tid == 3));
}

#[test]
fn baob_sync_requests_are_answered_by_tid_and_forgotten_on_disconnect() {
    let t0 = Instant::now();
    let mut s = session(false);
    assert_eq!(s.sync_baobs(Bytes::from_static(b"x")), None, "not connected");
    s.connect(t0);
    let id = s.sync_baobs(Bytes::from_static(b"\x01")).expect("queued");
    let sent = drain(&mut s, t0);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, FrameType::SyncBaobRequest);
    let tid = sent[0].tid;
    // An answer with another tid is ignored; the right one becomes the event, once.
    s.handle_frame(Frame::new(FrameType::SyncBaobResponse, tid + 1, Bytes::new()), t0)
        .unwrap();
    assert_eq!(events(&mut s), []);
    let answer = Bytes::from_static(b"answer");
    s.handle_frame(Frame::new(FrameType::SyncBaobResponse, tid, answer.clone()), t0)
        .unwrap();
    assert_eq!(events(&mut s), [Event::BaobAnswer { id, payload: answer }]);
    s.handle_frame(Frame::new(FrameType::SyncBaobResponse, tid, Bytes::new()), t0)
        .unwrap();
    assert_eq!(events(&mut s), [], "answered once");
    // A request whose connection is lost is never answered on the next one.
    let lost = s.sync_baobs(Bytes::from_static(b"\x02")).unwrap();
    let tid = drain(&mut s, t0)[0].tid;
    s.connect(t0);
    s.handle_frame(Frame::new(FrameType::SyncBaobResponse, tid, Bytes::new()), t0)
        .unwrap();
    assert!(events(&mut s)
        .iter()
        .all(|e| !matches!(e, Event::BaobAnswer { id, .. } if *id == lost)));
}
