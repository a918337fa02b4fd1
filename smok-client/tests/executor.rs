//! The executor under paused tokio time: ordering of sections (joinable groups overlap,
//! CANNOT_JOIN is a barrier), stale writes, unrecognised orders, handler failures, and when and
//! whether the order is answered.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use smok_client::clock::TokioClock;
use smok_client::executor::{
    Answered, DeliveredOrder, Executor, HandedOut, HandlerError, HandlerResult, OrderHandler, OrderRef,
    Verdict,
};
use smok_client::orders::{Advise, Order, PathpointValue, ReadOrder, Section, WriteOrder};
use smok_client::ClientError;
use tokio::time::Instant;

/// One handler call: what, and when it started and ended (seconds of paused time).
#[derive(Debug, Clone, PartialEq)]
struct Call {
    what: String,
    start: f64,
    end: f64,
}

/// A handler that takes one second per read or write and records every call.
struct Recorder {
    origin: Instant,
    calls: Mutex<Vec<Call>>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            origin: Instant::now(),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn secs(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    async fn take_a_second(&self, what: String) -> HandlerResult {
        let start = self.secs();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let failed = what.contains("FAIL");
        self.calls.lock().unwrap().push(Call {
            what,
            start,
            end: self.secs(),
        });
        if failed {
            Err(HandlerError::new("bus fault"))
        } else {
            Ok(())
        }
    }

    fn calls(&self) -> Vec<Call> {
        let mut calls = self.calls.lock().unwrap().clone();
        calls.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.what.cmp(&b.what)));
        calls
    }

    fn whats(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.what).collect()
    }

    fn last_end(&self) -> f64 {
        self.calls().iter().map(|c| c.end).fold(0.0, f64::max)
    }
}

impl OrderHandler for Recorder {
    async fn read(&self, order: &ReadOrder) -> HandlerResult {
        self.take_a_second(format!("read {}", order.path)).await
    }

    async fn write(&self, order: &WriteOrder, value: PathpointValue) -> HandlerResult {
        self.take_a_second(format!("write {} {value:?}", order.path))
            .await
    }
}

/// The answers a [`TestOrder`] got, with the time (s) each was given.
type Answers = Arc<Mutex<Vec<(Verdict, f64)>>>;

/// An NGTT-like delivered order that records when, and with what, it was answered.
struct TestOrder {
    sections: Vec<Section>,
    origin: Instant,
    answers: Answers,
}

impl TestOrder {
    fn new(sections: Vec<Section>) -> (Self, Answers) {
        let answers = Answers::default();
        let order = TestOrder {
            sections,
            origin: Instant::now(),
            answers: answers.clone(),
        };
        (order, answers)
    }
}

impl DeliveredOrder for TestOrder {
    fn sections(&self) -> &[Section] {
        &self.sections
    }

    async fn answer(self, verdict: Verdict) -> Result<Answered, ClientError> {
        let at = self.origin.elapsed().as_secs_f64();
        self.answers.lock().unwrap().push((verdict, at));
        Ok(Answered::Sent(verdict))
    }
}

fn reads(paths: &[&str]) -> Section {
    Section::new(paths.iter().map(|p| Order::read(*p)))
}

fn stale_write(path: &str, value: i64, stale_after: Option<f64>) -> Order {
    Order::Write(WriteOrder {
        path: path.into(),
        value: PathpointValue::Int(value),
        advise: Advise::Advise,
        stale_after,
    })
}

fn unrecognized(json: serde_json::Value) -> Order {
    serde_json::from_value(json).unwrap()
}

#[tokio::test(start_paused = true)]
async fn joinable_sections_overlap_and_cannot_join_is_a_barrier() {
    let executor = Executor::new(Recorder::new());
    let sections = vec![
        reads(&["WA", "WB"]),               // joinable ┐ group 0: t 0..2
        reads(&["WC"]),                     // joinable ┘
        reads(&["WD"]).cannot_join(),       // barrier: t 2..3
        reads(&["WE"]),                     // joinable ┐ group 2: t 3..4
        reads(&["WF"]),                     // joinable ┘
        reads(&["WG", "WH"]).cannot_join(), // barrier: t 4..6
        reads(&["WI"]).cannot_join(),       // barrier: t 6..7
    ];
    let start = Instant::now();
    let report = executor.run(&sections).await;
    assert_eq!(start.elapsed(), Duration::from_secs(7));
    assert_eq!(report.executed, 9);
    assert!(report.all_executed());

    let timeline: Vec<(String, f64, f64)> = executor
        .handler()
        .calls()
        .into_iter()
        .map(|c| (c.what, c.start, c.end))
        .collect();
    let expected = [
        ("read WA", 0.0, 1.0),
        ("read WC", 0.0, 1.0), // overlaps WA: joinable neighbours run concurrently
        ("read WB", 1.0, 2.0), // orders inside a section run in sequence
        ("read WD", 2.0, 3.0), // starts only when the whole joinable group is done
        ("read WE", 3.0, 4.0), // and nothing starts before it has finished
        ("read WF", 3.0, 4.0),
        ("read WG", 4.0, 5.0),
        ("read WH", 5.0, 6.0),
        ("read WI", 6.0, 7.0), // two CANNOT_JOIN sections never overlap
    ];
    let expected: Vec<(String, f64, f64)> =
        expected.iter().map(|(w, s, e)| (w.to_string(), *s, *e)).collect();
    assert_eq!(timeline, expected);
}

#[tokio::test(start_paused = true)]
async fn stale_writes_are_dropped_when_their_turn_comes() {
    // The wall clock starts at 1000 s and follows paused tokio time.
    let clock = TokioClock::starting_at(UNIX_EPOCH + Duration::from_secs(1000));
    let executor = Executor::new(Recorder::new()).with_clock(clock);
    let sections = vec![Section::new([
        stale_write("W0", 0, Some(1000.5)), // runs at 1000: fresh
        Order::wait(5.0),                   // now 1006
        stale_write("W1", 1, Some(1003.0)), // was fresh when the order came, stale at its turn
        stale_write("W2", 2, Some(1010.0)), // fresh
        stale_write("W3", 3, None),         // never stale
        stale_write("W4", 4, Some(1008.5)), // 1008 after W2 and W3 took a second each: fresh
        stale_write("W5", 5, Some(1008.5)), // 1009 now: stale
    ])];
    let report = executor.run(&sections).await;
    assert_eq!(
        executor.handler().whats(),
        [
            "write W0 Int(0)",
            "write W2 Int(2)",
            "write W3 Int(3)",
            "write W4 Int(4)"
        ]
    );
    assert_eq!(report.executed, 5, "four writes and the wait");
    let stale: Vec<(OrderRef, &str)> = report
        .skipped_stale
        .iter()
        .map(|s| (s.at, s.kind.as_str()))
        .collect();
    assert_eq!(
        stale,
        [
            (OrderRef { section: 0, index: 2 }, "write"),
            (OrderRef { section: 0, index: 6 }, "write")
        ]
    );
    assert!(
        report.skipped_stale[0].reason.contains("stale after 1003"),
        "{:?}",
        report.skipped_stale
    );
    assert_eq!(report.verdict(), Verdict::Confirm);
}

#[tokio::test(start_paused = true)]
async fn unrecognized_and_invalid_orders_are_skipped_and_the_rest_runs() {
    let executor = Executor::new(Recorder::new());
    let sections = vec![
        Section::new([
            Order::read("W1"),
            unrecognized(serde_json::json!({"type": "frobnicate", "path": "W1"})),
            Order::write("W2", "not a number"), // cannot be coerced to W
            Order::write("X9", 1),              // no known type letter
            unrecognized(serde_json::json!({"path": "W3"})),
            Order::read("W4"),
        ]),
        reads(&["W5"]).cannot_join(),
    ];
    let report = executor.run(&sections).await;
    assert_eq!(executor.handler().whats(), ["read W1", "read W4", "read W5"]);
    assert_eq!(report.executed, 3);
    let skipped: Vec<(usize, &str)> = report
        .skipped_unrecognized
        .iter()
        .map(|s| (s.at.index, s.kind.as_str()))
        .collect();
    assert_eq!(skipped, [(1, "frobnicate"), (2, "write"), (3, "write"), (4, "?")]);
    assert_eq!(
        report.skipped_unrecognized[0].reason,
        "unknown order type \"frobnicate\""
    );
    assert!(report.skipped_unrecognized[2]
        .reason
        .contains("no known type letter"));
    assert_eq!(report.verdict(), Verdict::Confirm, "something could be executed");
}

#[tokio::test(start_paused = true)]
async fn handler_failures_are_reported_and_the_order_is_still_confirmed() {
    let executor = Executor::new(Recorder::new());
    let sections = vec![
        reads(&["WFAIL", "W2"]),
        Section::new([Order::sysctl("update", ""), Order::message("0b5e")]),
    ];
    let (order, answers) = TestOrder::new(sections);
    let done = executor.execute(order).await;
    assert_eq!(executor.handler().whats(), ["read WFAIL", "read W2"]);
    let failed: Vec<(OrderRef, &str, bool)> = done
        .report
        .failed
        .iter()
        .map(|f| (f.at, f.kind.as_str(), f.error.is_unsupported()))
        .collect();
    assert_eq!(
        failed,
        [
            (OrderRef { section: 0, index: 0 }, "read", false),
            (OrderRef { section: 1, index: 0 }, "sysctl", true), // default: unsupported
            (OrderRef { section: 1, index: 1 }, "message", true),
        ]
    );
    assert_eq!(done.report.executed, 1);
    assert_eq!(done.report.verdict(), Verdict::Confirm);
    assert_eq!(done.answered.unwrap(), Answered::Sent(Verdict::Confirm));
    assert_eq!(answers.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_order_is_answered_once_after_its_last_section() {
    let executor = Arc::new(Executor::new(Recorder::new()));
    let sections = vec![reads(&["W1", "W2"]), reads(&["W3"]).cannot_join(), reads(&["W4"])];
    let (order, answers) = TestOrder::new(sections);
    // Spawning also proves the executor's future is Send + 'static with an Arc'd executor.
    let running = tokio::spawn({
        let executor = executor.clone();
        async move { executor.execute(order).await }
    });
    tokio::time::sleep(Duration::from_millis(3_999)).await;
    assert!(
        answers.lock().unwrap().is_empty(),
        "not answered while the last section runs"
    );
    let done = running.await.unwrap();
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers, [(Verdict::Confirm, 4.0)]);
    assert!(answers[0].1 >= executor.handler().last_end());
    assert_eq!(done.answered.unwrap(), Answered::Sent(Verdict::Confirm));
    assert_eq!(done.report.executed, 4);
}

#[tokio::test(start_paused = true)]
async fn an_order_with_nothing_executable_is_rejected() {
    let executor = Executor::new(Recorder::new());
    let sections = vec![Section::new([
        unrecognized(serde_json::json!({"type": "launch"})),
        Order::write("Q1", 1),
    ])];
    let (order, answers) = TestOrder::new(sections.clone());
    let done = executor.execute(order).await;
    assert_eq!(done.report.verdict(), Verdict::Reject);
    assert_eq!(done.answered.unwrap(), Answered::Sent(Verdict::Reject));
    assert_eq!(*answers.lock().unwrap(), [(Verdict::Reject, 0.0)]);

    // An order without any order at all is trivially done: confirmed.
    let (empty, _) = TestOrder::new(vec![Section::new([]), Section::new([]).cannot_join()]);
    assert_eq!(
        executor.execute(empty).await.answered.unwrap(),
        Answered::Sent(Verdict::Confirm)
    );
}

#[tokio::test(start_paused = true)]
async fn http_mode_runs_the_same_way_but_answers_nothing() {
    let executor = Executor::new(Recorder::new());
    let done = executor
        .execute(HandedOut::new(vec![reads(&["W1"]), reads(&["W2"]).cannot_join()]))
        .await;
    assert_eq!(executor.handler().whats(), ["read W1", "read W2"]);
    assert_eq!(done.report.executed, 2);
    assert_eq!(done.answered.unwrap(), Answered::NotNeeded);

    // Even an order that NGTT would reject is not answered over HTTP.
    let rejected = executor
        .execute(HandedOut::new(vec![Section::new([unrecognized(
            serde_json::json!({"type": "launch"}),
        )])]))
        .await;
    assert_eq!(rejected.report.verdict(), Verdict::Reject);
    assert_eq!(rejected.answered.unwrap(), Answered::NotNeeded);
}
