//! Value ↔ hex tables and serde mappings of the data model.

use std::collections::BTreeMap;

use minijson::{hex::from_hex, hex::to_hex, Error, Value};
use serde::{Deserialize, Serialize};

fn enc<T: Serialize + ?Sized>(v: &T) -> String {
    to_hex(&minijson::to_vec(v).unwrap())
}

#[test]
fn value_hex_table() {
    let table: Vec<(Value, &str)> = vec![
        (Value::Null, "08"),
        (true.into(), "16"),
        (false.into(), "17"),
        (0.into(), "0300"),
        ((-129).into(), "02ff7f"),
        (65536.into(), "0c010000"),
        (u64::MAX.into(), "180900ffffffffffffffff"),
        (i64::MIN.into(), "18088000000000000000"),
        (Value::F32(1.5), "093fc00000"),
        (Value::F64(0.1), "0a3fb999999999999a"),
        ("".into(), "80"),
        ("AL".into(), "82414c"),
        (Value::Bytes(vec![]), "1900"),
        (Value::Bytes(vec![1, 2]), "19020102"),
        (Value::List(vec![]), "40"),
        (Value::Map(vec![]), "50"),
        (Value::Map(vec![("a".into(), 1.into())]), "5101610301"),
        (Value::AnyMap(vec![(1.into(), 2.into())]), "6103010302"),
        (
            Value::AnyMap(vec![("a".into(), 1.into()), (2.into(), "b".into())]),
            "628161030103028162",
        ),
    ];
    for (value, hex) in table {
        assert_eq!(enc(&value), hex, "encoding {value:?}");
        assert_eq!(
            minijson::from_slice::<Value>(&from_hex(hex).unwrap()).unwrap(),
            value,
            "decoding {hex}"
        );
    }
}

#[test]
fn f64_is_single_only_when_exact() {
    assert_eq!(enc(&1.5f64), "093fc00000");
    assert_eq!(enc(&0.1f64), "0a3fb999999999999a");
    assert_eq!(enc(&0.1f32), "093dcccccd");
    assert_eq!(enc(&f64::INFINITY), "097f800000");
    assert_eq!(
        minijson::from_slice::<f64>(&minijson::to_vec(&0.1f64).unwrap()).unwrap(),
        0.1
    );
    assert_eq!(
        minijson::from_slice::<f32>(&from_hex("0a3ff8000000000000").unwrap()).unwrap(),
        1.5
    );
}

#[test]
fn single_floats_reach_visit_f32() {
    struct Width;
    impl<'de> serde::de::Visitor<'de> for Width {
        type Value = &'static str;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a float")
        }
        fn visit_f32<E>(self, _: f32) -> Result<&'static str, E> {
            Ok("single")
        }
        fn visit_f64<E>(self, _: f64) -> Result<&'static str, E> {
            Ok("double")
        }
    }
    let mut de = minijson::Deserializer::from_slice(&[0x09, 0x3f, 0xc0, 0, 0]);
    assert_eq!(
        serde::Deserializer::deserialize_any(&mut de, Width).unwrap(),
        "single"
    );
    let bytes = minijson::to_vec(&0.1f64).unwrap();
    let mut de = minijson::Deserializer::from_slice(&bytes);
    assert_eq!(
        serde::Deserializer::deserialize_any(&mut de, Width).unwrap(),
        "double"
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Kind {
    Unit,
    Newtype(u8),
    Tuple(u8, bool),
    Struct { a: u8 },
}

#[test]
fn enums_follow_serde_json_conventions() {
    assert_eq!(enc(&Kind::Unit), "84556e6974");
    assert_eq!(enc(&Kind::Newtype(1)), "51074e657774797065 0301".replace(' ', ""));
    assert_eq!(
        enc(&Kind::Tuple(1, true)),
        "51055475706c65 42030116".replace(' ', "")
    );
    assert_eq!(
        enc(&Kind::Struct { a: 1 }),
        "51065374727563 74 51016103 01".replace(' ', "")
    );
    for k in [
        Kind::Unit,
        Kind::Newtype(7),
        Kind::Tuple(1, false),
        Kind::Struct { a: 9 },
    ] {
        let bytes = minijson::to_vec(&k).unwrap();
        assert_eq!(minijson::from_slice::<Kind>(&bytes).unwrap(), k);
    }
    // An any-key map of one entry names a variant as well.
    assert_eq!(
        minijson::from_slice::<Kind>(&from_hex("61 84556e6974 08").unwrap()).unwrap(),
        Kind::Unit
    );
    assert!(minijson::from_slice::<Kind>(&from_hex("84416c6c6f").unwrap()).is_err());
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Record<'a> {
    service: &'a str,
    #[serde(with = "serde_bytes_compat")]
    blob: Vec<u8>,
    level: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    exception: Option<String>,
    unit: (),
}

mod serde_bytes_compat {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let v: &'de [u8] = serde::Deserialize::deserialize(d)?;
        Ok(v.to_vec())
    }
}

#[test]
fn structs_are_string_maps_and_skipped_fields_fix_the_count() {
    let r = Record {
        service: "modbus",
        blob: vec![0xff],
        level: None,
        exception: None,
        unit: (),
    };
    let hex = enc(&r);
    // Four entries written although serde announced five minus the skipped one.
    assert!(hex.starts_with("54077365727669636586"), "{hex}");
    let bytes = minijson::to_vec(&r).unwrap();
    let back: Record = minijson::from_slice(&bytes).unwrap();
    assert_eq!(back, r);
    // `service` borrows from the input.
    let start = bytes.as_ptr() as usize;
    let p = back.service.as_ptr() as usize;
    assert!(p >= start && p < start + bytes.len());
}

#[test]
fn maps_with_non_string_keys_become_any_key_maps() {
    let m: BTreeMap<u16, &str> = [(1, "a"), (300, "b")].into();
    assert_eq!(enc(&m), "62 0301 8161 02012c 8162".replace(' ', ""));
    assert_eq!(
        minijson::from_slice::<BTreeMap<u16, &str>>(&minijson::to_vec(&m).unwrap()).unwrap(),
        m
    );
    // A key that turns up late converts the entries already written.
    let v = Value::AnyMap(vec![
        ("a".into(), 1.into()),
        ("b".repeat(200).into(), 2.into()),
        (3.into(), 4.into()),
    ]);
    let bytes = minijson::to_vec(&v).unwrap();
    assert_eq!(bytes[0], 0x63);
    assert_eq!(minijson::from_slice::<Value>(&bytes).unwrap(), v);
    // A string key longer than 255 bytes cannot be a string-map key.
    let long: BTreeMap<String, u8> = [("k".repeat(256), 1)].into();
    assert_eq!(minijson::to_vec(&long).unwrap()[0], 0x61);
}

#[test]
fn long_containers_get_long_headers() {
    let list: Vec<u8> = vec![0; 300];
    assert!(enc(&list).starts_with("0f012c"));
    let it = (0..20u8).map(|i| (i.to_string(), i));
    let map: serde_json::Map<String, serde_json::Value> = it.map(|(k, v)| (k, v.into())).collect();
    assert!(enc(&map).starts_with("0b14"));
    // serde_json's map is not a BTreeMap: its insertion order is kept.
}

#[test]
fn integers_out_of_the_target_range_are_refused() {
    let bytes = minijson::to_vec(&300u16).unwrap();
    assert!(matches!(
        minijson::from_slice::<u8>(&bytes),
        Err(Error::Message(_))
    ));
    let bytes = minijson::to_vec(&-1i8).unwrap();
    assert!(minijson::from_slice::<u64>(&bytes).is_err());
    // 2^64 as a big integer does not fit a Value either.
    let huge = from_hex("1809010000000000000000").unwrap();
    assert!(matches!(
        minijson::from_slice::<Value>(&huge),
        Err(Error::IntegerOutOfRange { offset: 0 })
    ));
    // A 17-byte big integer that is pure sign extension still decodes.
    let wide = from_hex("1811ffffffffffffffffffffffffffffffffff").unwrap();
    assert_eq!(minijson::from_slice::<i64>(&wide).unwrap(), -1);
}

#[test]
fn trailing_bytes_and_partial_reads() {
    let err = minijson::from_slice::<u8>(&[0x03, 0x01, 0x08]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TrailingBytes {
                offset: 2,
                remaining: 1
            }
        ),
        "{err}"
    );
    let (v, used) = minijson::from_slice_partial::<Value>(&[0x03, 0x01, 0x08]).unwrap();
    assert_eq!((v, used), (Value::from(1), 2));
}

#[test]
fn counts_are_checked_before_reading() {
    let err = minijson::from_slice::<Value>(&from_hex("10ffffffff").unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CountTooLarge {
                count: 0xffff_ffff,
                remaining: 0,
                offset: 0
            }
        ),
        "{err}"
    );
    let err = minijson::from_slice::<Vec<u8>>(&from_hex("4303").unwrap()).unwrap_err();
    assert!(matches!(err, Error::CountTooLarge { .. }), "{err}");
}

#[test]
fn nesting_limit_is_enforced_and_configurable() {
    let nested = |depth: usize| {
        let mut v = vec![0x41; depth];
        v.push(0x08);
        v
    };
    assert!(minijson::from_slice::<Value>(&nested(128)).is_ok());
    let err = minijson::from_slice::<Value>(&nested(129)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DepthLimitExceeded {
                limit: 128,
                offset: 128
            }
        ),
        "{err}"
    );
    let deep = nested(100_000);
    assert!(minijson::from_slice::<serde::de::IgnoredAny>(&deep).is_err());
    let input = nested(10);
    let mut de = minijson::Deserializer::from_slice(&input).with_max_depth(9);
    assert!(<Value as serde::Deserialize>::deserialize(&mut de).is_err());
    let mut de = minijson::Deserializer::from_slice(&input).with_max_depth(10);
    assert!(<Value as serde::Deserialize>::deserialize(&mut de).is_ok());
}

#[test]
fn json_mapping_round_trips() {
    let v = Value::List(vec![
        Value::Bytes(vec![1, 2]),
        Value::AnyMap(vec![(1.into(), Value::Null)]),
        Value::F32(0.5),
        Value::F64(0.1),
        u64::MAX.into(),
    ]);
    let json = serde_json::Value::from(v.clone());
    assert_eq!(
        json.to_string(),
        r#"[{"$bytes":"0102"},{"$map":[[1,null]]},0.5,0.1,18446744073709551615]"#
    );
    assert_eq!(Value::from_tagged_json(json).unwrap(), v);
    let plain: Value = serde_json::json!({"a": [1, 2.5, "x"]}).into();
    assert_eq!(enc(&plain), "51016143 0301 0940200000 8178".replace(' ', ""));
}

#[test]
fn writer_and_value_helpers() {
    let mut out = Vec::new();
    minijson::to_writer(&mut out, &[1u8, 2]).unwrap();
    assert_eq!(out, [0x42, 0x03, 0x01, 0x03, 0x02]);
    let v = minijson::to_value(&Kind::Struct { a: 3 }).unwrap();
    assert_eq!(v["Struct"]["a"].as_u64(), Some(3));
    assert_eq!(minijson::from_value::<Kind>(&v).unwrap(), Kind::Struct { a: 3 });
}
