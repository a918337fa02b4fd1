//! The sensor resources of the device HTTP API (HTTP-API.md §7.6, §7.7): sensor definitions as
//! the server sends them, and the records of the sensor write log.

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

/// One entry of `GET /v1/device/sensors`: `{fqts, path, type}`, as sent. The device
/// canonicalises `fqts`, splits `path` at `~` and parses `type`; nothing here is evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorDefinition {
    /// The tag set: words separated by spaces.
    pub fqts: String,
    /// One or more pathpoint names joined by `~`.
    pub path: String,
    /// The sensor type's name, e.g. `std.Number10` or `x(precision=1, multiplier=0.5)`.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// One record of `PUT /v1/device/sensor/write_log` (§7.7).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SensorWriteRecord {
    /// When the write happened, milliseconds since the epoch.
    pub timestamp: u64,
    /// Who made the change.
    pub who: String,
    /// A human-readable name of the sensor (default: the fqts).
    pub hr_sensor: String,
    /// A human-readable value (default: `value`).
    pub hr_value: String,
    /// The sensor's canonical tag set.
    pub fqts: String,
    /// The written value, as text.
    pub value: String,
    /// Why it was written.
    pub reason: String,
}

/// An element of a list answer that is decoded one element at a time, so that one malformed
/// entry does not take the whole list down with it.
#[derive(Clone, Debug, PartialEq)]
pub enum Lenient<T> {
    /// The entry decoded.
    Valid(T),
    /// The entry did not decode: what it was, and why.
    Invalid {
        /// The entry as sent.
        raw: serde_json::Value,
        /// Why it could not be decoded.
        reason: String,
    },
}

impl<T> Lenient<T> {
    /// The decoded entry, or `Err((raw, reason))`.
    pub fn into_result(self) -> Result<T, (serde_json::Value, String)> {
        match self {
            Lenient::Valid(t) => Ok(t),
            Lenient::Invalid { raw, reason } => Err((raw, reason)),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = serde_json::Value::deserialize(d)?;
        Ok(match T::deserialize(&raw) {
            Ok(t) => Lenient::Valid(t),
            Err(e) => Lenient::Invalid {
                raw,
                reason: e.to_string(),
            },
        })
    }
}

/// A list answer that may also be empty, `null` or absent: decoded as an empty list (HTTP-API.md
/// §2.3: an empty 2xx body means "nothing").
pub(crate) fn list_or_empty<T: DeserializeOwned>(value: Option<serde_json::Value>) -> Result<Vec<T>, String> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|item| T::deserialize(item).map_err(|e| e.to_string()))
            .collect(),
        Some(other) => Err(format!("expected a list, got {}", kind(&other))),
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_lists_keep_the_good_entries() {
        let answer = serde_json::json!([
            {"fqts": "b a", "path": "W1", "type": "std.Number10"},
            {"fqts": 5, "path": "W2"},
            "nonsense",
        ]);
        let got: Vec<Lenient<SensorDefinition>> = list_or_empty(Some(answer)).unwrap();
        assert_eq!(got.len(), 3);
        assert!(matches!(&got[0], Lenient::Valid(s) if s.type_name == "std.Number10"));
        assert!(matches!(&got[1], Lenient::Invalid { .. }));
        assert!(matches!(&got[2], Lenient::Invalid { .. }));
        assert!(list_or_empty::<Lenient<SensorDefinition>>(None)
            .unwrap()
            .is_empty());
        assert!(list_or_empty::<Lenient<SensorDefinition>>(Some(serde_json::json!({}))).is_err());
    }

    #[test]
    fn write_records_round_trip() {
        let r = SensorWriteRecord {
            timestamp: 1,
            who: "user".into(),
            hr_sensor: "temp".into(),
            hr_value: "21.5 °C".into(),
            fqts: "a b".into(),
            value: "21.5".into(),
            reason: "comfort".into(),
        };
        let back: SensorWriteRecord = minijson::from_slice(&minijson::to_vec(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
