//! Conformance: a group commit behaves as its operations one after the other, each committed
//! alone. A failing operation fails alone — undone entirely, its batch-mates committed, with
//! nothing of the attempt that failed left behind (an engine that runs a batch without
//! savepoints first and carries it out again after a failure must not count a claim twice or
//! skip tids) — and the operations of a batch see each other in batch order.

use bytes::Bytes;
use ngtt_proto::payload::{PathpointSeries, Sample};

use super::Inspect;
use crate::storage::{LogEntry, OrderAnswer, OrderState, WriteOp, WriteOutcome};

fn log(service: &str, message: &str) -> LogEntry {
    LogEntry {
        id: 0,
        service: service.into(),
        when_us: 1,
        level: 20,
        message: message.into(),
        exception_text: None,
        exception_traceback: None,
        received_at_ms: 0,
    }
}

fn upload(ts: u64) -> Vec<PathpointSeries> {
    vec![PathpointSeries::new("W1", [Sample::value(ts, 1)])]
}

fn store_series(device: &str, path: &str, stamps: impl IntoIterator<Item = u64>) -> WriteOp {
    WriteOp::StoreSeries {
        device_id: device.into(),
        series: vec![PathpointSeries::new(
            path,
            stamps.into_iter().map(|ts| Sample::value(ts, 1)),
        )],
    }
}

fn stored(storage: &dyn Inspect, device: &str) -> Vec<(String, u64)> {
    let query = crate::storage::SeriesQuery {
        limit: usize::MAX,
        ..Default::default()
    };
    let series = storage.read_series(device, &query).unwrap();
    series
        .iter()
        .flat_map(|s| s.values.iter().map(|v| (s.path.clone(), v.ts())))
        .collect()
}

fn refused(result: &Result<WriteOutcome, crate::storage::StorageError>) {
    let err = result.as_ref().unwrap_err().to_string();
    assert!(err.contains("refused"), "{err}");
}

pub(super) fn a_failing_operation_does_not_fail_its_batch_mates(storage: &dyn Inspect) {
    storage.refuse_bad_rows();
    let queued = storage.queue_order("d", b"[0]").unwrap();
    let ops = [
        WriteOp::StoreLogs {
            device_id: "d".into(),
            logs: vec![log("ok", "first")],
        },
        WriteOp::ClaimOrders {
            device_id: "d".into(),
            after: 0,
            limit: 10,
            reserve_tids: None,
        },
        WriteOp::ReserveOrderTids {
            device_id: "d".into(),
            count: 5,
        },
        // Its first record is inserted, then the second fails: the savepoint undoes both.
        WriteOp::StoreLogs {
            device_id: "d".into(),
            logs: vec![log("ok", "undone"), log("bad", "refused")],
        },
        WriteOp::StoreSeries {
            device_id: "d".into(),
            series: upload(5),
        },
        WriteOp::QueueOrder {
            device_id: "d".into(),
            sections: Bytes::from_static(b"[]"),
        },
    ];
    let results = storage.apply_batch(&ops);
    assert_eq!(results.len(), 6);
    assert_eq!(results[0].as_ref().unwrap(), &WriteOutcome::Stored(1));
    match &results[1] {
        Ok(WriteOutcome::Claimed(orders, None)) => {
            assert_eq!(orders.iter().map(|o| o.id).collect::<Vec<_>>(), [queued]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(results[2].as_ref().unwrap(), &WriteOutcome::Tids(1));
    refused(&results[3]);
    assert_eq!(results[4].as_ref().unwrap(), &WriteOutcome::Stored(1));
    assert!(matches!(results[5], Ok(WriteOutcome::Queued(_))));
    let logs = storage.read_logs("d", 10).unwrap();
    assert_eq!(
        logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        ["first"]
    );
    assert_eq!(storage.list_orders("d", None, 10).unwrap().len(), 2);
    // Claimed once, whatever the engine tried before the failure.
    let order = storage.order(queued).unwrap().unwrap();
    assert_eq!((order.state, order.deliveries), (OrderState::Sent, 1));
    assert_eq!(storage.reserve_order_tids("d", 1).unwrap(), 6);
}

pub(super) fn failing_uploads_first_last_and_between_fail_alone(storage: &dyn Inspect) {
    storage.refuse_bad_rows();
    let ops = [
        store_series("u", "bad", [1]),
        store_series("u", "W1", 1..=3),
        // Its first sample is stored, then the second refused: all of it is undone.
        WriteOp::StoreSeries {
            device_id: "u".into(),
            series: vec![
                PathpointSeries::new("W2", [Sample::value(9, 1)]),
                PathpointSeries::new("bad", [Sample::value(9, 1)]),
            ],
        },
        store_series("u", "W1", 3..=4),
        store_series("other", "bad", [2]),
    ];
    let results = storage.apply_batch(&ops);
    assert_eq!(results.len(), 5);
    refused(&results[0]);
    assert_eq!(results[1].as_ref().unwrap(), &WriteOutcome::Stored(3));
    refused(&results[2]);
    assert_eq!(results[3].as_ref().unwrap(), &WriteOutcome::Stored(1));
    refused(&results[4]);
    let w1 = |ts: u64| ("W1".to_owned(), ts);
    assert_eq!(stored(storage, "u"), [w1(1), w1(2), w1(3), w1(4)]);
    assert!(stored(storage, "other").is_empty());
    // Only failures: each is answered with its own error, and the engine goes on.
    let results = storage.apply_batch(&[store_series("u", "bad", [5]), store_series("u", "bad", [6])]);
    refused(&results[0]);
    refused(&results[1]);
    let results = storage.apply_batch(&[store_series("u", "W1", [5])]);
    assert_eq!(results[0].as_ref().unwrap(), &WriteOutcome::Stored(1));
}

pub(super) fn operations_of_a_batch_see_each_other_in_order(storage: &dyn Inspect) {
    let earlier = storage.queue_order("o", b"[0]").unwrap();
    let ops = [
        store_series("o", "W1", 1..=3),
        // Overlaps the one before: only its new sample is stored.
        store_series("o", "W1", 2..=4),
        WriteOp::ClaimOrders {
            device_id: "o".into(),
            after: 0,
            limit: 10,
            reserve_tids: None,
        },
        WriteOp::AnswerOrder {
            id: earlier,
            answer: OrderAnswer::Confirmed,
        },
        // Answered by the operation before.
        WriteOp::AnswerOrder {
            id: earlier,
            answer: OrderAnswer::Rejected,
        },
        WriteOp::QueueOrder {
            device_id: "o".into(),
            sections: Bytes::from_static(b"[1]"),
        },
        WriteOp::ClaimOrders {
            device_id: "o".into(),
            after: 0,
            limit: 10,
            reserve_tids: None,
        },
        WriteOp::ReserveOrderTids {
            device_id: "o".into(),
            count: 3,
        },
        WriteOp::ReserveOrderTids {
            device_id: "o".into(),
            count: 2,
        },
        store_series("o", "W1", [4]),
    ];
    let results: Vec<WriteOutcome> = storage
        .apply_batch(&ops)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let claimed = |outcome: &WriteOutcome| match outcome {
        WriteOutcome::Claimed(orders, None) => orders.iter().map(|o| o.id).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(results[0], WriteOutcome::Stored(3));
    assert_eq!(results[1], WriteOutcome::Stored(1));
    assert_eq!(claimed(&results[2]), [earlier]);
    assert_eq!(results[3], WriteOutcome::Answered(true));
    assert_eq!(results[4], WriteOutcome::Answered(false));
    let WriteOutcome::Queued(queued) = results[5] else {
        panic!("{:?}", results[5]);
    };
    assert_eq!(claimed(&results[6]), [queued]);
    assert_eq!(results[7], WriteOutcome::Tids(1));
    assert_eq!(results[8], WriteOutcome::Tids(4));
    assert_eq!(results[9], WriteOutcome::Stored(0));
    let order = storage.order(earlier).unwrap().unwrap();
    assert_eq!((order.state, order.deliveries), (OrderState::Confirmed, 1));
}
