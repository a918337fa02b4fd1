//! Tests of the pure server session, continued: uploads, logs, pings and other frames, the
//! decode budget, and the timeouts of a connection (idle, write deadline, bounded queues).

use super::*;

#[test]
fn data_stream_is_confirmed_only_after_its_commit() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    s.handle_frame(Frame::new(FrameType::DataStream, 4, series_payload()), t0);
    assert!(s.poll_transmit(t0).is_none(), "no answer before the commit");
    let (id, o) = op(&mut s);
    match o {
        Op::StoreSeries { series } => assert_eq!(series[0].path, "W1"),
        other => panic!("{other:?}"),
    }
    s.handle_stored(id, Ok(Outcome::Stored(1)), t0);
    assert_eq!(drain(&mut s, t0), [Frame::data_stream_confirm(4)]);
    // Storage failed: the connection closes without an answer; the device re-sends.
    s.handle_frame(Frame::new(FrameType::DataStream, 5, series_payload()), t0);
    let (id, _) = op(&mut s);
    s.handle_stored(id, Err(StorageError::Task("disk full".into())), t0);
    assert!(matches!(s.end(), Some(End::Storage(_))));
    assert!(s.is_finished());
    assert!(drain(&mut s, t0).is_empty());
}

#[test]
fn a_data_stream_that_is_not_series_is_rejected_with_a_bounded_reason() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    let junk = minijson::to_vec(&"x".repeat(5000)).unwrap();
    s.handle_frame(Frame::new(FrameType::DataStream, 6, junk), t0);
    assert!(s.poll_op().is_none(), "nothing is stored");
    let sent = drain(&mut s, t0);
    assert_eq!((sent[0].kind, sent[0].tid), (FrameType::DataStreamReject, 6));
    let reason: String = sent[0].payload_as().expect("a reason");
    assert!(reason.starts_with("not a list of pathpoint series"), "{reason}");
    assert!(reason.len() <= MAX_DATA_REJECT_REASON);
    // Not MiniJSON at all, and empty: rejected as well.
    for payload in [&b"\xff\xff"[..], b""] {
        s.handle_frame(
            Frame::new(FrameType::DataStream, 7, Bytes::copy_from_slice(payload)),
            t0,
        );
        assert_eq!(drain(&mut s, t0)[0].kind, FrameType::DataStreamReject);
    }
    assert!(s.end().is_none());
}

#[test]
fn frames_over_the_decode_budget_are_refused_before_decoding() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    // 1 Mi samples of [0, 0]: 4 MiB on the wire, ~40 MiB as samples.
    let tiny = PathpointSeries::new("W1", (0..1 << 20).map(|_| Sample::value(0, 0i64)));
    let tiny = minijson::to_vec(&vec![tiny]).unwrap();
    s.handle_frame(Frame::new(FrameType::DataStream, 3, Bytes::from(tiny)), t0);
    assert!(s.poll_op().is_none(), "nothing is stored");
    let sent = drain(&mut s, t0);
    assert_eq!((sent[0].kind, sent[0].tid), (FrameType::DataStreamReject, 3));
    let reason: String = sent[0].payload_as().expect("a reason");
    assert!(reason.contains("decode budget"), "{reason}");
    // LOGS have no answer: dropped, the connection kept.
    let nulls = minijson::to_vec(&vec![(); 1 << 20]).unwrap();
    s.handle_frame(Frame::new(FrameType::Logs, 0, Bytes::from(nulls)), t0);
    assert!(s.poll_op().is_none() && drain(&mut s, t0).is_empty());
    assert!(s.end().is_none());
    // With a larger factor the same upload is stored.
    let mut s = Session::new(
        SessionConfig {
            decode_factor: 64,
            ..config(None)
        },
        t0,
    );
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Done), t0);
    let tiny = PathpointSeries::new("W1", (0..1 << 20).map(|_| Sample::value(0, 0i64)));
    s.handle_frame(
        Frame::new(
            FrameType::DataStream,
            4,
            Bytes::from(minijson::to_vec(&vec![tiny]).unwrap()),
        ),
        t0,
    );
    assert!(matches!(op(&mut s).1, Op::StoreSeries { .. }));
}

fn items_again() -> Bytes {
    Bytes::from(minijson::to_vec(&vec![minijson::Value::from(1i64)]).unwrap())
}

#[test]
fn logs_are_stored_without_an_answer_and_junk_is_a_protocol_error() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    let items = minijson::to_vec(&vec![minijson::Value::from(1i64)]).unwrap();
    s.handle_frame(Frame::new(FrameType::Logs, 0, items), t0);
    let (id, o) = op(&mut s);
    assert!(matches!(&o, Op::StoreLogs { items } if items.len() == 1), "{o:?}");
    // The item is no log record: noted, and warned about once per connection.
    let notes = crate::log_records::LogNotes {
        skipped: 1,
        first_invalid: Some("not a map".into()),
        ..Default::default()
    };
    s.handle_stored(id, Ok(Outcome::Logs(0, notes.clone())), t0);
    assert!(drain(&mut s, t0).is_empty(), "LOGS have no answer");
    s.handle_frame(Frame::new(FrameType::Logs, 0, items_again()), t0);
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Logs(0, notes)), t0);
    let repeats: Vec<_> = s.warnings.suppressed().collect();
    assert_eq!(repeats, [("invalid log records", 1)]);
    // An empty list stores nothing.
    s.handle_frame(
        Frame::new(FrameType::Logs, 0, minijson::to_vec(&Vec::<u8>::new()).unwrap()),
        t0,
    );
    assert!(s.poll_op().is_none());
    s.handle_frame(Frame::new(FrameType::Logs, 0, Bytes::from_static(b"\xff")), t0);
    assert!(matches!(s.end(), Some(End::Protocol(_))));
    assert!(s.is_finished());
}

/// A connected session whose PING answers are held `delay`.
fn holding_echoes(delay: Duration, t0: Instant) -> Session {
    let mut s = Session::new(
        SessionConfig {
            ping_answer_delay: delay,
            ..config(None)
        },
        t0,
    );
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Done), t0);
    s
}

#[test]
fn a_keepalive_answer_goes_out_at_its_deadline_and_reading_goes_on() {
    let t0 = Instant::now();
    let mut s = holding_echoes(60 * S, t0);
    // The device's keepalive: its first frame after 30 s of silence.
    let t1 = t0 + 30 * S;
    s.handle_frame(Frame::new(FrameType::Ping, 9, Bytes::from_static(b"AL")), t1);
    assert!(drain(&mut s, t1).is_empty(), "held");
    assert!(s.wants_read(), "a held answer does not stop reading");
    assert_eq!(s.poll_timeout(), Some(t1 + 60 * S));
    s.handle_timeout(t1 + 59 * S);
    assert!(drain(&mut s, t1 + 59 * S).is_empty());
    s.handle_timeout(t1 + 60 * S);
    assert_eq!(
        drain(&mut s, t1 + 60 * S),
        [Frame::new(FrameType::Ping, 9, Bytes::from_static(b"AL"))]
    );
    // The idle clock runs from the PING: the device's next one, due at once, is in time.
    assert_eq!(s.poll_timeout(), Some(t1 + 120 * S));
    assert!(s.end().is_none());
}

#[test]
fn a_held_ping_answer_rides_along_with_the_next_frame_written() {
    let t0 = Instant::now();
    let mut s = holding_echoes(60 * S, t0);
    take_orders(&mut s, t0, vec![]);
    let t1 = t0 + 30 * S;
    s.handle_frame(Frame::ping(4), t1);
    assert!(drain(&mut s, t1).is_empty());
    // An order is queued 1 s later: the echo goes first, in the same write.
    let t2 = t1 + S;
    s.handle_new_orders();
    let (id, o) = op(&mut s);
    assert!(matches!(o, Op::ClaimOrders { .. }), "{o:?}");
    s.handle_stored(id, Ok(Outcome::Claimed(vec![order(6)], Some(40))), t2);
    let sent = drain(&mut s, t2);
    assert_eq!(
        sent.iter().map(|f| (f.kind, f.tid)).collect::<Vec<_>>(),
        [(FrameType::Ping, 4), (FrameType::Order, 40)]
    );
    assert_eq!(s.poll_timeout(), Some(t1 + 120 * S), "nothing held any more");
}

#[test]
fn an_active_device_is_not_paced_its_proof_of_reading_answered_at_once() {
    let t0 = Instant::now();
    let mut s = holding_echoes(60 * S, t0);
    let t1 = t0 + 30 * S;
    s.handle_frame(Frame::ping(1), t1);
    assert!(drain(&mut s, t1).is_empty(), "a keepalive: held");
    // The device writes a LOGS batch: the held answer goes at once...
    let t2 = t1 + 5 * S;
    s.handle_frame(Frame::new(FrameType::Logs, 0, items_again()), t2);
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Logs(1, Default::default())), t2);
    assert_eq!(drain(&mut s, t2), [Frame::ping(1)]);
    // ...and the PING it writes after the batch to prove it was read is answered at once.
    s.handle_frame(Frame::ping(2), t2);
    assert_eq!(drain(&mut s, t2), [Frame::ping(2)]);
    // 19 s later, a ping is still not a keepalive (a third of 60 s is 20 s).
    s.handle_frame(Frame::ping(3), t2 + 19 * S);
    assert_eq!(drain(&mut s, t2 + 19 * S), [Frame::ping(3)]);
    s.handle_frame(Frame::ping(4), t2 + 39 * S);
    assert!(drain(&mut s, t2 + 39 * S).is_empty(), "20 s of silence: held");
}

#[test]
fn pings_beyond_the_held_bound_are_answered_at_once_oldest_first() {
    let t0 = Instant::now();
    let mut s = holding_echoes(60 * S, t0);
    let mut answered = Vec::new();
    let mut t = t0;
    for tid in 1..=6u16 {
        t += 20 * S;
        s.handle_frame(Frame::ping(tid), t);
        answered.extend(drain(&mut s, t).into_iter().map(|f| f.tid));
    }
    assert_eq!(answered, [1, 2], "a device pinging without waiting gains nothing");
    s.handle_timeout(t + 60 * S);
    let rest: Vec<u16> = drain(&mut s, t + 60 * S).iter().map(|f| f.tid).collect();
    assert_eq!(rest, [3, 4, 5, 6]);
}

#[test]
fn ping_is_echoed_and_baob_sync_answered() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    s.handle_frame(Frame::new(FrameType::Ping, 77, Bytes::from_static(b"abc")), t0);
    assert_eq!(
        drain(&mut s, t0),
        [Frame::new(FrameType::Ping, 77, Bytes::from_static(b"abc"))]
    );
    let request = minijson::to_vec(&std::collections::BTreeMap::from([("k".to_owned(), 1i64)])).unwrap();
    s.handle_frame(Frame::new(FrameType::SyncBaobRequest, 12, request), t0);
    let (id, o) = op(&mut s);
    assert!(
        matches!(&o, Op::BaobSync { request } if request.0["k"] == 1),
        "{o:?}"
    );
    let answer = SyncBaobResponse {
        download: vec!["a".into()],
        ..SyncBaobResponse::default()
    };
    s.handle_stored(id, Ok(Outcome::Baob(answer.clone())), t0);
    assert_eq!(
        drain(&mut s, t0),
        [Frame::sync_baob_response(12, &answer).unwrap()]
    );
    // A request that is not a map of versions breaks the protocol.
    s.handle_frame(
        Frame::new(FrameType::SyncBaobRequest, 13, Bytes::from_static(b"\xff")),
        t0,
    );
    assert!(matches!(s.end(), Some(End::Protocol(_))));
}

#[test]
fn unknown_and_unexpected_frames_are_ignored() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    for _ in 0..3 {
        s.handle_frame(Frame::new(FrameType::Unknown(99), 1, Bytes::new()), t0);
    }
    assert_eq!(s.unknown_seen.len(), 1, "logged once per type");
    s.handle_frame(Frame::data_stream_confirm(3), t0);
    s.handle_frame(Frame::new(FrameType::Order, 3, Bytes::new()), t0);
    assert!(s.poll_op().is_none());
    assert!(drain(&mut s, t0).is_empty());
    assert!(s.end().is_none() && s.wants_read());
}

#[test]
fn read_errors_end_the_session() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    s.handle_read_error(ProtoError::FrameTooLarge { len: 10, max: 5 });
    assert!(matches!(s.end(), Some(End::Protocol(_))));
    let mut s = connected(None, t0);
    s.handle_read_error(ProtoError::Io(std::io::Error::other("reset")));
    assert!(matches!(s.end(), Some(End::Io(_))));
    let mut s = connected(None, t0);
    s.handle_peer_closed();
    assert!(matches!(s.end(), Some(End::PeerClosed)) && s.is_finished());
}

#[test]
fn idle_timeout_counts_from_the_last_frame_and_not_while_busy() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    s.handle_timeout(t0 + 119 * S);
    assert!(s.end().is_none());
    s.handle_frame(
        Frame::new(FrameType::DataStream, 1, series_payload()),
        t0 + 100 * S,
    );
    let (id, _) = op(&mut s);
    assert_eq!(s.poll_timeout(), None, "not idle while a commit is outstanding");
    s.handle_timeout(t0 + 300 * S);
    assert!(s.end().is_none());
    s.handle_stored(id, Ok(Outcome::Stored(1)), t0 + 300 * S);
    drain(&mut s, t0 + 300 * S);
    // The idle clock restarted when reading resumed.
    assert_eq!(s.poll_timeout(), Some(t0 + 420 * S));
    s.handle_timeout(t0 + 420 * S);
    assert!(matches!(s.end(), Some(End::Idle(_))));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_peer_that_does_not_read_is_dropped_at_the_write_deadline() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![order(1), order(2)]);
    reserve(&mut s, t0, 1);
    let first = s.poll_transmit(t0).expect("an ORDER");
    assert_eq!(first.kind, FrameType::Order);
    assert!(
        !s.wants_read(),
        "nothing is read while a frame waits to be written"
    );
    assert_eq!(s.poll_timeout(), Some(t0 + 90 * S));
    // Progress moves the deadline.
    s.on_written(t0 + 10 * S, false);
    assert_eq!(s.poll_timeout(), Some(t0 + 100 * S));
    s.handle_timeout(t0 + 99 * S);
    assert!(s.end().is_none());
    s.handle_timeout(t0 + 100 * S);
    assert!(matches!(s.end(), Some(End::WriteStalled(_))));
    assert!(!s.end().unwrap().closes_cleanly());
    assert!(s.poll_transmit(t0).is_none(), "nothing more is written");
    assert_eq!(s.unanswered(), 2, "both go back to the queue");
}

#[test]
fn what_waits_to_be_written_is_bounded_by_one_frame_each_way_and_the_window() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![order(1), order(2)]);
    reserve(&mut s, t0, 1);
    // Two ORDERs queued (the window): no frame is read until they are written.
    assert_eq!(s.out.len(), 2);
    assert!(!s.wants_read());
    s.poll_transmit(t0);
    s.on_written(t0, true);
    assert!(!s.wants_read());
    s.poll_transmit(t0);
    s.on_written(t0, true);
    assert!(s.wants_read());
    // A PING's echo is written before the next frame is read.
    s.handle_frame(Frame::ping(3), t0);
    assert!(!s.wants_read());
    drain(&mut s, t0);
    assert!(s.wants_read());
}
