//! Tests of the confirmation rule for log batches ([`Session::send_logs_confirmed`]): plain
//! `Instant`s, no sockets.

use std::time::Instant;

use bytes::Bytes;
use ngtt_proto::payload::{Level, LogRecord};
use ngtt_proto::{Frame, FrameType};

use super::tests::{drain, events, payload, session, MS};
use super::*;

/// The LOGS payload of one record `n`.
fn logs(n: u64) -> Bytes {
    Frame::logs(&[LogRecord::new("svc", n, Level::INFO, format!("record {n}"))])
        .expect("encodes")
        .payload
}

fn logs_frame(n: u64) -> Frame {
    Frame::new(FrameType::Logs, 0, logs(n))
}

fn confirmed(s: &mut Session) -> Vec<LogsId> {
    events(s)
        .into_iter()
        .map(|e| match e {
            Event::LogsConfirmed(id) => id,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn a_batch_is_confirmed_by_the_echo_of_the_ping_written_after_it() {
    let t0 = Instant::now();
    let mut s = session(false);
    s.connect(t0);
    let a = s.send_logs_confirmed(vec![logs(1), logs(2)], t0);
    assert_eq!(
        drain(&mut s, t0),
        [logs_frame(1), logs_frame(2), Frame::ping(1)],
        "the PING goes right after the batch, not after 30 s"
    );
    assert!(s.awaits_log_proof());
    // Nothing but the echo of that PING confirms it: other answers, another tid, orders.
    s.handle_frame(Frame::ping(2), t0 + MS).expect("ignored");
    s.handle_frame(Frame::data_stream_confirm(1), t0 + MS)
        .expect("ignored");
    s.handle_frame(Frame::empty(FrameType::Logs, 0), t0 + MS)
        .expect("ignored");
    assert_eq!(confirmed(&mut s), [0u64; 0]);
    assert_eq!(s.pending_log_batches(), 1);
    s.handle_frame(Frame::ping(1), t0 + 2 * MS).expect("echo");
    assert_eq!(confirmed(&mut s), [a]);
    assert_eq!(s.pending_log_batches(), 0);
    assert!(!s.awaits_log_proof());
    assert_eq!(drain(&mut s, t0), [], "no further PING needed");
    // The echo also counts as the keepalive's answer: the next idle PING 30 s after the write.
    assert_eq!(s.poll_timeout(), Some(t0 + 30_000 * MS));
}

#[test]
fn a_batch_queued_while_a_ping_is_out_waits_for_the_next_ping() {
    let t0 = Instant::now();
    let mut s = session(false);
    s.connect(t0);
    let a = s.send_logs_confirmed(vec![logs(1)], t0);
    assert_eq!(drain(&mut s, t0), [logs_frame(1), Frame::ping(1)]);
    let b = s.send_logs_confirmed(vec![logs(2)], t0);
    let c = s.send_logs_confirmed(vec![logs(3)], t0);
    assert_eq!(
        drain(&mut s, t0),
        [logs_frame(2), logs_frame(3)],
        "one PING outstanding at a time"
    );
    // The echo of PING 1 proves only what was written before it; B and C get the next PING,
    // sent at once.
    s.handle_frame(Frame::ping(1), t0).expect("echo");
    assert_eq!(confirmed(&mut s), [a]);
    assert_eq!(drain(&mut s, t0), [Frame::ping(2)]);
    s.handle_frame(Frame::ping(2), t0).expect("echo");
    assert_eq!(confirmed(&mut s), [b, c]);
}

#[test]
fn a_keepalive_ping_already_out_does_not_confirm_a_later_batch() {
    let t0 = Instant::now();
    let mut s = session(false);
    s.connect(t0);
    let t1 = t0 + 30_000 * MS;
    s.handle_timeout(t1).expect("alive");
    assert_eq!(drain(&mut s, t1), [Frame::ping(1)], "idle: keepalive");
    let a = s.send_logs_confirmed(vec![logs(1)], t1);
    assert_eq!(drain(&mut s, t1), [logs_frame(1)]);
    s.handle_frame(Frame::ping(1), t1).expect("echo");
    assert_eq!(
        confirmed(&mut s),
        [0u64; 0],
        "that PING was written before the batch"
    );
    assert_eq!(drain(&mut s, t1), [Frame::ping(2)]);
    s.handle_frame(Frame::ping(2), t1).expect("echo");
    assert_eq!(confirmed(&mut s), [a]);
}

#[test]
fn a_batch_whose_connection_dropped_before_the_echo_is_sent_again() {
    let t0 = Instant::now();
    let mut s = session(true);
    let a = s.send_logs_confirmed(vec![logs(1)], t0);
    assert_eq!(s.poll_transmit(t0), None, "nothing before a connection");
    assert!(!s.awaits_log_proof());
    s.connect(t0);
    assert_eq!(
        drain(&mut s, t0),
        [Frame::fetch_orders(), logs_frame(1), Frame::ping(1)]
    );
    s.disconnect();
    assert!(!s.awaits_log_proof());
    let b = s.send_logs_confirmed(vec![logs(2)], t0);
    // Uploads first, then the batches in their order, then one PING for all of them.
    s.upload(payload(7));
    s.connect(t0);
    let frames = drain(&mut s, t0);
    let kinds: Vec<_> = frames.iter().map(|f| (f.kind, f.tid)).collect();
    assert_eq!(
        kinds,
        [
            (FrameType::FetchOrders, 0),
            (FrameType::DataStream, 2),
            (FrameType::Logs, 0),
            (FrameType::Logs, 0),
            (FrameType::Ping, 3),
        ]
    );
    assert_eq!(frames[2..4], [logs_frame(1), logs_frame(2)]);
    // An echo of the old connection's PING (tid 1) matches nothing here.
    s.handle_frame(Frame::ping(1), t0).expect("ignored");
    assert_eq!(confirmed(&mut s), [0u64; 0]);
    s.handle_frame(Frame::ping(3), t0).expect("echo");
    assert_eq!(confirmed(&mut s), [a, b]);
}

#[test]
fn an_empty_batch_is_confirmed_at_once() {
    let t0 = Instant::now();
    let mut s = session(false);
    let a = s.send_logs_confirmed(Vec::new(), t0);
    assert_eq!(confirmed(&mut s), [a]);
    s.connect(t0);
    assert_eq!(drain(&mut s, t0), []);
}

#[test]
fn the_proof_ping_waits_for_a_free_tid() {
    let t0 = Instant::now();
    let mut s = session(false);
    s.connect(t0);
    for i in 0..usize::from(MAX_TID) {
        s.upload(payload(i as i64));
    }
    assert_eq!(drain(&mut s, t0).len(), usize::from(MAX_TID));
    let a = s.send_logs_confirmed(vec![logs(1)], t0);
    assert_eq!(drain(&mut s, t0), [logs_frame(1)], "every tid is taken");
    s.handle_timeout(t0 + 30_000 * MS).expect("alive");
    assert_eq!(drain(&mut s, t0), []);
    // An answer frees a tid: the PING goes at once, and its echo confirms the batch.
    s.handle_frame(Frame::data_stream_confirm(9), t0).expect("ok");
    assert!(matches!(events(&mut s)[..], [Event::UploadConfirmed(_)]));
    assert_eq!(drain(&mut s, t0), [Frame::ping(9)]);
    s.handle_frame(Frame::ping(9), t0).expect("echo");
    assert_eq!(confirmed(&mut s), [a]);
}
