//! Every vector made by the reference implementation, in both directions.

use std::io::{BufRead, BufReader};

use flate2::read::GzDecoder;
use minijson::{hex::from_hex, Value};

struct Vector {
    name: String,
    bytes: Vec<u8>,
    value: Option<Value>,
    decode_only: bool,
    error: bool,
}

fn load(file: &str) -> Vec<Vector> {
    let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let reader = BufReader::new(GzDecoder::new(std::fs::File::open(&path).expect("vector file")));
    reader
        .lines()
        .map(|line| {
            let json: serde_json::Value = serde_json::from_str(&line.expect("readable")).expect("JSON line");
            Vector {
                name: json["name"].as_str().expect("name").to_owned(),
                bytes: from_hex(json["hex"].as_str().expect("hex")).expect("valid hex"),
                value: json
                    .get("value")
                    .map(|v| Value::from_tagged_json(v.clone()).expect("tagged value")),
                decode_only: json.get("decode_only").and_then(|v| v.as_bool()).unwrap_or(false),
                error: json.get("error").and_then(|v| v.as_bool()).unwrap_or(false),
            }
        })
        .collect()
}

fn check(file: &str) -> usize {
    let vectors = load(file);
    assert!(!vectors.is_empty());
    for v in &vectors {
        let decoded = minijson::from_slice::<Value>(&v.bytes);
        if v.error {
            assert!(decoded.is_err(), "{}: accepted {:?}", v.name, decoded);
            assert!(
                minijson::from_slice::<serde::de::IgnoredAny>(&v.bytes).is_err(),
                "{}",
                v.name
            );
            continue;
        }
        let expected = v.value.as_ref().unwrap_or_else(|| panic!("{}: no value", v.name));
        let decoded = decoded.unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(&decoded, expected, "{}: decoded value", v.name);
        if !v.decode_only {
            let encoded = minijson::to_vec(expected).unwrap_or_else(|e| panic!("{}: {e}", v.name));
            assert!(encoded == v.bytes, "{}: encoding differs", v.name);
        }
    }
    vectors.len()
}

#[test]
fn edge_vectors() {
    assert_eq!(check("minijson-edge.jsonl.gz"), 147);
}

#[test]
fn random_vectors() {
    assert_eq!(check("minijson-random.jsonl.gz"), 300);
}

#[test]
fn error_vectors_say_where() {
    let errors: Vec<_> = load("minijson-edge.jsonl.gz")
        .into_iter()
        .filter(|v| v.error)
        .collect();
    assert!(errors.len() >= 20);
    for v in errors {
        let err = minijson::from_slice::<Value>(&v.bytes).unwrap_err();
        assert!(err.offset().is_some(), "{}: {err} has no offset", v.name);
    }
}
