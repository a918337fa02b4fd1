//! Tests of the pure server session: each rule of docs/delivery-guarantees.md that a
//! connection decides, and each per-connection budget, with `now` advanced by hand — no
//! sockets, no storage, no runtime.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ngtt_proto::payload::{PathpointSeries, Sample, SyncBaobResponse};
use ngtt_proto::{Frame, FrameType, ProtoError};

use super::*;

const S: Duration = Duration::from_secs(1);

fn config(grace: Option<Duration>) -> SessionConfig {
    SessionConfig {
        max_inflight: 2,
        idle_timeout: 120 * S,
        write_timeout: 90 * S,
        decode_factor: crate::DEFAULT_DECODE_FACTOR,
        fetch_grace: grace,
        max_uploads: 4,
        max_upload_bytes: 1 << 20,
    }
}

/// A session whose connection is recorded, at `t0`.
fn connected(grace: Option<Duration>, t0: Instant) -> Session {
    let mut s = Session::new(config(grace), t0);
    assert!(
        !s.wants_read(),
        "nothing is read before the connection is recorded"
    );
    let (id, op) = s.poll_op().expect("first op");
    assert!(matches!(op, Op::DeviceConnected));
    s.handle_stored(id, Ok(Outcome::Done), t0);
    assert!(s.wants_read());
    s
}

fn op(s: &mut Session) -> (OpId, Op) {
    s.poll_op().expect("an operation")
}

/// Every frame queued, each reported written and flushed at `now`.
fn drain(s: &mut Session, now: Instant) -> Vec<Frame> {
    let frames: Vec<Frame> = std::iter::from_fn(|| s.poll_transmit(now)).collect();
    s.on_written(now, true);
    frames
}

fn order(id: OrderId) -> PendingOrder {
    PendingOrder {
        id,
        payload: Bytes::from(format!("[{id}]")),
    }
}

/// FETCH_ORDERS, the order gate, and the first claim (answered with `orders`).
fn take_orders(s: &mut Session, now: Instant, orders: Vec<PendingOrder>) {
    s.handle_frame(Frame::fetch_orders(), now);
    let (id, o) = op(s);
    assert!(matches!(o, Op::TakeOrders));
    s.handle_stored(id, Ok(Outcome::Done), now);
    claim(s, now, 0, orders);
}

/// Expects a claim after `after`, answers it with `orders`.
fn claim(s: &mut Session, now: Instant, after: OrderId, orders: Vec<PendingOrder>) {
    let (id, o) = op(s);
    match o {
        Op::ClaimOrders { after: a, limit, .. } => {
            assert_eq!(a, after);
            assert!(orders.len() <= limit, "never more than the window's room");
        }
        other => panic!("expected a claim, got {other:?}"),
    }
    s.handle_stored(id, Ok(Outcome::Claimed(orders)), now);
}

/// Expects a tid reservation, answers it with a block from `first`.
fn reserve(s: &mut Session, now: Instant, first: u16) {
    let (id, o) = op(s);
    assert!(matches!(o, Op::ReserveTids { count: TID_BLOCK }), "{o:?}");
    s.handle_stored(id, Ok(Outcome::Tids(first)), now);
}

fn series_payload() -> Bytes {
    minijson::to_vec(&[PathpointSeries::new("W1", [Sample::value(1000, 1)])])
        .expect("encodes")
        .into()
}

#[test]
fn orders_start_on_fetch_orders_in_queue_order_under_reserved_tids() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    assert!(
        !s.wants_orders(),
        "new orders are not looked for before FETCH_ORDERS"
    );
    s.handle_new_orders();
    assert!(s.poll_op().is_none());
    take_orders(&mut s, t0, vec![order(5), order(7)]);
    reserve(&mut s, t0, 300);
    let sent = drain(&mut s, t0);
    assert_eq!(
        sent.iter().map(|f| (f.kind, f.tid)).collect::<Vec<_>>(),
        [(FrameType::Order, 300), (FrameType::Order, 301)]
    );
    assert_eq!(sent[1].payload, Bytes::from("[7]"));
    assert_eq!(s.unanswered(), 2);
    // The window (2) is full: no claim until an answer.
    assert!(s.poll_op().is_none());
    assert!(s.wants_orders());
}

#[test]
fn a_claim_without_tids_left_reserves_a_block_in_the_same_commit() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    s.handle_frame(Frame::fetch_orders(), t0);
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Done), t0);
    let (id, o) = op(&mut s);
    assert!(
        matches!(o, Op::ClaimOrders { tids: TID_BLOCK, .. }),
        "no tids yet: the claim asks for a block: {o:?}"
    );
    // Claimed with a block: the orders go out at once, no reservation of their own.
    s.handle_stored(id, Ok(Outcome::ClaimedWithTids(vec![order(5)], 40)), t0);
    assert!(s.poll_op().is_none(), "no separate reservation");
    let sent = drain(&mut s, t0);
    assert_eq!(
        sent.iter().map(|f| (f.kind, f.tid)).collect::<Vec<_>>(),
        [(FrameType::Order, 40)]
    );
    // With tids left, the next claim asks for none.
    s.handle_new_orders();
    let (id, o) = op(&mut s);
    assert!(
        matches!(
            o,
            Op::ClaimOrders {
                after: 5,
                tids: 0,
                ..
            }
        ),
        "{o:?}"
    );
    s.handle_stored(id, Ok(Outcome::Claimed(vec![order(6)])), t0);
    let sent = drain(&mut s, t0);
    assert_eq!(
        sent.iter().map(|f| (f.kind, f.tid)).collect::<Vec<_>>(),
        [(FrameType::Order, 41)]
    );
    // A claim that found nothing reserved nothing: the block is asked for again next time.
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![]);
    s.handle_new_orders();
    let (_, o) = op(&mut s);
    assert!(matches!(o, Op::ClaimOrders { tids: TID_BLOCK, .. }), "{o:?}");
}

#[test]
fn an_answer_is_committed_then_the_window_refills_after_the_cursor() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![order(5), order(7)]);
    reserve(&mut s, t0, 1);
    drain(&mut s, t0);
    s.handle_frame(Frame::order_confirm(2), t0);
    let (id, o) = op(&mut s);
    assert!(
        matches!(
            o,
            Op::AnswerOrder {
                order: 7,
                answer: OrderAnswer::Confirmed
            }
        ),
        "{o:?}"
    );
    assert!(!s.wants_read(), "the next frame waits for the commit");
    s.handle_stored(id, Ok(Outcome::Answered(true)), t0);
    // Each order goes out at most once per connection: the claim starts after the cursor.
    claim(&mut s, t0, 7, vec![order(9)]);
    let sent = drain(&mut s, t0);
    assert_eq!((sent[0].tid, &sent[0].payload[..]), (3, &b"[9]"[..]));
    // ORDER_REJECT (with a reason) is an answer too.
    let reject = Frame::new(
        FrameType::OrderReject,
        1,
        minijson::to_vec(&"no such path").unwrap(),
    );
    s.handle_frame(reject, t0);
    let (_, o) = op(&mut s);
    assert!(
        matches!(
            o,
            Op::AnswerOrder {
                order: 5,
                answer: OrderAnswer::Rejected
            }
        ),
        "{o:?}"
    );
}

#[test]
fn stale_and_repeated_answers_are_ignored() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![order(5)]);
    reserve(&mut s, t0, 40);
    drain(&mut s, t0);
    // A confirm repeated from an earlier connection (tid 1) matches nothing here.
    s.handle_frame(Frame::order_confirm(1), t0);
    assert!(s.poll_op().is_none(), "nothing is recorded");
    assert!(s.wants_read());
    s.handle_frame(Frame::order_confirm(40), t0);
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Answered(false)), t0); // already answered: only a warning
    assert!(
        s.poll_op().is_none(),
        "the claim came back short: no claim after the answer"
    );
    // The same tid again: no longer in the window.
    s.handle_frame(Frame::order_confirm(40), t0);
    assert!(s.poll_op().is_none());
    assert_eq!(s.unanswered(), 0);
}

#[test]
fn a_used_up_tid_block_is_replaced_before_the_next_order() {
    let t0 = Instant::now();
    let mut s = Session::new(
        SessionConfig {
            max_inflight: 300,
            ..config(None)
        },
        t0,
    );
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Done), t0);
    take_orders(&mut s, t0, (1..=257).map(order).collect());
    reserve(&mut s, t0, 1);
    // 256 orders went out; the 257th waits for another block.
    assert_eq!(s.out.len(), 256);
    reserve(&mut s, t0, 257);
    let sent = drain(&mut s, t0);
    assert_eq!(sent.len(), 257);
    assert_eq!((sent[256].tid, &sent[256].payload[..]), (257, &b"[257]"[..]));
}

#[test]
fn orders_start_after_the_grace_without_fetch_orders() {
    let t0 = Instant::now();
    let mut s = connected(Some(S), t0);
    assert_eq!(s.poll_timeout(), Some(t0 + S));
    s.handle_timeout(t0 + S / 2);
    assert!(s.poll_op().is_none());
    s.handle_timeout(t0 + S);
    let (id, o) = op(&mut s);
    assert!(matches!(o, Op::TakeOrders));
    s.handle_stored(id, Ok(Outcome::Done), t0 + S);
    claim(&mut s, t0 + S, 0, vec![order(1)]);
    // FETCH_ORDERS afterwards does not take them again.
    reserve(&mut s, t0 + S, 1);
    drain(&mut s, t0 + S);
    s.handle_frame(Frame::fetch_orders(), t0 + S);
    claim(&mut s, t0 + S, 1, vec![]);
}

#[test]
fn without_a_grace_orders_wait_for_fetch_orders() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 120 * S), "only the idle timeout");
    s.handle_frame(Frame::ping(1), t0 + 100 * S);
    drain(&mut s, t0 + 100 * S);
    s.handle_timeout(t0 + 119 * S);
    assert!(s.poll_op().is_none(), "nothing is sent to a data-only connection");
}

#[test]
fn new_orders_are_claimed_once_orders_are_taken() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![]);
    assert!(s.poll_op().is_none(), "an empty claim ends the refill");
    s.handle_new_orders();
    claim(&mut s, t0, 0, vec![order(3)]);
    reserve(&mut s, t0, 1);
    drain(&mut s, t0);
    // The claim came back short: the answer is committed, and no claim follows it.
    s.handle_frame(Frame::order_confirm(1), t0);
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Answered(true)), t0);
    assert!(s.poll_op().is_none(), "nothing pending: no claim after an answer");
    // An order queued while a claim is outstanding is claimed next, though that claim came
    // back short (it may have read the queue before the order's commit).
    s.handle_new_orders();
    let (id, _) = op(&mut s);
    s.handle_new_orders();
    s.handle_stored(id, Ok(Outcome::Claimed(vec![])), t0);
    claim(&mut s, t0, 3, vec![order(4)]);
}

#[test]
fn a_stopped_connection_sends_no_order_and_finishes_its_commit() {
    let t0 = Instant::now();
    // Stopped while a claim is outstanding: the claimed orders stay pending, unsent.
    let mut s = connected(None, t0);
    s.handle_frame(Frame::fetch_orders(), t0);
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Done), t0);
    let (id, _) = op(&mut s);
    s.handle_stop(Stop::Replaced);
    assert!(!s.is_finished(), "the claim in progress finishes first");
    assert!(
        !s.wants_read(),
        "a late answer on a stopped connection is never read"
    );
    s.handle_stored(id, Ok(Outcome::Claimed(vec![order(1)])), t0);
    assert!(matches!(s.end(), Some(End::Replaced)));
    assert!(s.is_finished());
    assert!(drain(&mut s, t0).is_empty());

    // ORDERs queued but not handed to the writer when the stop comes are not sent.
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![order(1)]);
    reserve(&mut s, t0, 1);
    s.handle_stop(Stop::Replaced);
    assert!(s.is_finished());
    assert!(drain(&mut s, t0).is_empty());

    // Stopped while an upload commits: its confirm still goes out.
    let mut s = connected(None, t0);
    s.handle_frame(Frame::new(FrameType::DataStream, 9, series_payload()), t0);
    let (id, o) = op(&mut s);
    assert!(matches!(o, Op::StoreSeries { .. }));
    s.handle_stop(Stop::Shutdown);
    s.handle_stored(id, Ok(Outcome::Stored(1)), t0);
    assert!(matches!(s.end(), Some(End::Shutdown)));
    assert_eq!(drain(&mut s, t0), [Frame::data_stream_confirm(9)]);
}

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
