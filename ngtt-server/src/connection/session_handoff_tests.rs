//! Orders handed to the session by the admin API ([`crate::order_handoff`]): inserted by the
//! next claim in its own commit, sent in queue order after the cursor within the window, and
//! declined (queued by the admin API instead) when the connection does not take them.

use tokio::sync::oneshot;

use super::*;
use crate::order_handoff::{Handed, HandedOrder};

fn handed(payload: &'static str) -> (HandedOrder, oneshot::Receiver<Handed>) {
    HandedOrder::new(Bytes::from_static(payload.as_bytes()))
}

/// Expects a claim after `after` carrying `n` handed orders; its id and limit.
fn claim_with_queue(s: &mut Session, after: OrderId, n: usize) -> (OpId, usize) {
    match op(s) {
        (
            id,
            Op::ClaimOrders {
                queue,
                after: a,
                limit,
                ..
            },
        ) => {
            assert_eq!((a, queue.len()), (after, n));
            (id, limit)
        }
        (_, other) => panic!("expected a claim, got {other:?}"),
    }
}

#[test]
fn an_order_handed_to_an_idle_connection_is_queued_and_claimed_in_one_operation() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![order(3)]);
    reserve(&mut s, t0, 1);
    drain(&mut s, t0);
    let (h, _fate) = handed("[9]");
    s.handle_handed_orders(vec![h]);
    // One operation: the insert and a claim after the cursor (an older pending order first).
    let (id, limit) = claim_with_queue(&mut s, 3, 1);
    assert_eq!(limit, 1, "the window's room");
    s.handle_stored(id, Ok(Outcome::Claimed(vec![order(9)], None)), t0);
    let sent = drain(&mut s, t0);
    assert_eq!(
        sent.iter().map(|f| (f.kind, f.tid)).collect::<Vec<_>>(),
        [(FrameType::Order, 2)]
    );
    assert_eq!(sent[0].payload, Bytes::from("[9]"));
    assert!(s.poll_op().is_none(), "the window is full");
}

#[test]
fn an_order_handed_while_the_window_is_full_is_inserted_and_sent_after_an_answer() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![order(1), order(2)]);
    reserve(&mut s, t0, 1);
    drain(&mut s, t0);
    let (h, _fate) = handed("[5]");
    s.handle_handed_orders(vec![h]);
    let (id, limit) = claim_with_queue(&mut s, 2, 1);
    assert_eq!(limit, 0, "inserted, none claimed: the window is full");
    s.handle_stored(id, Ok(Outcome::Claimed(vec![], None)), t0);
    assert!(drain(&mut s, t0).is_empty());
    // An answer makes room: the next claim (no insert now) takes the order.
    s.handle_frame(Frame::order_confirm(1), t0);
    let (id, _) = op(&mut s);
    s.handle_stored(id, Ok(Outcome::Answered(true)), t0);
    let (id, limit) = claim_with_queue(&mut s, 2, 0);
    assert_eq!(limit, 1);
    s.handle_stored(id, Ok(Outcome::Claimed(vec![order(5)], None)), t0);
    let sent = drain(&mut s, t0);
    assert_eq!(
        sent.iter().map(|f| (f.kind, f.tid)).collect::<Vec<_>>(),
        [(FrameType::Order, 3)]
    );
}

#[test]
fn orders_handed_while_a_claim_is_outstanding_go_in_the_next_claim_in_their_order() {
    let t0 = Instant::now();
    let mut s = connected(None, t0);
    take_orders(&mut s, t0, vec![]);
    s.handle_new_orders();
    let (id, _) = op(&mut s);
    let (a, _fate_a) = handed("[a]");
    let (b, _fate_b) = handed("[b]");
    s.handle_handed_orders(vec![a]);
    s.handle_handed_orders(vec![b]);
    assert!(s.poll_op().is_none(), "one operation at a time");
    s.handle_stored(id, Ok(Outcome::Claimed(vec![order(4)], Some(1))), t0);
    let (_, o) = op(&mut s);
    match o {
        Op::ClaimOrders { queue, after, .. } => {
            assert_eq!(after, 4, "after what was sent: the cursor");
            let payloads: Vec<Bytes> = queue.into_iter().map(|h| h.take().0).collect();
            assert_eq!(payloads, [Bytes::from("[a]"), Bytes::from("[b]")]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn handed_orders_are_declined_when_the_connection_does_not_take_them() {
    let t0 = Instant::now();
    // Before FETCH_ORDERS (and the grace): not this connection's to take yet.
    let mut s = connected(None, t0);
    let (h, mut fate) = handed("[1]");
    s.handle_handed_orders(vec![h]);
    assert!(matches!(fate.try_recv(), Ok(Handed::Declined)));
    assert!(s.poll_op().is_none());
    // Stopped while they wait for an outstanding operation: declined, nothing inserted.
    take_orders(&mut s, t0, vec![order(1)]);
    reserve(&mut s, t0, 1);
    drain(&mut s, t0);
    s.handle_frame(Frame::order_confirm(1), t0);
    let (id, _) = op(&mut s);
    let (h, mut fate) = handed("[2]");
    s.handle_handed_orders(vec![h]);
    s.handle_stop(Stop::Replaced);
    assert!(matches!(fate.try_recv(), Ok(Handed::Declined)));
    s.handle_stored(id, Ok(Outcome::Answered(true)), t0);
    assert!(s.poll_op().is_none(), "no insert after the stop");
    assert!(s.is_finished());
    // Handed to an ended session: declined.
    let (h, mut fate) = handed("[3]");
    s.handle_handed_orders(vec![h]);
    assert!(matches!(fate.try_recv(), Ok(Handed::Declined)));
}
