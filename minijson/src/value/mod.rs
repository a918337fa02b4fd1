//! [`Value`]: any MiniJSON document, held in memory without losing anything the encoding says.

mod de;
mod deserializer;
mod integer;
mod json;
mod ser;

pub use integer::{Integer, OutOfRange};

/// Any MiniJSON value.
///
/// `Value` keeps everything needed to write a canonical document back byte for byte: integers
/// over the whole `i64` and `u64` range, the width of floats, binary data apart from lists, and
/// map entries in insertion order.
///
/// Two normalisations make that hold (they are applied when a `Value` is deserialized; values
/// built by hand are written by the same rules):
/// * a double that is exactly representable as a single becomes [`Value::F32`], because its
///   canonical encoding is a single;
/// * a map whose keys are all strings of at most 255 bytes becomes [`Value::Map`], any other map
///   [`Value::AnyMap`] — the encoding decides the same way, so the two never mix on the wire.
///
/// ```
/// use minijson::Value;
/// let v = Value::Map(vec![("path".into(), "W1r4002".into()), ("value".into(), 25.5f32.into())]);
/// let bytes = minijson::to_vec(&v).unwrap();
/// assert_eq!(minijson::from_slice::<Value>(&bytes).unwrap(), v);
/// assert_eq!(v["path"].as_str(), Some("W1r4002"));
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `null` (tag 8): also what `None` and `()` become.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer from `i64::MIN` to `u64::MAX`.
    Integer(Integer),
    /// An IEEE 754 single.
    F32(f32),
    /// An IEEE 754 double that a single cannot hold exactly.
    F64(f64),
    /// A UTF-8 string.
    String(String),
    /// Raw binary data.
    Bytes(Vec<u8>),
    /// A list of values.
    List(Vec<Value>),
    /// A map with string keys, in insertion order.
    Map(Vec<(String, Value)>),
    /// A map with keys of any type, in insertion order.
    AnyMap(Vec<(Value, Value)>),
}

static NULL: Value = Value::Null;

impl Value {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The integer as `i64`, if this is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => i64::try_from(*i).ok(),
            _ => None,
        }
    }

    /// The integer as `u64`, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Integer(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }

    /// Any number as `f64` (integers beyond 2^53 are rounded).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(f) => Some(f.into()),
            Value::F64(f) => Some(f),
            Value::Integer(i) => Some(i.as_f64()),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The binary data, if this is binary.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries, if this is a string-keyed map.
    pub fn as_map(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value under the string `key` of a map (string-keyed or any-key); the first one if
    /// the key repeats.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Value::AnyMap(m) => m.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the value's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Integer(_) => "integer",
            Value::F32(_) => "single float",
            Value::F64(_) => "double float",
            Value::String(_) => "string",
            Value::Bytes(_) => "binary",
            Value::List(_) => "list",
            Value::Map(_) | Value::AnyMap(_) => "map",
        }
    }
}

/// `value["key"]` reads a map entry and `value[i]` a list item; both give `Null` when absent.
impl std::ops::Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_list().and_then(|l| l.get(i)).unwrap_or(&NULL)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Integer(v.into())
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::F32(v)
    }
}

/// A double exactly representable as a single becomes [`Value::F32`] (see the type's docs).
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        match crate::tag::exact_f32(v) {
            Some(single) => Value::F32(single),
            None => Value::F64(v),
        }
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl FromIterator<Value> for Value {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        Value::List(iter.into_iter().collect())
    }
}

impl FromIterator<(String, Value)> for Value {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Value::Map(iter.into_iter().collect())
    }
}
