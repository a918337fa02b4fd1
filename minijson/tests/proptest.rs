//! Property tests: arbitrary values round-trip byte for byte, arbitrary bytes never panic.

use minijson::Value;
use proptest::prelude::*;

/// Values in the normal form that decoding produces (see `Value`'s docs).
fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f32>().prop_map(Value::F32),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        "[a-z]{120,300}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(6, 200, 20, |inner| {
        let key = prop_oneof![".{0,20}", "k{250,260}"];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(Value::List),
            prop::collection::vec((key, inner.clone()), 0..20).prop_map(|entries| Value::AnyMap(
                entries.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
            )),
            prop::collection::vec((inner.clone(), inner), 1..10).prop_map(Value::AnyMap),
        ]
    })
    .prop_map(normalize)
}

/// The normal form of `Value`'s docs, computed independently of the codec.
fn normalize(v: Value) -> Value {
    match v {
        Value::F64(f) => Value::from(f),
        Value::List(items) => Value::List(items.into_iter().map(normalize).collect()),
        Value::Map(m) => Value::Map(m.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        Value::AnyMap(m) => {
            let m: Vec<(Value, Value)> = m.into_iter().map(|(k, v)| (normalize(k), normalize(v))).collect();
            if m.iter().all(|(k, _)| k.as_str().is_some_and(|s| s.len() <= 255)) {
                Value::Map(
                    m.into_iter()
                        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v))
                        .collect(),
                )
            } else {
                Value::AnyMap(m)
            }
        }
        other => other,
    }
}

/// JSON objects cannot hold a key twice.
fn has_duplicate_keys(v: &Value) -> bool {
    match v {
        Value::List(items) => items.iter().any(has_duplicate_keys),
        Value::Map(m) => {
            let keys: std::collections::HashSet<_> = m.iter().map(|(k, _)| k).collect();
            keys.len() != m.len() || m.iter().any(|(_, v)| has_duplicate_keys(v))
        }
        Value::AnyMap(m) => m
            .iter()
            .any(|(k, v)| has_duplicate_keys(k) || has_duplicate_keys(v)),
        _ => false,
    }
}

fn has_non_finite(v: &Value) -> bool {
    let debug = format!("{:?}", v);
    debug.contains("NaN") || debug.contains("inf")
}

/// NaN is never equal to itself: compare values by their encoding instead.
fn same(a: &Value, b: &Value) -> bool {
    minijson::to_vec(a).unwrap() == minijson::to_vec(b).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_decode_encode_is_identical(v in arb_value()) {
        let bytes = minijson::to_vec(&v).unwrap();
        let back: Value = minijson::from_slice(&bytes).unwrap();
        prop_assert!(same(&back, &v) && (back == v || has_non_finite(&v)));
        prop_assert_eq!(minijson::to_vec(&back).unwrap(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = minijson::from_slice::<Value>(&bytes);
        let _ = minijson::from_slice::<serde::de::IgnoredAny>(&bytes);
        let _ = minijson::from_slice::<Vec<(String, i64)>>(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic(v in arb_value(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = minijson::to_vec(&v).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = minijson::from_slice::<Value>(&bytes);
        bytes.truncate(i);
        prop_assert!(minijson::from_slice::<Value>(&bytes).is_err());
    }

    #[test]
    fn decoding_a_prefix_says_how_much_it_used(v in arb_value(), tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let mut bytes = minijson::to_vec(&v).unwrap();
        let len = bytes.len();
        bytes.extend_from_slice(&tail);
        let (back, used) = minijson::from_slice_partial::<Value>(&bytes).unwrap();
        prop_assert_eq!(used, len);
        prop_assert!(same(&back, &v));
    }

    #[test]
    fn value_as_deserializer_reads_back_the_same_value(v in arb_value()) {
        let back: Value = minijson::from_value(&v).unwrap();
        prop_assert!(same(&back, &v));
    }

    #[test]
    fn json_conversion_keeps_plain_json(v in arb_value()) {
        prop_assume!(!has_duplicate_keys(&v));
        let json = serde_json::Value::from(v.clone());
        if !has_non_finite(&v) {
            prop_assert!(same(&Value::from_tagged_json(json).unwrap(), &v));
        }
    }
}
