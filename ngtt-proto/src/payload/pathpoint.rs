//! DATA_STREAM payloads (NGTT.md §7): pathpoint series of timestamped samples.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::order::WriteValue;

impl<'de> Deserialize<'de> for PathpointValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PathpointValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer, a float or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<PathpointValue, E> {
                Ok(PathpointValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<PathpointValue, E> {
                // Beyond i64 only a float can hold it.
                Ok(i64::try_from(v).map_or(PathpointValue::Float(v as f64), PathpointValue::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<PathpointValue, E> {
                Ok(PathpointValue::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<PathpointValue, E> {
                Ok(PathpointValue::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<PathpointValue, E> {
                Ok(PathpointValue::Text(v))
            }
        }
        d.deserialize_any(V)
    }
}
use crate::error::{ProtoError, Result};

/// A pathpoint's value (and a written value, see [`super::WriteValue`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PathpointValue {
    /// Binary, unsigned and signed 16-bit pathpoints.
    Int(i64),
    /// Single and double pathpoints.
    Float(f64),
    /// Unicode pathpoints.
    Text(String),
}

/// Why a read failed, as the device reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReadError {
    /// `timeout`.
    Timeout,
    /// `malformed`.
    Malformed,
    /// `invalid`.
    Invalid,
    /// `type`.
    Type,
    /// Any other code, kept as sent.
    Other(String),
}

impl ReadError {
    /// The code as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ReadError::Timeout => "timeout",
            ReadError::Malformed => "malformed",
            ReadError::Invalid => "invalid",
            ReadError::Type => "type",
            ReadError::Other(s) => s,
        }
    }
}

impl From<&str> for ReadError {
    fn from(s: &str) -> Self {
        match s {
            "timeout" => ReadError::Timeout,
            "malformed" => ReadError::Malformed,
            "invalid" => ReadError::Invalid,
            "type" => ReadError::Type,
            other => ReadError::Other(other.to_owned()),
        }
    }
}

impl Serialize for ReadError {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ReadError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(ReadError::from(&*s))
    }
}

/// One sample: `[timestamp_ms, value]`, or `[false, timestamp_ms, error_code]` for a failed read.
#[derive(Clone, Debug, PartialEq)]
pub enum Sample {
    /// A successful read.
    Value {
        /// Milliseconds since the epoch.
        ts: u64,
        /// The value read.
        value: PathpointValue,
    },
    /// A failed read.
    Error {
        /// Milliseconds since the epoch.
        ts: u64,
        /// Why it failed.
        error: ReadError,
    },
}

impl Sample {
    /// A successful read of `value` at `ts` (milliseconds since the epoch).
    pub fn value(ts: u64, value: impl Into<PathpointValue>) -> Sample {
        Sample::Value {
            ts,
            value: value.into(),
        }
    }

    /// A failed read at `ts`.
    pub fn error(ts: u64, error: ReadError) -> Sample {
        Sample::Error { ts, error }
    }

    /// The sample's timestamp in milliseconds.
    pub fn ts(&self) -> u64 {
        match *self {
            Sample::Value { ts, .. } | Sample::Error { ts, .. } => ts,
        }
    }
}

impl Serialize for Sample {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Sample::Value { ts, value } => (ts, value).serialize(s),
            Sample::Error { ts, error } => {
                let mut seq = s.serialize_seq(Some(3))?;
                seq.serialize_element(&false)?;
                seq.serialize_element(ts)?;
                seq.serialize_element(error)?;
                seq.end()
            }
        }
    }
}

/// Reads the list form (NGTT.md §7) and the map form of early clients (NGTT.md §8):
/// `{"timestamp": ms, "value": v}` or `{"timestamp": ms, "error_code": code}`. Both give the
/// same [`Sample`]; serialization always writes the list form.
impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(SampleVisitor)
    }
}

/// The first item of a sample: a timestamp, or `false` for a failed read.
enum Head {
    Ts(u64),
    Failed,
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Head;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a timestamp in milliseconds or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Head, E> {
                if v {
                    Err(E::invalid_value(de::Unexpected::Bool(true), &self))
                } else {
                    Ok(Head::Failed)
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Head, E> {
                Ok(Head::Ts(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Head, E> {
                u64::try_from(v)
                    .map(Head::Ts)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A timestamp in milliseconds: a non-negative integer.
struct Timestamp(u64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match Head::deserialize(d)? {
            Head::Ts(ts) => Ok(Timestamp(ts)),
            Head::Failed => Err(de::Error::custom("a sample's timestamp is false")),
        }
    }
}

struct SampleVisitor;

impl<'de> Visitor<'de> for SampleVisitor {
    type Value = Sample;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a sample: [timestamp, value], [false, timestamp, error_code], \
             {\"timestamp\": ms, \"value\": v} or {\"timestamp\": ms, \"error_code\": code}",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Sample, A::Error> {
        let mut ts: Option<u64> = None;
        let mut value: Option<PathpointValue> = None;
        let mut error: Option<ReadError> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "timestamp" if ts.is_none() => ts = Some(map.next_value::<Timestamp>()?.0),
                "value" if value.is_none() => value = Some(map.next_value()?),
                "error_code" if error.is_none() => error = Some(map.next_value()?),
                "timestamp" | "value" | "error_code" => {
                    return Err(de::Error::custom(format_args!("a sample has {key:?} twice")))
                }
                other => {
                    return Err(de::Error::custom(format_args!(
                        "a sample has an unknown key {other:?} (expected timestamp, and value or error_code)"
                    )))
                }
            }
        }
        let ts = ts.ok_or_else(|| de::Error::missing_field("timestamp"))?;
        match (value, error) {
            (Some(value), None) => Ok(Sample::Value { ts, value }),
            (None, Some(error)) => Ok(Sample::Error { ts, error }),
            (Some(_), Some(_)) => Err(de::Error::custom("a sample has both value and error_code")),
            (None, None) => Err(de::Error::custom("a sample has neither value nor error_code")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Sample, A::Error> {
        let missing = |n| de::Error::invalid_length(n, &self);
        let sample = match seq.next_element::<Head>()?.ok_or_else(|| missing(0))? {
            Head::Ts(ts) => Sample::Value {
                ts,
                value: seq.next_element()?.ok_or_else(|| missing(1))?,
            },
            Head::Failed => Sample::Error {
                ts: seq.next_element()?.ok_or_else(|| missing(1))?,
                error: seq.next_element()?.ok_or_else(|| missing(2))?,
            },
        };
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("a sample has too many items"));
        }
        Ok(sample)
    }
}

/// The samples of one pathpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathpointSeries {
    /// The pathpoint's name; its first letter gives its type.
    pub path: String,
    /// The samples, oldest first.
    pub values: Vec<Sample>,
}

impl PathpointSeries {
    /// A series of `path` with `values`.
    pub fn new(path: impl Into<String>, values: impl IntoIterator<Item = Sample>) -> Self {
        PathpointSeries {
            path: path.into(),
            values: values.into_iter().collect(),
        }
    }
}

impl From<i64> for PathpointValue {
    fn from(v: i64) -> Self {
        PathpointValue::Int(v)
    }
}
impl From<f64> for PathpointValue {
    fn from(v: f64) -> Self {
        PathpointValue::Float(v)
    }
}
impl From<&str> for PathpointValue {
    fn from(v: &str) -> Self {
        PathpointValue::Text(v.to_owned())
    }
}

/// A pathpoint's type, from the first letter of its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathpointType {
    /// `B`: 0 or 1.
    Binary,
    /// `W`: unsigned 16-bit.
    U16,
    /// `w`: signed 16-bit.
    I16,
    /// `f`: IEEE single.
    F32,
    /// `d`: IEEE double.
    F64,
    /// `u`: a Unicode string.
    Unicode,
}

impl PathpointType {
    /// The type of `path`, and whether it is a reparse pathpoint (`r` + type letter: computed
    /// on the device, never uploaded).
    pub fn of(path: &str) -> Result<(PathpointType, bool)> {
        let mut letters = path.chars();
        let (letter, reparse) = match letters.next() {
            Some('r') => (letters.next(), true),
            first => (first, false),
        };
        let t = match letter {
            Some('B') => PathpointType::Binary,
            Some('W') => PathpointType::U16,
            Some('w') => PathpointType::I16,
            Some('f') => PathpointType::F32,
            Some('d') => PathpointType::F64,
            Some('u') => PathpointType::Unicode,
            _ => {
                return Err(ProtoError::InvalidPayload(format!(
                    "pathpoint {path:?} has no known type letter"
                )))
            }
        };
        Ok((t, reparse))
    }

    /// Coerces a written value to this type: numbers are clipped to the type's range (W to
    /// 0..=65535, w to -32768..=32767, B to 0..=1) and rounded for integer types; strings are
    /// parsed as numbers for numeric types; anything becomes text for `u`.
    pub fn coerce(self, value: &WriteValue) -> Result<PathpointValue> {
        let number = || -> Result<f64> {
            match value {
                WriteValue::Int(i) => Ok(*i as f64),
                WriteValue::Float(f) if f.is_nan() => Err(ProtoError::InvalidPayload("NaN written".into())),
                WriteValue::Float(f) => Ok(*f),
                WriteValue::Text(t) => t
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| ProtoError::InvalidPayload(format!("{t:?} is not a number"))),
            }
        };
        let clip = |lo: f64, hi: f64| -> Result<PathpointValue> {
            Ok(PathpointValue::Int(number()?.round().clamp(lo, hi) as i64))
        };
        match self {
            PathpointType::Binary => clip(0.0, 1.0),
            PathpointType::U16 => clip(0.0, 65535.0),
            PathpointType::I16 => clip(-32768.0, 32767.0),
            PathpointType::F32 => Ok(PathpointValue::Float(f64::from(number()? as f32))),
            PathpointType::F64 => Ok(PathpointValue::Float(number()?)),
            PathpointType::Unicode => Ok(PathpointValue::Text(match value {
                WriteValue::Int(i) => i.to_string(),
                WriteValue::Float(f) => f.to_string(),
                WriteValue::Text(t) => t.clone(),
            })),
        }
    }
}
