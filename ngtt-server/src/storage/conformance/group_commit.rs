//! Conformance: in a group commit, a failing operation fails alone — its savepoint undoes it,
//! its batch-mates are committed.

use bytes::Bytes;
use ngtt_proto::payload::{PathpointSeries, Sample};

use super::Inspect;
use crate::storage::{LogEntry, WriteOp, WriteOutcome};

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

pub(super) fn a_failing_operation_does_not_fail_its_batch_mates(storage: &dyn Inspect) {
    storage.refuse_bad_logs();
    let ops = [
        WriteOp::StoreLogs {
            device_id: "d".into(),
            logs: vec![log("ok", "first")],
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
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap(), &WriteOutcome::Stored(1));
    let err = results[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("refused"), "{err}");
    assert_eq!(results[2].as_ref().unwrap(), &WriteOutcome::Stored(1));
    assert!(matches!(results[3], Ok(WriteOutcome::Queued(_))));
    let logs = storage.read_logs("d", 10).unwrap();
    assert_eq!(
        logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        ["first"]
    );
    assert_eq!(storage.list_orders("d", None, 10).unwrap().len(), 1);
}
