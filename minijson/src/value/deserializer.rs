//! A borrowed [`Value`] as a serde `Deserializer`: what [`crate::from_value`] reads from.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::Value;
use crate::error::Error;

impl<'de> IntoDeserializer<'de, Error> for &'de Value {
    type Deserializer = &'de Value;
    fn into_deserializer(self) -> &'de Value {
        self
    }
}

impl<'de> de::Deserializer<'de> for &'de Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Integer(i) => match i64::try_from(*i) {
                Ok(v) => visitor.visit_i64(v),
                Err(_) => visitor.visit_u64(u64::try_from(*i).unwrap_or(u64::MAX)),
            },
            Value::F32(f) => visitor.visit_f32(*f),
            Value::F64(f) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::List(items) => {
                let mut seq = Items { iter: items.iter() };
                let v = visitor.visit_seq(&mut seq)?;
                finish(seq.iter.len(), v)
            }
            Value::Map(entries) => {
                let iter = entries.iter().map(|(k, v)| (Key::Str(k), v));
                let mut map = Entries { iter, value: None };
                let v = visitor.visit_map(&mut map)?;
                finish(map.iter.len(), v)
            }
            Value::AnyMap(entries) => {
                let iter = entries.iter().map(|(k, v)| (Key::Value(k), v));
                let mut map = Entries { iter, value: None };
                let v = visitor.visit_map(&mut map)?;
                finish(map.iter.len(), v)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Map(m) if m.len() == 1 => visitor.visit_enum(Variant {
                key: Key::Str(&m[0].0),
                value: &m[0].1,
            }),
            Value::AnyMap(m) if m.len() == 1 => visitor.visit_enum(Variant {
                key: Key::Value(&m[0].0),
                value: &m[0].1,
            }),
            other => Err(de::Error::custom(format!(
                "expected an enum, found a {}",
                other.kind()
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

fn finish<T>(left: usize, value: T) -> Result<T, Error> {
    if left == 0 {
        Ok(value)
    } else {
        Err(de::Error::custom(format_args!(
            "{left} item(s) of a container were not consumed"
        )))
    }
}

/// A map key: a string of a string-keyed map, or any value.
#[derive(Clone, Copy)]
enum Key<'de> {
    Str(&'de str),
    Value(&'de Value),
}

impl<'de> Key<'de> {
    fn deserialize<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        match self {
            Key::Str(s) => seed.deserialize(de::value::BorrowedStrDeserializer::new(s)),
            Key::Value(v) => seed.deserialize(v),
        }
    }
}

struct Items<I> {
    iter: I,
}

impl<'de, I: ExactSizeIterator<Item = &'de Value>> de::SeqAccess<'de> for &mut Items<I> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.iter.next().map(|v| seed.deserialize(v)).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct Entries<'de, I: Iterator<Item = (Key<'de>, &'de Value)>> {
    iter: I,
    value: Option<&'de Value>,
}

impl<'de, I: ExactSizeIterator<Item = (Key<'de>, &'de Value)>> de::MapAccess<'de> for &mut Entries<'de, I> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                key.deserialize(seed).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("a map value was asked for before its key")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A one-entry map read as an enum variant.
struct Variant<'de> {
    key: Key<'de>,
    value: &'de Value,
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = Error;
    type Variant = &'de Value;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, &'de Value), Error> {
        Ok((self.key.deserialize(seed)?, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for &'de Value {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}
