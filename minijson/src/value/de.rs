//! `Deserialize` for [`Value`], from MiniJSON or any other self-describing format.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

use super::{Integer, Value};

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any MiniJSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Integer(v.into()))
    }
    fn visit_i128<E: Error>(self, v: i128) -> Result<Value, E> {
        Integer::try_from(v).map(Value::Integer).map_err(E::custom)
    }
    fn visit_u128<E: Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v).map(Value::from).map_err(E::custom)
    }
    fn visit_f32<E>(self, v: f32) -> Result<Value, E> {
        Ok(Value::F32(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_owned()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // The size hint comes from the input: cap what is reserved up front.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let capacity = map.size_hint().unwrap_or(0).min(4096);
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(capacity);
        while let Some(key) = map.next_key::<Value>()? {
            match key {
                Value::String(key) if key.len() <= 0xFF => entries.push((key, map.next_value()?)),
                key => {
                    // The first key that a string-keyed map cannot hold: switch to any keys.
                    let mut any: Vec<(Value, Value)> =
                        entries.into_iter().map(|(k, v)| (Value::String(k), v)).collect();
                    any.push((key, map.next_value()?));
                    while let Some(entry) = map.next_entry()? {
                        any.push(entry);
                    }
                    return Ok(Value::AnyMap(any));
                }
            }
        }
        Ok(Value::Map(entries))
    }
}

/// A map with only short string keys becomes [`Value::Map`], anything else [`Value::AnyMap`].
pub(crate) fn from_entries(entries: Vec<(Value, Value)>) -> Value {
    let string_keys = entries
        .iter()
        .all(|(k, _)| matches!(k, Value::String(s) if s.len() <= 0xFF));
    if !string_keys {
        return Value::AnyMap(entries);
    }
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| match k {
                Value::String(s) => (s, v),
                _ => unreachable!("checked above: every key is a string"),
            })
            .collect(),
    )
}
