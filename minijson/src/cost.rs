//! What decoding a document into [`Value`]s would cost, found without allocating: one pass
//! that counts the values ([`value_count`]), so that a receiver can refuse a document whose
//! decoded form would be many times its size (16 MiB of `null`s is 16 Mi values) before
//! building it. [`ValueCount`] counts with any serde format (a JSON body, say).

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::{from_slice, Result, Value};

/// The number of values in the one document `bytes` holds (containers count as one each,
/// plus their contents); fails as [`from_slice`] would on invalid input.
pub fn value_count(bytes: &[u8]) -> Result<usize> {
    from_slice::<ValueCount>(bytes).map(|c| c.0)
}

/// An upper estimate of the memory `from_slice::<Value>(bytes)` takes: one [`Value`] per value
/// plus the bytes of strings and binary data (at most the input's length).
pub fn decoded_size_estimate(bytes: &[u8]) -> Result<usize> {
    let values = value_count(bytes)?;
    Ok(values
        .saturating_mul(std::mem::size_of::<Value>())
        .saturating_add(bytes.len()))
}

/// The number of values in a document, found by deserializing it into this with any serde
/// format (e.g. `serde_json::from_slice::<ValueCount>`) without building anything: containers
/// count as one each, plus their contents (map keys included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueCount(pub usize);

impl<'de> Deserialize<'de> for ValueCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<ValueCount, D::Error> {
        d.deserialize_any(CountVisitor)
    }
}

struct CountVisitor;

macro_rules! one {
    ($($name:ident: $t:ty),*) => {
        $(fn $name<E>(self, _: $t) -> std::result::Result<ValueCount, E> {
            Ok(ValueCount(1))
        })*
    };
}

impl<'de> Visitor<'de> for CountVisitor {
    type Value = ValueCount;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any MiniJSON value")
    }

    one!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_i128: i128, visit_u128: u128,
         visit_f32: f32, visit_f64: f64, visit_str: &str, visit_bytes: &[u8]);

    fn visit_none<E>(self) -> std::result::Result<ValueCount, E> {
        Ok(ValueCount(1))
    }

    fn visit_unit<E>(self) -> std::result::Result<ValueCount, E> {
        Ok(ValueCount(1))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<ValueCount, D::Error> {
        ValueCount::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<ValueCount, A::Error> {
        let mut n = 1usize;
        while let Some(ValueCount(c)) = seq.next_element()? {
            n = n.saturating_add(c);
        }
        Ok(ValueCount(n))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<ValueCount, A::Error> {
        let mut n = 1usize;
        while let Some((ValueCount(k), ValueCount(v))) = map.next_entry()? {
            n = n.saturating_add(k).saturating_add(v);
        }
        Ok(ValueCount(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::to_vec;

    #[test]
    fn counts_values() {
        let doc = to_vec(&serde_json::json!({"a": [1, 2, null], "b": "x"})).unwrap();
        // map, "a", list, 1, 2, null, "b", "x"
        assert_eq!(value_count(&doc).unwrap(), 8);
        let nulls = to_vec(&vec![(); 100_000]).unwrap();
        assert_eq!(value_count(&nulls).unwrap(), 100_001);
        let estimate = decoded_size_estimate(&nulls).unwrap();
        assert!(
            estimate > 10 * nulls.len(),
            "{estimate} for {} bytes",
            nulls.len()
        );
        assert!(value_count(&[0xFF, 0xFF]).is_err());
        let json: ValueCount = serde_json::from_str(r#"{"a": [1, 2, null], "b": "x"}"#).unwrap();
        assert_eq!(json, ValueCount(8));
    }
}
