//! `Serialize` for [`Value`]: each variant maps to the serde call that writes it unchanged.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::Value;

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Integer(i) => match i64::try_from(*i) {
                Ok(v) => s.serialize_i64(v),
                // Integer holds nothing below i64::MIN, so this is a u64.
                Err(_) => s.serialize_u64(u64::try_from(*i).unwrap_or(u64::MAX)),
            },
            Value::F32(f) => s.serialize_f32(*f),
            Value::F64(f) => s.serialize_f64(*f),
            Value::String(v) => s.serialize_str(v),
            Value::Bytes(v) => s.serialize_bytes(v),
            Value::List(v) => v.serialize(s),
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::AnyMap(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}
