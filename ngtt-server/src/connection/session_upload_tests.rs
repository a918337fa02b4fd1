//! Tests of the pure session's upload pipeline: several DATA_STREAMs commit at once, each
//! confirmed only after its commit, every answer in the order of the frames it answers.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ngtt_proto::payload::{PathpointSeries, Sample};
use ngtt_proto::{Frame, FrameType};

use super::*;

const S: Duration = Duration::from_secs(1);

fn config() -> SessionConfig {
    SessionConfig {
        max_inflight: 2,
        idle_timeout: 120 * S,
        write_timeout: 90 * S,
        fetch_grace: None,
        max_uploads: 3,
        max_upload_bytes: 1 << 20,
        decode_factor: crate::DEFAULT_DECODE_FACTOR,
        ping_answer_delay: Duration::ZERO,
    }
}

fn connected(config: SessionConfig, t0: Instant) -> Session {
    let mut s = Session::new(config, t0);
    let (id, _) = s.poll_op().expect("first op");
    s.handle_stored(id, Ok(Outcome::Done), t0);
    s
}

fn upload(tid: u16) -> Frame {
    let series = [PathpointSeries::new(
        "W1",
        [Sample::value(1000 + u64::from(tid), 1)],
    )];
    Frame::new(
        FrameType::DataStream,
        tid,
        Bytes::from(minijson::to_vec(&series).expect("encodes")),
    )
}

/// Reads upload `tid` and takes its store operation.
fn read_upload(s: &mut Session, tid: u16, now: Instant) -> OpId {
    assert!(s.wants_read(), "room for upload {tid}");
    s.handle_frame(upload(tid), now);
    let (id, op) = s.poll_op().expect("a store operation");
    assert!(matches!(op, Op::StoreSeries { .. }), "{op:?}");
    id
}

fn drain(s: &mut Session, now: Instant) -> Vec<(FrameType, u16)> {
    let frames: Vec<(FrameType, u16)> = std::iter::from_fn(|| s.poll_transmit(now))
        .map(|f| (f.kind, f.tid))
        .collect();
    s.on_written(now, true);
    frames
}

const CONFIRM: FrameType = FrameType::DataStreamConfirm;

#[test]
fn uploads_commit_several_at_once_and_are_confirmed_in_frame_order() {
    let t0 = Instant::now();
    let mut s = connected(config(), t0);
    let a = read_upload(&mut s, 1, t0);
    let b = read_upload(&mut s, 2, t0);
    let c = read_upload(&mut s, 3, t0);
    assert!(!s.wants_read(), "three uploads at most are committing");
    // The later ones commit first: nothing is confirmed before the first one's commit.
    s.handle_stored(c, Ok(Outcome::Stored(1)), t0);
    s.handle_stored(b, Ok(Outcome::Stored(1)), t0);
    assert!(
        drain(&mut s, t0).is_empty(),
        "no confirm before the first upload's commit"
    );
    s.handle_stored(a, Ok(Outcome::Stored(1)), t0);
    assert_eq!(drain(&mut s, t0), [(CONFIRM, 1), (CONFIRM, 2), (CONFIRM, 3)]);
    assert!(s.wants_read());
}

#[test]
fn a_confirmed_upload_lets_the_next_one_be_read_while_others_commit() {
    let t0 = Instant::now();
    let mut s = connected(config(), t0);
    let a = read_upload(&mut s, 1, t0);
    let _b = read_upload(&mut s, 2, t0);
    s.handle_stored(a, Ok(Outcome::Stored(1)), t0);
    assert_eq!(drain(&mut s, t0), [(CONFIRM, 1)]);
    let _c = read_upload(&mut s, 3, t0);
    let _d = read_upload(&mut s, 4, t0);
    assert!(!s.wants_read());
}

#[test]
fn the_byte_budget_limits_uploads_in_flight() {
    let t0 = Instant::now();
    let mut s = connected(
        SessionConfig {
            max_upload_bytes: 10,
            ..config()
        },
        t0,
    );
    let a = read_upload(&mut s, 1, t0);
    assert!(!s.wants_read(), "one upload over the byte budget fills it");
    s.handle_stored(a, Ok(Outcome::Stored(1)), t0);
    assert_eq!(drain(&mut s, t0), [(CONFIRM, 1)]);
    assert!(s.wants_read());
}

#[test]
fn a_rejected_upload_is_answered_behind_the_ones_committing() {
    let t0 = Instant::now();
    let mut s = connected(config(), t0);
    let a = read_upload(&mut s, 1, t0);
    s.handle_frame(
        Frame::new(FrameType::DataStream, 2, Bytes::from_static(b"\xff")),
        t0,
    );
    assert!(s.poll_op().is_none(), "a rejected upload stores nothing");
    assert!(drain(&mut s, t0).is_empty(), "the reject waits for upload 1");
    s.handle_stored(a, Ok(Outcome::Stored(1)), t0);
    assert_eq!(
        drain(&mut s, t0),
        [(CONFIRM, 1), (FrameType::DataStreamReject, 2)]
    );
}

#[test]
fn other_frames_wait_for_the_uploads_before_them() {
    let t0 = Instant::now();
    let mut s = connected(config(), t0);
    let a = read_upload(&mut s, 1, t0);
    s.handle_frame(Frame::ping(9), t0);
    assert!(!s.wants_read(), "nothing more is read until the PING is answered");
    assert!(
        drain(&mut s, t0).is_empty(),
        "the echo waits for the confirm before it"
    );
    s.handle_stored(a, Ok(Outcome::Stored(1)), t0);
    assert_eq!(drain(&mut s, t0), [(CONFIRM, 1), (FrameType::Ping, 9)]);
    assert!(s.wants_read());
    // A LOGS frame read behind an upload is stored only after the upload is answered.
    let b = read_upload(&mut s, 2, t0);
    let logs = minijson::to_vec(&vec![minijson::Value::from(1i64)]).unwrap();
    s.handle_frame(Frame::new(FrameType::Logs, 0, logs), t0);
    assert!(s.poll_op().is_none());
    s.handle_stored(b, Ok(Outcome::Stored(1)), t0);
    let (_, op) = s.poll_op().expect("the logs, now");
    assert!(matches!(op, Op::StoreLogs { .. }), "{op:?}");
    assert_eq!(drain(&mut s, t0), [(CONFIRM, 2)]);
}

#[test]
fn a_peer_that_closes_after_uploading_gets_its_confirms() {
    let t0 = Instant::now();
    let mut s = connected(config(), t0);
    let a = read_upload(&mut s, 1, t0);
    let b = read_upload(&mut s, 2, t0);
    s.handle_peer_closed();
    assert!(s.end().is_none() && !s.wants_read());
    s.handle_stored(a, Ok(Outcome::Stored(1)), t0);
    assert!(s.end().is_none());
    s.handle_stored(b, Ok(Outcome::Stored(1)), t0);
    assert!(matches!(s.end(), Some(End::PeerClosed)) && s.is_finished());
    assert_eq!(drain(&mut s, t0), [(CONFIRM, 1), (CONFIRM, 2)]);
}

#[test]
fn a_failed_commit_ends_the_session_after_the_others_finish_without_confirming_later_ones() {
    let t0 = Instant::now();
    let mut s = connected(config(), t0);
    let a = read_upload(&mut s, 1, t0);
    let b = read_upload(&mut s, 2, t0);
    let c = read_upload(&mut s, 3, t0);
    s.handle_stored(a, Ok(Outcome::Stored(1)), t0);
    s.handle_stored(b, Err(StorageError::Task("disk full".into())), t0);
    assert!(matches!(s.end(), Some(End::Storage(_))));
    assert!(
        !s.is_finished(),
        "upload 3 is still committing: the driver waits for it"
    );
    s.handle_stored(c, Ok(Outcome::Stored(1)), t0);
    assert!(s.is_finished());
    assert_eq!(
        drain(&mut s, t0),
        [(CONFIRM, 1)],
        "only what committed before the failure is confirmed"
    );
}

#[test]
fn a_stop_lets_the_committing_uploads_be_confirmed_first() {
    let t0 = Instant::now();
    let mut s = connected(config(), t0);
    let a = read_upload(&mut s, 1, t0);
    let b = read_upload(&mut s, 2, t0);
    s.handle_stop(Stop::Replaced);
    assert!(!s.wants_read());
    s.handle_stored(b, Ok(Outcome::Stored(1)), t0);
    assert!(s.end().is_none());
    s.handle_stored(a, Ok(Outcome::Stored(1)), t0);
    assert!(matches!(s.end(), Some(End::Replaced)) && s.is_finished());
    assert_eq!(drain(&mut s, t0), [(CONFIRM, 1), (CONFIRM, 2)]);
}

#[test]
fn the_idle_clock_stops_while_uploads_commit() {
    let t0 = Instant::now();
    let mut s = connected(config(), t0);
    let a = read_upload(&mut s, 1, t0 + 10 * S);
    assert!(s.wants_read(), "more uploads may come");
    assert_eq!(
        s.poll_timeout(),
        None,
        "a slow commit is not the device's idleness"
    );
    s.handle_timeout(t0 + 500 * S);
    assert!(s.end().is_none());
    s.handle_stored(a, Ok(Outcome::Stored(1)), t0 + 500 * S);
    drain(&mut s, t0 + 500 * S);
    assert_eq!(s.poll_timeout(), Some(t0 + 620 * S));
}
