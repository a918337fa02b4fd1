//! Sensors (`GET /v1/device/sensors`, HTTP-API.md §7.6) and the sensor write log
//! (`PUT /v1/device/sensor/write_log`, §7.7): records and checks.
//!
//! A sensor type of the form `name(args)` is handed by the published client to Python's
//! `eval`, so whoever configures sensors could run code on every device. This server therefore
//! accepts only arguments the client is documented to understand: comma-separated
//! `precision=`, `multiplier=` and `offset=` keyword arguments with numeric literals.

use serde_json::{json, Value};

use super::device_info::{text, MAX_TEXT};

/// The type letters a pathpoint name may start with (NGTT.md §7), plus `r` for reparse.
const TYPE_LETTERS: &[char] = &['B', 'W', 'w', 'f', 'd', 'u', 'r'];

/// A sensor: a user-facing view over one or more pathpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sensor {
    /// The canonical tag set: distinct words, sorted, joined by single spaces.
    pub fqts: String,
    /// One or more pathpoint names joined by `~`.
    pub path: String,
    /// The sensor type name (`std.Number10`, `std.Unicode`, `name(precision=1)`, …).
    pub sensor_type: String,
}

impl Sensor {
    /// The form served to devices and the admin API: `{"fqts", "path", "type"}`.
    pub fn to_json(&self) -> Value {
        json!({"fqts": self.fqts, "path": self.path, "type": self.sensor_type})
    }

    /// Reads `{"fqts", "path", "type"}`; `fqts` is canonicalised, everything is checked.
    pub fn from_json(value: &Value) -> Result<Sensor, String> {
        let map = value
            .as_object()
            .ok_or("a sensor must be an object {\"fqts\", \"path\", \"type\"}")?;
        if let Some(k) = map
            .keys()
            .find(|k| !["fqts", "path", "type"].contains(&k.as_str()))
        {
            return Err(format!("unknown sensor field {k:?}"));
        }
        let field = |k: &str| map.get(k).ok_or_else(|| format!("the sensor has no {k}"));
        let fqts = canonical_fqts(&text(field("fqts")?, "fqts", false)?)?;
        let path = text(field("path")?, "path", false)?;
        check_sensor_path(&path)?;
        let sensor_type = text(field("type")?, "type", false)?;
        check_sensor_type(&sensor_type)?;
        Ok(Sensor {
            fqts,
            path,
            sensor_type,
        })
    }
}

/// The canonical form of a tag set: words sorted, joined by one space; a repeated word or an
/// empty set is refused.
pub fn canonical_fqts(fqts: &str) -> Result<String, String> {
    let mut words: Vec<&str> = fqts.split_whitespace().collect();
    if words.is_empty() {
        return Err("fqts must hold at least one tag".into());
    }
    words.sort_unstable();
    if let Some(w) = words.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("fqts repeats the tag {:?}", w[0]));
    }
    if words.iter().any(|w| w.chars().any(char::is_control)) {
        return Err("fqts must not contain control characters".into());
    }
    Ok(words.join(" "))
}

fn check_sensor_path(path: &str) -> Result<(), String> {
    for part in path.split('~') {
        let first = part
            .chars()
            .next()
            .ok_or_else(|| format!("path {path:?} has an empty pathpoint name"))?;
        if !TYPE_LETTERS.contains(&first) {
            return Err(format!(
                "pathpoint {part:?} of path {path:?} must start with a type letter (B, W, w, f, d, u or r)"
            ));
        }
        if part.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "pathpoint {part:?} contains whitespace or control characters"
            ));
        }
    }
    Ok(())
}

fn check_sensor_type(t: &str) -> Result<(), String> {
    if t.chars().any(|c| c.is_control()) {
        return Err("type must not contain control characters".into());
    }
    let Some(open) = t.find('(') else {
        return Ok(());
    };
    let close = t
        .rfind(')')
        .filter(|&c| c > open)
        .ok_or_else(|| format!("type {t:?} opens an argument list it does not close"))?;
    if !t[close + 1..].trim().is_empty() {
        return Err(format!("type {t:?} has text after its argument list"));
    }
    let mut seen: Vec<&str> = Vec::new();
    for arg in t[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("type argument {arg:?} is not key=number"))?;
        let key = key.trim();
        if !["precision", "multiplier", "offset"].contains(&key) {
            return Err(format!(
                "type argument {key:?} is not one of precision, multiplier, offset"
            ));
        }
        if seen.contains(&key) {
            // A repeated keyword is a SyntaxError in the client's eval: its thread would end.
            return Err(format!("type argument {key} is given twice"));
        }
        seen.push(key);
        let number = value.trim();
        if !is_python_number(number) {
            return Err(format!("type argument {key}={number:?} is not a numeric literal"));
        }
    }
    Ok(())
}

/// A decimal number that Rust and Python read alike: optional sign, digits, optional fraction
/// and exponent; an integer with a leading zero (`07`, a SyntaxError in Python 3) is refused.
fn is_python_number(number: &str) -> bool {
    let unsigned = number.strip_prefix(['+', '-']).unwrap_or(number);
    let all_digits = !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit());
    let leading_zero =
        all_digits && unsigned.len() > 1 && unsigned.starts_with('0') && unsigned.bytes().any(|b| b != b'0');
    !leading_zero
        && unsigned
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
        && number.parse::<f64>().is_ok_and(f64::is_finite)
}

/// A JSON scalar stored as its text (a sensor write's value); text that is not JSON comes
/// back as a string.
pub(crate) fn stored_scalar(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// One record of the sensor write log.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorWrite {
    /// When it was written, ms since the epoch.
    pub timestamp_ms: i64,
    /// Who made the change.
    pub who: String,
    /// Human-readable sensor name.
    pub hr_sensor: String,
    /// Human-readable value, as sent (a string per the spec; other scalars kept).
    pub hr_value: Value,
    /// The sensor's tag set, as sent.
    pub fqts: String,
    /// The written value, as sent (a string per the spec; other scalars kept).
    pub value: Value,
    /// Why it was written.
    pub reason: String,
    /// When the server stored it, ms since the epoch (set by the storage).
    pub received_at_ms: i64,
}

impl SensorWrite {
    /// Reads one record as the client sends it (§7.7).
    pub fn from_json(value: &Value) -> Result<SensorWrite, String> {
        let map = value.as_object().ok_or("a write record must be an object")?;
        let field = |k: &str| map.get(k).ok_or_else(|| format!("no {k}"));
        let ts = field("timestamp")?;
        let timestamp_ms = ts
            .as_i64()
            .or_else(|| {
                ts.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .filter(|&t| t >= 0)
            .ok_or("timestamp must be a non-negative integer (milliseconds)")?;
        let scalar = |k: &str| -> Result<Value, String> {
            let v = field(k)?;
            match v {
                Value::String(s) if s.len() > MAX_TEXT => Err(format!("{k} is longer than {MAX_TEXT} bytes")),
                Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(v.clone()),
                _ => Err(format!("{k} must be a string")),
            }
        };
        Ok(SensorWrite {
            timestamp_ms,
            who: text(field("who")?, "who", true)?,
            hr_sensor: text(field("hr_sensor")?, "hr_sensor", true)?,
            hr_value: scalar("hr_value")?,
            fqts: text(field("fqts")?, "fqts", false)?,
            value: scalar("value")?,
            reason: text(field("reason")?, "reason", true)?,
            received_at_ms: 0,
        })
    }

    /// The admin API's form of a record.
    pub fn to_json(&self) -> Value {
        json!({
            "timestamp": self.timestamp_ms, "who": self.who, "hr_sensor": self.hr_sensor,
            "hr_value": self.hr_value, "fqts": self.fqts, "value": self.value,
            "reason": self.reason, "received_at": self.received_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqts_is_canonical() {
        assert_eq!(canonical_fqts("zeta  alpha").unwrap(), "alpha zeta");
        assert!(canonical_fqts("  ").is_err());
        assert!(canonical_fqts("a a").is_err());
    }

    #[test]
    fn sensor_checks() {
        let ok = Sensor::from_json(&json!({"fqts": "temp boiler", "path": "W1~W2", "type": "std.Number10"}))
            .unwrap();
        assert_eq!(ok.fqts, "boiler temp");
        Sensor::from_json(
            &json!({"fqts": "a", "path": "W1", "type": "x(precision=1, multiplier=0.5, offset=-3)"}),
        )
        .expect("numeric keyword arguments");
        for (bad, needle) in [
            (json!({"fqts": "a", "path": "W1"}), "type"),
            (json!({"fqts": "a", "path": "X1", "type": "t"}), "type letter"),
            (json!({"fqts": "a", "path": "W1~", "type": "t"}), "empty"),
            (
                json!({"fqts": "a", "path": "W1", "type": "x(__import__('os'))"}),
                "key=number",
            ),
            (
                json!({"fqts": "a", "path": "W1", "type": "x(precision=len([]))"}),
                "numeric",
            ),
            (
                json!({"fqts": "a", "path": "W1", "type": "x(evil=1)"}),
                "precision",
            ),
            (
                json!({"fqts": "a", "path": "W1", "type": "x(precision=1, precision=2)"}),
                "twice",
            ),
            (
                json!({"fqts": "a", "path": "W1", "type": "x(offset=07)"}),
                "numeric",
            ),
            (
                json!({"fqts": "a", "path": "W1", "type": "x(offset=--1)"}),
                "numeric",
            ),
            (
                json!({"fqts": "a", "path": "W1", "type": "x(precision=1"}),
                "close",
            ),
            (json!({"fqts": "a", "path": "W1", "type": "t", "x": 1}), "unknown"),
        ] {
            let err = Sensor::from_json(&bad).expect_err(&bad.to_string());
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn write_records() {
        let w = SensorWrite::from_json(
            &json!({"timestamp": 1_700_000_000_000_i64, "who": "op", "hr_sensor": "T",
            "hr_value": 21, "fqts": "temp", "value": "21", "reason": ""}),
        )
        .unwrap();
        assert_eq!(w.hr_value, json!(21));
        assert!(SensorWrite::from_json(
            &json!({"timestamp": -1, "who": "", "hr_sensor": "", "hr_value": "",
            "fqts": "t", "value": "", "reason": ""})
        )
        .is_err());
        assert!(SensorWrite::from_json(&json!({"timestamp": 1})).is_err());
    }
}
