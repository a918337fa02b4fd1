//! Typed orders: value coercion to the path's type, and staleness against a fixed clock.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use smok_client::clock::{Clock, ManualClock};
use smok_client::orders::{
    Advise, Order, OrderExt, PathpointType, PathpointValue, Section, WriteOrder, WriteOrderExt, WriteValue,
};

fn write(path: &str, value: impl Into<WriteValue>) -> WriteOrder {
    WriteOrder {
        path: path.into(),
        value: value.into(),
        advise: Advise::Advise,
        stale_after: None,
    }
}

fn coerced(path: &str, value: impl Into<WriteValue>) -> Option<PathpointValue> {
    write(path, value).coerced_value().ok()
}

use PathpointValue::{Float, Int, Text};

#[test]
fn coercion_table() {
    let cases: Vec<(&str, WriteValue, Option<PathpointValue>)> = vec![
        // W: unsigned 16-bit, clipped, rounded, strings parsed.
        ("W1", Int(70_000), Some(Int(65_535))),
        ("W1", Int(-5), Some(Int(0))),
        ("W1", Int(65_535), Some(Int(65_535))),
        ("W1", Float(12.6), Some(Int(13))),
        ("W1", Text(" 42 ".into()), Some(Int(42))),
        ("W1", Text("forty".into()), None),
        // w: signed 16-bit.
        ("w1", Int(40_000), Some(Int(32_767))),
        ("w1", Int(-40_000), Some(Int(-32_768))),
        ("w1", Int(-32_768), Some(Int(-32_768))),
        ("w1", Float(-1.4), Some(Int(-1))),
        // B: binary.
        ("B1", Int(5), Some(Int(1))),
        ("B1", Int(-3), Some(Int(0))),
        ("B1", Float(0.4), Some(Int(0))),
        ("B1", Text("1".into()), Some(Int(1))),
        // f: single precision.
        ("f1", Float(0.1), Some(Float(f64::from(0.1f32)))),
        ("f1", Int(3), Some(Float(3.0))),
        ("f1", Float(f64::NAN), None),
        // d: double.
        ("d1", Float(0.1), Some(Float(0.1))),
        ("d1", Text("2.5".into()), Some(Float(2.5))),
        // u: anything as text.
        ("u1", Int(7), Some(Text("7".into()))),
        ("u1", Float(1.5), Some(Text("1.5".into()))),
        ("u1", Text("hello".into()), Some(Text("hello".into()))),
        // Reparse paths take the type of their second letter.
        ("rW1", Int(-1), Some(Int(0))),
        // No known type letter.
        ("X1", Int(1), None),
        ("", Int(1), None),
    ];
    for (path, value, expected) in cases {
        assert_eq!(coerced(path, value.clone()), expected, "{path} <- {value:?}");
    }
    assert_eq!(write("w1", 1).path_type().unwrap(), PathpointType::I16);
}

proptest! {
    #[test]
    fn integer_types_are_always_in_range(v in any::<i64>(), f in -1e12f64..1e12) {
        for value in [Int(v), Float(f)] {
            let Some(Int(w)) = coerced("W", value.clone()) else { panic!("W") };
            prop_assert!((0..=65_535).contains(&w));
            let Some(Int(s)) = coerced("w", value.clone()) else { panic!("w") };
            prop_assert!((-32_768..=32_767).contains(&s));
            let Some(Int(b)) = coerced("B", value) else { panic!("B") };
            prop_assert!(b == 0 || b == 1);
        }
    }
}

#[test]
fn staleness_with_a_fixed_clock() {
    let clock = ManualClock::at_epoch_secs(1_700_000_000.0);
    let mut w = write("W1", 1);
    assert!(!w.is_stale(clock.now()), "no stale_after: never stale");

    w.stale_after = Some(1_700_000_000.0);
    assert!(!w.is_stale(clock.now()), "at the limit it is still fresh");
    clock.advance(Duration::from_micros(1));
    assert!(w.is_stale(clock.now()), "just after the limit it is stale");

    w.stale_after = Some(1_700_000_000.5);
    assert!(!w.is_stale(clock.now()));
    assert!(w.is_stale(UNIX_EPOCH + Duration::from_secs(1_700_000_001)));

    w.stale_after = Some(f64::NAN);
    assert!(
        w.is_stale(clock.now()),
        "an unreadable limit cannot be shown fresh"
    );
}

#[test]
fn unrecognized_orders_carry_their_reason() {
    let section: Section = serde_json::from_value(serde_json::json!({
        "orders": [
            {"type": "read", "path": "W1"},
            {"type": "frobnicate"},
            {"path": "W2"},
            {"type": "write", "path": "W3"},
        ],
        "disposition": 1
    }))
    .unwrap();
    let reasons: Vec<Option<&str>> = section.orders.iter().map(|o| o.unrecognized_reason()).collect();
    assert_eq!(reasons[0], None);
    assert_eq!(reasons[1], Some("unknown order type \"frobnicate\""));
    assert_eq!(reasons[2], Some("the order has no type"));
    assert!(
        reasons[3].unwrap().starts_with("invalid write order"),
        "{reasons:?}"
    );
    let kinds: Vec<&str> = section.orders.iter().map(|o| o.kind()).collect();
    assert_eq!(kinds, ["read", "frobnicate", "?", "write"]);
    assert!(matches!(section.orders[0], Order::Read(_)));
}
