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
        ping_answer_delay: Duration::ZERO,
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
    s.handle_stored(id, Ok(Outcome::Claimed(orders, None)), now);
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
        matches!(
            o,
            Op::ClaimOrders {
                reserve_tids: Some(TID_BLOCK),
                ..
            }
        ),
        "no tids yet: the claim asks for a block: {o:?}"
    );
    // Claimed with a block: the orders go out at once, no reservation of their own.
    s.handle_stored(id, Ok(Outcome::Claimed(vec![order(5)], Some(40))), t0);
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
                reserve_tids: None,
                ..
            }
        ),
        "{o:?}"
    );
    s.handle_stored(id, Ok(Outcome::Claimed(vec![order(6)], None)), t0);
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
    assert!(
        matches!(
            o,
            Op::ClaimOrders {
                reserve_tids: Some(TID_BLOCK),
                ..
            }
        ),
        "{o:?}"
    );
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
    s.handle_stored(id, Ok(Outcome::Claimed(vec![], None)), t0);
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
    s.handle_stored(id, Ok(Outcome::Claimed(vec![order(1)], None)), t0);
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

#[path = "session_frame_tests.rs"]
mod frames;

#[path = "session_handoff_tests.rs"]
mod handoff;
