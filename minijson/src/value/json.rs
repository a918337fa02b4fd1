//! Conversions between [`Value`] and `serde_json::Value`.
//!
//! JSON cannot hold everything MiniJSON can, so the direction *to* JSON uses a documented
//! mapping — the same one the reference test vectors use:
//!
//! | MiniJSON | JSON |
//! |---|---|
//! | binary | `{"$bytes": "<lowercase hex>"}` |
//! | map with a key that is not a string of at most 255 bytes | `{"$map": [[key, value], ...]}` |
//! | single float | the same number widened to double (exact: `0.1f32` is `0.10000000149011612`) |
//! | NaN or infinite float | `null` (JSON has no such numbers) |
//!
//! Plain JSON converts to a `Value` as it reads ([`From<serde_json::Value>`]);
//! [`Value::from_tagged_json`] also reads the tags back, plus `{"$f32": x}` and `{"$f64": x}` for
//! floats of a given width, so that the mapping round-trips.

use serde_json::{Map as JsonMap, Number, Value as Json};

use super::{de::from_entries, Value};
use crate::error::Error;
use crate::hex::{from_hex, to_hex};

impl From<Json> for Value {
    fn from(json: Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Number(n) => number(&n),
            Json::String(s) => Value::String(s),
            Json::Array(items) => Value::List(items.into_iter().map(Value::from).collect()),
            Json::Object(map) => from_entries(
                map.into_iter()
                    .map(|(k, v)| (Value::String(k), v.into()))
                    .collect(),
            ),
        }
    }
}

fn number(n: &Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::from(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        Value::from(n.as_f64().unwrap_or(f64::NAN))
    }
}

impl From<Value> for Json {
    fn from(value: Value) -> Json {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Integer(i) => match i64::try_from(i) {
                Ok(v) => v.into(),
                Err(_) => u64::try_from(i).map_or(Json::Null, Json::from),
            },
            Value::F32(f) => float(f.into()),
            Value::F64(f) => float(f),
            Value::String(s) => Json::String(s),
            Value::Bytes(b) => tagged("$bytes", Json::String(to_hex(&b))),
            Value::List(items) => Json::Array(items.into_iter().map(Json::from).collect()),
            Value::Map(m) => Json::Object(m.into_iter().map(|(k, v)| (k, v.into())).collect()),
            Value::AnyMap(m) => tagged(
                "$map",
                Json::Array(
                    m.into_iter()
                        .map(|(k, v)| Json::Array(vec![k.into(), v.into()]))
                        .collect(),
                ),
            ),
        }
    }
}

fn float(f: f64) -> Json {
    Number::from_f64(f).map_or(Json::Null, Json::Number)
}

fn tagged(tag: &str, content: Json) -> Json {
    let mut map = JsonMap::new();
    map.insert(tag.to_owned(), content);
    Json::Object(map)
}

impl Value {
    /// Reads JSON that may use the tags of the module's mapping (`$bytes`, `$map`, `$f32`,
    /// `$f64`), as produced by `serde_json::Value::from(value)` or found in the test vectors.
    ///
    /// ```
    /// use minijson::Value;
    /// let json = serde_json::json!({"$map": [[1, {"$bytes": "ff00"}]]});
    /// let v = Value::from_tagged_json(json.clone()).unwrap();
    /// assert_eq!(v, Value::AnyMap(vec![(1.into(), Value::Bytes(vec![0xff, 0]))]));
    /// assert_eq!(serde_json::Value::from(v), json);
    /// ```
    pub fn from_tagged_json(json: Json) -> Result<Value, Error> {
        match json {
            Json::Array(items) => items.into_iter().map(Value::from_tagged_json).collect(),
            Json::Object(map) if map.len() == 1 => {
                let (key, content) = map.into_iter().next().expect("one entry");
                match (key.as_str(), content) {
                    ("$bytes", Json::String(hex)) => from_hex(&hex).map(Value::Bytes),
                    ("$f32", Json::Number(n)) => Ok(Value::F32(n.as_f64().unwrap_or(f64::NAN) as f32)),
                    ("$f64", Json::Number(n)) => Ok(Value::F64(n.as_f64().unwrap_or(f64::NAN))),
                    ("$map", Json::Array(pairs)) => {
                        let entries = pairs.into_iter().map(pair).collect::<Result<Vec<_>, _>>()?;
                        Ok(from_entries(entries))
                    }
                    (_, content) => Ok(from_entries(vec![(
                        Value::String(key),
                        Value::from_tagged_json(content)?,
                    )])),
                }
            }
            Json::Object(map) => {
                let entries = map
                    .into_iter()
                    .map(|(k, v)| Ok((Value::String(k), Value::from_tagged_json(v)?)))
                    .collect::<Result<Vec<_>, Error>>()?;
                Ok(from_entries(entries))
            }
            plain => Ok(Value::from(plain)),
        }
    }
}

fn pair(json: Json) -> Result<(Value, Value), Error> {
    match json {
        Json::Array(kv) if kv.len() == 2 => {
            let mut kv = kv.into_iter();
            let k = Value::from_tagged_json(kv.next().expect("two items"))?;
            let v = Value::from_tagged_json(kv.next().expect("two items"))?;
            Ok((k, v))
        }
        other => Err(Error::Message(format!(
            "a $map entry must be [key, value], not {other}"
        ))),
    }
}
