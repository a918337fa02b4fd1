//! Typed payloads against the reference vectors and the bench corpus.

use minijson::{hex::from_hex, Value};
use ngtt_proto::payload::*;
use ngtt_proto::{Frame, FrameType, ProtoError};

const ORDER_SECTION: &str = "4152066f726465727345540474797065857772697465047061746887573172343030320576616c75650941cc000006616476697365030152047479706584726561640470617468875732723430303252047479706584776169740474696d65093fc000005304747970658673797363746c076f705f74797065867265626f6f74076f705f6172677380520474797065876d6573736167650475756964a437653666366332612d346532662d346237652d396430372d3366386431613262336334640b646973706f736974696f6e0301";
const PATHPOINT_UPLOAD: &str = "4252047061746887573172343030320676616c75657342421806018bcfe56800031943171806018bcfe56be88774696d656f7574520470617468836672320676616c75657341421806018bcfe568000940200000";
const LOG_UPLOAD: &str = "41540773657276696365866d6f64627573047768656e1807060a24181e4000076d6573736167658773746172746564056c6576656c0314";

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../bench-corpus/{name}.mj",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn order_section_vector() {
    let bytes = from_hex(ORDER_SECTION).unwrap();
    let sections: Vec<Section> = minijson::from_slice(&bytes).unwrap();
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0].disposition, Disposition::CannotJoin);
    let orders = &sections[0].orders;
    assert_eq!(
        orders[0],
        Order::Write(WriteOrder {
            path: "W1r4002".into(),
            value: WriteValue::Float(25.5),
            advise: Advise::Force,
            stale_after: None
        })
    );
    assert_eq!(orders[1], Order::read("W2r4002"));
    assert_eq!(orders[2], Order::wait(1.5));
    assert_eq!(orders[3], Order::sysctl("reboot", ""));
    assert_eq!(orders[4], Order::message("7e6f6c2a-4e2f-4b7e-9d07-3f8d1a2b3c4d"));
    // Typed sections write the same data back (read orders gain their default `advise`).
    let again: Vec<Section> = minijson::from_slice(&minijson::to_vec(&sections).unwrap()).unwrap();
    assert_eq!(again, sections);
}

#[test]
fn pathpoint_and_log_vectors_round_trip_byte_for_byte() {
    let bytes = from_hex(PATHPOINT_UPLOAD).unwrap();
    let series: Vec<PathpointSeries> = minijson::from_slice(&bytes).unwrap();
    assert_eq!(
        series,
        vec![
            PathpointSeries::new(
                "W1r4002",
                [
                    Sample::value(1_700_000_000_000, 25),
                    Sample::error(1_700_000_001_000, ReadError::Timeout)
                ]
            ),
            PathpointSeries::new("fr2", [Sample::value(1_700_000_000_000, 2.5)]),
        ]
    );
    assert_eq!(minijson::to_vec(&series).unwrap(), bytes);

    let bytes = from_hex(LOG_UPLOAD).unwrap();
    let logs: Vec<LogRecord> = minijson::from_slice(&bytes).unwrap();
    assert_eq!(
        logs,
        vec![LogRecord::new(
            "modbus",
            1_700_000_000_000_000,
            Level::INFO,
            "started"
        )]
    );
    assert_eq!(minijson::to_vec(&logs).unwrap(), bytes);
}

#[test]
fn bench_corpus_documents_are_well_typed() {
    let sections: Vec<Section> = minijson::from_slice(&corpus("orders")).unwrap();
    assert_eq!(sections.len(), 20);
    assert!(sections
        .iter()
        .flat_map(|s| &s.orders)
        .all(|o| !matches!(o, Order::Unrecognized { .. })));
    let series: Vec<PathpointSeries> = minijson::from_slice(&corpus("pathpoints")).unwrap();
    assert_eq!(series.len(), 200);
    assert_eq!(minijson::to_vec(&series).unwrap(), corpus("pathpoints"));
    let logs: Vec<LogRecord> = minijson::from_slice(&corpus("logs")).unwrap();
    assert_eq!(logs.len(), 500);
    assert_eq!(minijson::to_vec(&logs).unwrap(), corpus("logs"));
}

#[test]
fn unknown_and_malformed_orders_are_kept_not_fatal() {
    let section = Value::from(serde_json::json!({"orders": [
        {"type": "teleport", "where": "mars"},
        {"path": "W1"},
        {"type": "read"},
        {"type": 7},
        {"type": "read", "path": "W2"},
    ]}));
    let bytes = minijson::to_vec(&section).unwrap();
    let section: Section = minijson::from_slice(&bytes).unwrap();
    let reasons: Vec<String> = section
        .orders
        .iter()
        .filter_map(|o| match o {
            Order::Unrecognized { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].contains("unknown order type \"teleport\""));
    assert!(reasons[1].contains("no type"));
    assert!(reasons[2].contains("invalid read order"), "{}", reasons[2]);
    assert_eq!(section.orders[0].type_name(), Some("teleport"));
    assert_eq!(section.orders[4], Order::read("W2"));
    // Unrecognised orders are written back exactly as they came.
    let again = minijson::to_vec(&section).unwrap();
    let original: Value = minijson::from_slice(&bytes).unwrap();
    let rewritten: Value = minijson::from_slice(&again).unwrap();
    assert_eq!(rewritten["orders"][0], original["orders"][0]);
    // An order that is not even a map fails the payload.
    let bad = minijson::to_vec(&serde_json::json!([{"orders": [1]}])).unwrap();
    assert!(minijson::from_slice::<Vec<Section>>(&bad).is_err());
}

#[test]
fn long_log_messages_are_compressed_when_that_pays() {
    let long = "modbus timeout on unit 7; ".repeat(100);
    let record = LogRecord::new("modbus", 1, Level::ERROR, long.clone());
    assert!(matches!(&record.message, LogMessage::Encoded { encoding, .. } if encoding == "base64-gzip"));
    assert_eq!(record.message.text().unwrap(), long);
    let back: LogRecord = minijson::from_slice(&minijson::to_vec(&record).unwrap()).unwrap();
    assert_eq!(back.message.text().unwrap(), long);
    assert_eq!(LogMessage::new("short").text().unwrap(), "short");
    let bad = LogMessage::Encoded {
        encoding: "base64-gzip".into(),
        content: "!!".into(),
    };
    assert!(matches!(bad.text(), Err(ProtoError::InvalidPayload(_))));
}

#[test]
fn exception_fields_use_the_published_key_names() {
    let traceback = br#"{"frames":[{"name":"main","filename":"a.py","line_no":3,"locals":{},"globals":{}}],"formatted_traceback":"Traceback"}"#;
    let record = LogRecord::new("svc", 5, Level::ERROR, "failed").with_exception("ValueError: x", traceback);
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["exception_text"], "ValueError: x");
    let encoded = json["exception_traceback"].as_str().unwrap();
    assert_eq!(
        decode_traceback(encoded, MAX_INFLATED).unwrap().as_bytes(),
        traceback
    );
    assert!(json.get("exception").is_none() && json.get("traceback").is_none());
    let back: LogRecord = minijson::from_slice(&minijson::to_vec(&record).unwrap()).unwrap();
    assert_eq!(back, record);
    assert_eq!(
        back.traceback_json(1 << 10).unwrap().unwrap().as_bytes(),
        traceback
    );
    // Bounded: a traceback inflating beyond the limit is refused, not inflated in full.
    assert!(
        matches!(back.traceback_json(16), Err(ProtoError::InvalidPayload(m)) if m.contains("more than 16"))
    );
    assert!(decode_traceback("not base64!", 100).is_err());
    // A record with neither field still works, and the earlier draft's names are read too.
    let plain: LogRecord =
        serde_json::from_value(serde_json::json!({"service": "s", "when": 1, "message": "m", "level": 20}))
            .unwrap();
    assert_eq!(
        (plain.exception_text.clone(), plain.traceback_json(10).unwrap()),
        (None, None)
    );
    let old: LogRecord = serde_json::from_value(serde_json::json!(
        {"service": "s", "when": 1, "message": "m", "level": 20, "exception": "E", "traceback": "T"}))
    .unwrap();
    assert_eq!(old.exception_text.as_deref(), Some("E"));
    assert_eq!(old.exception_traceback.as_deref(), Some("T"));
}

#[test]
fn map_form_samples_read_like_list_ones() {
    let list = serde_json::json!([
        {"path": "W1", "values": [[1000, 5], [false, 1001, "timeout"]]}
    ]);
    let map = serde_json::json!([
        {"path": "W1", "values": [{"timestamp": 1000, "value": 5}, {"error_code": "timeout", "timestamp": 1001}]}
    ]);
    let decode = |v: &serde_json::Value| {
        minijson::from_slice::<Vec<PathpointSeries>>(&minijson::to_vec(v).unwrap()).unwrap()
    };
    assert_eq!(decode(&map), decode(&list));
    assert_eq!(
        serde_json::from_value::<Vec<PathpointSeries>>(map).unwrap(),
        decode(&list)
    );
    for (bad, why) in [
        (serde_json::json!({"value": 5}), "timestamp"),
        (serde_json::json!({"timestamp": 1}), "neither"),
        (
            serde_json::json!({"timestamp": 1, "value": 2, "error_code": "x"}),
            "both",
        ),
        (
            serde_json::json!({"timestamp": 1, "value": 2, "extra": 0}),
            "unknown key",
        ),
        (serde_json::json!({"timestamp": -1, "value": 2}), "timestamp"),
        (serde_json::json!({"timestamp": false, "value": 2}), "false"),
    ] {
        let bytes = minijson::to_vec(&bad).unwrap();
        let err = minijson::from_slice::<Sample>(&bytes).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn samples_are_strict() {
    for bad in [
        serde_json::json!([]),
        serde_json::json!([true, 1, "timeout"]),
        serde_json::json!([1, 2, 3]),
        serde_json::json!([-5, 1]),
    ] {
        let bytes = minijson::to_vec(&bad).unwrap();
        assert!(minijson::from_slice::<Sample>(&bytes).is_err(), "{bad}");
    }
}

#[test]
fn write_values_are_coerced_to_the_path_type() {
    let cases: Vec<(&str, WriteValue, PathpointValue)> = vec![
        ("W1", WriteValue::Int(70000), PathpointValue::Int(65535)),
        ("W1", WriteValue::Int(-3), PathpointValue::Int(0)),
        ("w1", WriteValue::Float(-40000.0), PathpointValue::Int(-32768)),
        ("w1", WriteValue::Text(" 12 ".into()), PathpointValue::Int(12)),
        ("B1", WriteValue::Int(5), PathpointValue::Int(1)),
        (
            "f1",
            WriteValue::Float(0.1),
            PathpointValue::Float(f64::from(0.1f32)),
        ),
        ("d1", WriteValue::Float(0.1), PathpointValue::Float(0.1)),
        ("u1", WriteValue::Int(7), PathpointValue::Text("7".into())),
        ("rW1", WriteValue::Int(1), PathpointValue::Int(1)),
        ("W1", WriteValue::Float(2.6), PathpointValue::Int(3)),
    ];
    for (path, value, expected) in cases {
        let (t, _) = PathpointType::of(path).unwrap();
        assert_eq!(t.coerce(&value).unwrap(), expected, "{path} <- {value:?}");
    }
    assert_eq!(PathpointType::of("rfoo").unwrap(), (PathpointType::F32, true));
    assert!(PathpointType::of("x1").is_err());
}

#[test]
fn frames_carry_typed_payloads() {
    let sections = vec![Section::new([Order::read("W1"), Order::wait(0.5)]).cannot_join()];
    let frame = Frame::order(7, &sections).unwrap();
    assert_eq!((frame.kind, frame.tid), (FrameType::Order, 7));
    assert_eq!(frame.payload_as::<Vec<Section>>().unwrap(), sections);
    let reject = Frame::data_stream_reject_because(3, "no such pathpoint").unwrap();
    assert_eq!(reject.payload_opt::<&str>().unwrap(), Some("no such pathpoint"));
    assert_eq!(Frame::data_stream_reject(3).payload_opt::<&str>().unwrap(), None);
    assert!(Frame::data_stream_reject(3).payload_as::<&str>().is_err());
    let reject = Frame::order_reject_because(9, "too large").unwrap();
    assert_eq!((reject.kind, reject.tid), (FrameType::OrderReject, 9));
    assert_eq!(reject.payload_opt::<&str>().unwrap(), Some("too large"));
    let garbage = Frame::new(FrameType::Logs, 0, &b"\x1c"[..]);
    assert!(matches!(
        garbage.payload_as::<Vec<LogRecord>>(),
        Err(ProtoError::Payload(_))
    ));
    let baob = SyncBaobResponse {
        download: vec!["fw".into()],
        upload: vec![],
        delete: vec!["old".into()],
    };
    let frame = Frame::sync_baob_response(2, &baob).unwrap();
    assert_eq!(frame.payload_as::<SyncBaobResponse>().unwrap(), baob);
}
