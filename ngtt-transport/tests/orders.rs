//! Orders over real TLS: FETCH_ORDERS, ack, nack, and answers across reconnects.

use std::time::Duration;

use ngtt_proto::payload::{Order, Section};
use ngtt_proto::{Frame, FrameType};
use ngtt_testkit::{close_gracefully, ScriptedLink, PATIENCE};
use ngtt_transport::{Orders, ReceivedOrder, TransportError};

fn sections() -> Vec<Section> {
    vec![
        Section::new([Order::write("W1", 5), Order::wait(0.5)]),
        Section::new([Order::read("fTemp")]).cannot_join(),
    ]
}

async fn next_order(orders: &mut Orders) -> ReceivedOrder {
    tokio::time::timeout(PATIENCE, orders.recv())
        .await
        .expect("an order in time")
        .expect("the stream is open")
}

#[tokio::test]
async fn ack_sends_order_confirm_with_the_same_tid() {
    let (transport, mut orders, mut conn, _server) = ScriptedLink::start(|c| c).await.into_parts();
    assert_eq!(conn.identity.device_id, "dev-1");
    assert_eq!(
        conn.recv().await,
        Frame::fetch_orders(),
        "FETCH_ORDERS comes first"
    );

    conn.send(Frame::order(0x1234, &sections()).expect("encodes"))
        .await;
    let order = next_order(&mut orders).await;
    assert_eq!(order.tid(), 0x1234);
    assert_eq!(order.sections(), sections());
    assert_eq!(
        order.payload(),
        &Frame::order(0x1234, &sections()).expect("encodes").payload
    );
    order.ack().await.expect("sent");
    assert_eq!(conn.recv().await, Frame::order_confirm(0x1234));

    let stats = transport.stats();
    assert_eq!((stats.orders_received, stats.connects), (1, 1));
    assert!(
        stats.wire_bytes_sent > stats.bytes_sent,
        "TLS adds to the frames: {stats:?}"
    );
    assert_eq!(
        stats.bytes_sent, 16,
        "FETCH_ORDERS and ORDER_CONFIRM, 8 bytes each"
    );
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn nack_sends_order_reject() {
    let (transport, mut orders, mut conn, _server) = ScriptedLink::start(|c| c).await.into_parts();
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    // An unknown frame type first: ignored, the connection goes on.
    conn.send(Frame::empty(FrameType::Unknown(99), 5)).await;
    conn.send(Frame::order(9, &sections()).expect("encodes")).await;
    conn.send(Frame::order(10, &sections()).expect("encodes")).await;
    let first = next_order(&mut orders).await;
    let second = next_order(&mut orders).await;
    second.nack().await.expect("sent");
    first.ack().await.expect("sent");
    assert_eq!(conn.recv().await, Frame::order_reject(10));
    assert_eq!(conn.recv().await, Frame::order_confirm(9));
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn a_data_only_device_never_sends_fetch_orders() {
    let (transport, _orders, mut conn, _server) = ScriptedLink::start(|c| c.with_fetch_orders(false))
        .await
        .into_parts();
    conn.expect_silence(Duration::from_millis(300)).await;
    let upload = tokio::spawn(transport.sync_pathpoints(vec![]));
    let frame = conn.recv().await;
    assert_eq!(frame.kind, FrameType::DataStream, "the first frame is the upload");
    conn.send(Frame::data_stream_confirm(frame.tid)).await;
    upload.await.expect("join").expect("confirmed");
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn answers_never_cross_to_a_new_connection() {
    let (transport, mut orders, mut conn, server) = ScriptedLink::start(|c| c).await.into_parts();
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    conn.send(Frame::order(3, &sections()).expect("encodes")).await;
    let order = next_order(&mut orders).await;
    assert_eq!(order.epoch(), 1);
    // Another order arrives and the connection drops before the application reads it.
    conn.send(Frame::order(4, &sections()).expect("encodes")).await;
    drop(conn);

    // The device reconnects and asks for orders again; the server redelivers order 4.
    let mut conn = server.accept().await;
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    transport.connected().await.expect("connected");
    let err = order.ack().await.expect_err("its connection is gone");
    assert!(matches!(err, TransportError::ConnectionLost) && err.is_no_link());
    conn.send(Frame::order(1, &sections()).expect("encodes")).await;
    let redelivered = next_order(&mut orders).await;
    assert_eq!(
        (redelivered.tid(), redelivered.epoch()),
        (1, 2),
        "the stale order 4 was skipped"
    );
    conn.expect_silence(Duration::from_millis(200)).await;
    redelivered.ack().await.expect("sent");
    assert_eq!(conn.recv().await, Frame::order_confirm(1));
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn a_dropped_order_sends_nothing() {
    let (transport, mut orders, mut conn, _server) = ScriptedLink::start(|c| c).await.into_parts();
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    conn.send(Frame::order(8, &sections()).expect("encodes")).await;
    drop(next_order(&mut orders).await);
    conn.expect_silence(Duration::from_millis(200)).await;
    let (outcome, frames) = close_gracefully(&transport, conn).await;
    assert!(outcome.flushed && frames.is_empty(), "{outcome:?} {frames:?}");
    assert!(
        orders.recv().await.is_none(),
        "the stream ends with the transport"
    );
}

#[tokio::test]
async fn an_oversized_order_between_two_is_rejected_by_its_tid_and_the_others_go_on() {
    let (transport, mut orders, mut conn, _server) = ScriptedLink::start(|c| c.with_max_frame_len(256))
        .await
        .into_parts();
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    let big = vec![Section::new((0..100).map(|i| Order::read(format!("W{i}"))))];
    conn.send(Frame::order(1, &sections()).expect("encodes")).await;
    conn.send(Frame::order(2, &big).expect("encodes")).await;
    conn.send(Frame::order(3, &sections()).expect("encodes")).await;
    // The big one is refused at once, by its tid, with a reason; its payload is never decoded.
    let reject = conn.recv().await;
    assert_eq!((reject.kind, reject.tid), (FrameType::OrderReject, 2));
    let reason: String = reject.payload_as().expect("a reason");
    assert!(
        reason.contains("larger than this device accepts (256 bytes)"),
        "{reason}"
    );
    // The two others reach the application and are confirmed, on the same connection.
    for tid in [1, 3] {
        let order = next_order(&mut orders).await;
        assert_eq!(order.tid(), tid);
        order.ack().await.expect("sent");
        assert_eq!(conn.recv().await, Frame::order_confirm(tid));
    }
    let stats = transport.stats();
    assert_eq!(
        (stats.connects, stats.frames_oversized, stats.orders_received),
        (1, 1, 2)
    );
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}

#[tokio::test]
async fn orders_beyond_max_open_orders_are_not_taken_and_come_again() {
    let (transport, mut orders, mut conn, server) = ScriptedLink::start(|c| c.with_max_open_orders(2))
        .await
        .into_parts();
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    for tid in 1..=3 {
        conn.send(Frame::order(tid, &sections()).expect("encodes")).await;
    }
    let (first, second) = (next_order(&mut orders).await, next_order(&mut orders).await);
    assert_eq!((first.tid(), second.tid()), (1, 2));
    // Order 3 found two held: not taken, nothing answered.
    conn.expect_silence(Duration::from_millis(200)).await;
    assert_eq!(transport.stats().orders_refused_busy, 1);
    first.ack().await.expect("sent");
    assert_eq!(conn.recv().await, Frame::order_confirm(1));
    // With room again, the server's redelivery (next connection) is taken.
    drop(conn);
    drop(second);
    let mut conn = server.accept().await;
    assert_eq!(conn.recv().await, Frame::fetch_orders());
    conn.send(Frame::order(3, &sections()).expect("encodes")).await;
    let third = next_order(&mut orders).await;
    assert_eq!(third.tid(), 3);
    third.ack().await.expect("sent");
    assert_eq!(conn.recv().await, Frame::order_confirm(3));
    assert!(close_gracefully(&transport, conn).await.0.flushed);
}
