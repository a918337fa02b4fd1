//! Conformance: orders, devices, samples, logs, message reports and pathpoint registrations,
//! on any engine ([`Inspect`]).

use ngtt_proto::payload::{PathpointSeries, ReadError, Sample};
use ngtt_proto::{DeviceIdentity, Environment};

use super::Inspect;
use crate::storage::{AnsweredVia, LogEntry, OrderAnswer, OrderState, SeriesQuery};

pub(super) fn order_lifecycle(db: &dyn Inspect) {
    let a = db.queue_order("d", b"A").expect("queue");
    let b = db.queue_order("d", b"B").expect("queue");
    let c = db.queue_order("d", b"C").expect("queue");
    db.queue_order("other", b"X").expect("queue");
    assert!(a < b && b < c);

    let first = db.claim_orders("d", 0, 2).expect("claim");
    assert_eq!(first.iter().map(|o| o.id).collect::<Vec<_>>(), [a, b]);
    assert_eq!(&first[0].payload[..], b"A");
    let rest = db.claim_orders("d", b, 5).expect("claim");
    assert_eq!(rest.iter().map(|o| o.id).collect::<Vec<_>>(), [c]);

    assert!(db.answer_order(a, OrderAnswer::Confirmed).expect("answer"));
    assert!(!db.answer_order(a, OrderAnswer::Rejected).expect("answer again"));
    assert!(db.answer_order(b, OrderAnswer::Rejected).expect("answer"));

    let rec = db.order(a).expect("read").expect("exists");
    assert_eq!((rec.state, rec.deliveries), (OrderState::Confirmed, 1));
    assert_eq!(rec.answered_via, Some(AnsweredVia::Ngtt));
    assert!(rec.sent_at_ms.is_some() && rec.answered_at_ms.is_some());
    assert_eq!(
        db.order(b).expect("read").expect("exists").state,
        OrderState::Rejected
    );

    // The unanswered one is pending again for a new connection (cursor back at 0).
    let again = db.claim_orders("d", 0, 8).expect("claim");
    assert_eq!(again.iter().map(|o| o.id).collect::<Vec<_>>(), [c]);
    assert_eq!(db.order(c).expect("read").expect("exists").deliveries, 2);

    let sent = db.list_orders("d", Some(OrderState::Sent), 100).expect("list");
    assert_eq!(sent.len(), 1);
    assert_eq!(db.list_orders("d", None, 2).expect("list").len(), 2);
    assert!(db.order(9999).expect("read").is_none());
}

pub(super) fn http_hand_out_confirms(db: &dyn Inspect) {
    let a = db.queue_order("d", b"A").expect("queue");
    let b = db.queue_order("d", b"B").expect("queue");
    db.claim_orders("d", 0, 1).expect("claim");
    let handed = db.hand_out_orders("d").expect("hand out");
    assert_eq!(handed.iter().map(|o| o.id).collect::<Vec<_>>(), [a, b]);
    let rec = db.order(b).expect("read").expect("exists");
    assert_eq!(
        (rec.state, rec.answered_via),
        (OrderState::Confirmed, Some(AnsweredVia::Http))
    );
    assert!(db.hand_out_orders("d").expect("hand out").is_empty());
    assert!(db.claim_orders("d", 0, 8).expect("claim").is_empty());
}

pub(super) fn devices_and_settings(db: &dyn Inspect) {
    db.queue_order("queued-only", b"A").expect("queue");
    db.device_connected(&DeviceIdentity::new("dev", Environment::Staging))
        .expect("connected");
    let devices = db.list_devices().expect("list");
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0].device_id, "dev");
    assert_eq!(devices[0].environment, Some(1));
    assert!(devices[0].last_connected_ms.is_some());
    assert_eq!(devices[1].environment, None);

    let mut info = db.device_info("dev").expect("read");
    assert_eq!(info, crate::storage::device_info::DeviceInfo::default());
    info.apply(
        "dev",
        &serde_json::json!({"verbose_name": "Boiler room", "facets": ["x"]}),
    )
    .expect("valid");
    db.set_device_info("dev", &info).expect("write");
    assert_eq!(db.device_info("dev").expect("read"), info);
}

pub(super) fn samples_are_deduplicated_and_grouped(db: &dyn Inspect) {
    let upload = vec![
        PathpointSeries::new("W1", [Sample::value(1, 5), Sample::value(2, 6)]),
        PathpointSeries::new(
            "fA",
            [Sample::value(1, 2.5), Sample::error(3, ReadError::Timeout)],
        ),
        PathpointSeries::new("uT", [Sample::value(4, "hi")]),
    ];
    assert_eq!(db.store_series("d", &upload).expect("store"), 5);
    assert_eq!(db.store_series("d", &upload).expect("store again"), 0);
    // A sample repeated within one upload (same path and time) is stored once: the first.
    let repeated = vec![
        PathpointSeries::new("W9", [Sample::value(1, 1), Sample::value(1, 2)]),
        PathpointSeries::new("W9", [Sample::value(1, 3), Sample::value(2, 4)]),
    ];
    assert_eq!(db.store_series("r", &repeated).expect("store repeated"), 2);
    let query = SeriesQuery {
        path: Some("W9".into()),
        ..SeriesQuery::default()
    };
    assert_eq!(
        db.read_series("r", &query).expect("read repeated"),
        [PathpointSeries::new(
            "W9",
            [Sample::value(1, 1), Sample::value(2, 4)]
        )]
    );
    let all = db.read_series("d", &SeriesQuery::default()).expect("read");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], upload[0]);
    assert_eq!(all[1], upload[1]);
    assert_eq!(all[2], upload[2]);
    let query = SeriesQuery {
        path: Some("W1".into()),
        from_ms: Some(2),
        ..SeriesQuery::default()
    };
    assert_eq!(
        db.read_series("d", &query).expect("read"),
        [PathpointSeries::new("W1", [Sample::value(2, 6)])]
    );
    assert!(db
        .read_series("other", &SeriesQuery::default())
        .expect("read")
        .is_empty());
}

pub(super) fn logs_most_recent_oldest_first(db: &dyn Inspect) {
    let logs: Vec<LogEntry> = (0..5)
        .map(|i| LogEntry {
            id: 0,
            service: "svc".into(),
            when_us: i,
            level: 20,
            message: format!("m{i}"),
            exception_text: None,
            exception_traceback: (i == 4).then(|| "tb".to_owned()),
            received_at_ms: 0,
        })
        .collect();
    assert_eq!(db.store_logs("d", &logs).expect("store"), 5);
    let last = db.read_logs("d", 2).expect("read");
    assert_eq!(
        last.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        ["m3", "m4"]
    );
    assert_eq!(last[1].exception_traceback.as_deref(), Some("tb"));
    assert!(last[0].received_at_ms > 0);
}

pub(super) fn message_reports_keep_the_first_time(db: &dyn Inspect) {
    assert!(db.record_message("d", "u-1").expect("record"));
    assert!(db.record_message("d", "u-2").expect("record"));
    assert!(!db.record_message("d", "u-1").expect("record again"));
    assert!(db.record_message("other", "u-1").expect("other device"));
    let reports = db.list_messages("d", 10).expect("list");
    assert_eq!(
        reports.iter().map(|r| r.uuid.as_str()).collect::<Vec<_>>(),
        ["u-1", "u-2"]
    );
    assert!(reports[0].reported_at_ms > 0);
    assert_eq!(db.list_messages("d", 1).expect("list")[0].uuid, "u-2");
}

pub(super) fn pathpoint_registrations_upsert_and_list_sorted(db: &dyn Inspect) {
    use crate::storage::{RegisteredPathpoint, StorageLevel};
    let reg = |path: &str, storage_level| RegisteredPathpoint {
        path: path.into(),
        storage_level,
    };
    let all = db
        .register_pathpoints(
            "d",
            &[reg("W2", StorageLevel::Trend), reg("B1", StorageLevel::Permanent)],
        )
        .expect("register");
    assert_eq!(
        all,
        [reg("B1", StorageLevel::Permanent), reg("W2", StorageLevel::Trend)]
    );
    let all = db
        .register_pathpoints("d", &[reg("W2", StorageLevel::Permanent)])
        .expect("register again");
    assert_eq!(
        all,
        [
            reg("B1", StorageLevel::Permanent),
            reg("W2", StorageLevel::Permanent)
        ]
    );
    assert_eq!(db.register_pathpoints("d", &[]).expect("list"), all);
    assert!(db.register_pathpoints("other", &[]).expect("list").is_empty());
}
