//! [`SensorType`]: how a sensor's value is made from its pathpoints' values and back
//! (HTTP-API.md §7.6). A type name is parsed, never evaluated.

use std::fmt;

use ngtt_proto::payload::{PathpointType, PathpointValue};

use crate::reparse::round_to;

/// A sensor's value.
#[derive(Clone, Debug, PartialEq)]
pub enum SensorValue {
    /// A numeric sensor's value: `round(first × multiplier + offset, precision)`.
    Number(f64),
    /// A `std.Unicode` sensor's value.
    Text(String),
}

impl fmt::Display for SensorValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SensorValue::Number(v) => f.write_str(&crate::reparse::Value::Float(*v).to_string()),
            SensorValue::Text(s) => f.write_str(s),
        }
    }
}

impl From<f64> for SensorValue {
    fn from(v: f64) -> Self {
        SensorValue::Number(v)
    }
}

impl From<&str> for SensorValue {
    fn from(v: &str) -> Self {
        SensorValue::Text(v.to_owned())
    }
}

/// How a sensor converts values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SensorType {
    /// Numeric: value = round(first pathpoint × `multiplier` + `offset`, `precision`).
    Numeric {
        /// Decimal places kept (may be negative, as Python's `round`).
        precision: i32,
        /// Factor applied to the pathpoint's value.
        multiplier: f64,
        /// Added after the multiplier.
        offset: f64,
    },
    /// `std.Unicode`: the first pathpoint's value as text.
    Unicode,
}

/// The defaults of a numeric type: precision 2, multiplier 1, offset 0.
pub const DEFAULT_NUMERIC: SensorType = SensorType::Numeric {
    precision: 2,
    multiplier: 1.0,
    offset: 0.0,
};

impl SensorType {
    /// The type a type name stands for: `std.Number10` (multiplier 0.1), `std.Number100`
    /// (0.01), `frisko.DayOfWeek` (offset −1), `std.Unicode`; a name with `(` takes numeric
    /// arguments `precision`, `multiplier`, `offset` — by keyword or in that order — from the text
    /// between the first `(` and the last `)`; any other name is numeric with the defaults.
    /// Arguments that are not plain numbers are an error (the sensor is then skipped).
    pub fn parse(name: &str) -> Result<SensorType, String> {
        let numeric = |multiplier, offset| SensorType::Numeric {
            precision: 2,
            multiplier,
            offset,
        };
        Ok(match name {
            "std.Number10" => numeric(0.1, 0.0),
            "std.Number100" => numeric(0.01, 0.0),
            "frisko.DayOfWeek" => numeric(1.0, -1.0),
            "std.Unicode" => SensorType::Unicode,
            _ => match name.split_once('(') {
                None => DEFAULT_NUMERIC,
                Some((_, rest)) => {
                    let args = rest.rsplit_once(')').map_or(rest, |(args, _)| args);
                    parse_arguments(args).map_err(|e| format!("sensor type {name:?}: {e}"))?
                }
            },
        })
    }

    /// The sensor's value from its pathpoints' values (the built-in types use the first).
    pub fn to_sensor(&self, values: &[PathpointValue]) -> Result<SensorValue, String> {
        let first = values.first().ok_or("a sensor without pathpoints")?;
        match self {
            SensorType::Unicode => Ok(SensorValue::Text(match first {
                PathpointValue::Int(v) => v.to_string(),
                PathpointValue::Float(v) => crate::reparse::Value::Float(*v).to_string(),
                PathpointValue::Text(s) => s.clone(),
            })),
            SensorType::Numeric {
                precision,
                multiplier,
                offset,
            } => {
                let v = match first {
                    PathpointValue::Int(v) => *v as f64,
                    PathpointValue::Float(v) => *v,
                    PathpointValue::Text(s) => return Err(format!("a numeric sensor read the text {s:?}")),
                };
                Ok(SensorValue::Number(round_to(v * multiplier + offset, *precision)))
            }
        }
    }

    /// What to write to the first pathpoint (`first_path`, whose type the value is coerced to)
    /// for the sensor to show `value`: `(value − offset) / multiplier`.
    pub fn to_pathpoint(&self, value: &SensorValue, first_path: &str) -> Result<PathpointValue, String> {
        let (path_type, _) = PathpointType::of(first_path).map_err(|e| e.to_string())?;
        let raw = match (self, value) {
            (SensorType::Unicode, v) => PathpointValue::Text(v.to_string()),
            (
                SensorType::Numeric {
                    multiplier, offset, ..
                },
                SensorValue::Number(v),
            ) => {
                if *multiplier == 0.0 {
                    return Err("the sensor's multiplier is 0: it cannot be written".into());
                }
                PathpointValue::Float((v - offset) / multiplier)
            }
            (SensorType::Numeric { .. }, SensorValue::Text(t)) => {
                return Err(format!("a numeric sensor cannot be written the text {t:?}"))
            }
        };
        path_type.coerce(&raw).map_err(|e| e.to_string())
    }
}

fn parse_arguments(args: &str) -> Result<SensorType, String> {
    let (mut precision, mut multiplier, mut offset) = (2.0, 1.0, 0.0);
    let names = ["precision", "multiplier", "offset"];
    let mut positional = 0;
    let mut seen_keyword = false;
    for item in args.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let (name, text) = match item.split_once('=') {
            Some((k, v)) => {
                seen_keyword = true;
                (k.trim(), v.trim())
            }
            None => {
                if seen_keyword {
                    return Err("a positional argument after a keyword argument".into());
                }
                let name = *names.get(positional).ok_or("more than 3 positional arguments")?;
                positional += 1;
                (name, item)
            }
        };
        if !names.contains(&name) {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("{name:?} is not an argument name"));
            }
            // The Python type accepts and ignores other keywords; so does this one, whatever
            // their value says.
            continue;
        }
        let number: f64 = text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("{name}={text:?} is not a number"))?;
        match name {
            "precision" => precision = number,
            "multiplier" => multiplier = number,
            _ => offset = number,
        }
    }
    if precision.fract() != 0.0 || !(-308.0..=308.0).contains(&precision) {
        return Err(format!("precision {precision} is not a whole number of digits"));
    }
    Ok(SensorType::Numeric {
        precision: precision as i32,
        multiplier,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_types() {
        let n10 = SensorType::parse("std.Number10").unwrap();
        assert_eq!(
            n10.to_sensor(&[PathpointValue::Int(215)]).unwrap(),
            SensorValue::Number(21.5)
        );
        assert_eq!(
            n10.to_pathpoint(&SensorValue::Number(21.5), "W1").unwrap(),
            PathpointValue::Int(215)
        );
        let dow = SensorType::parse("frisko.DayOfWeek").unwrap();
        assert_eq!(
            dow.to_sensor(&[PathpointValue::Int(1)]).unwrap(),
            SensorValue::Number(0.0)
        );
        let u = SensorType::parse("std.Unicode").unwrap();
        assert_eq!(
            u.to_sensor(&[PathpointValue::Int(3)]).unwrap(),
            SensorValue::Text("3".into())
        );
        assert_eq!(SensorType::parse("whatever.Else").unwrap(), DEFAULT_NUMERIC);
        let d = DEFAULT_NUMERIC
            .to_sensor(&[PathpointValue::Float(1.23456)])
            .unwrap();
        assert_eq!(d, SensorValue::Number(1.23));
    }

    #[test]
    fn arguments_are_parsed_not_evaluated() {
        let t = SensorType::parse("std.Custom(precision=1, multiplier=0.5, offset=-3)").unwrap();
        assert_eq!(
            t,
            SensorType::Numeric {
                precision: 1,
                multiplier: 0.5,
                offset: -3.0
            }
        );
        let t = SensorType::parse("x(0, 2)").unwrap();
        assert_eq!(
            t,
            SensorType::Numeric {
                precision: 0,
                multiplier: 2.0,
                offset: 0.0
            }
        );
        assert_eq!(
            t.to_pathpoint(&SensorValue::Number(7.0), "d1").unwrap(),
            PathpointValue::Float(3.5)
        );
        assert!(
            SensorType::parse("x(unit='C')").is_ok(),
            "unknown keywords are ignored"
        );
        for bad in [
            "x(__import__('os').system('rm -rf /'))",
            "x(precision=1.5)",
            "x(multiplier=1/10)",
            "x(precision=1, 2)",
            "x(1, 2, 3, 4)",
            "x(multiplier=nan)",
        ] {
            assert!(SensorType::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn writes_fail_cleanly() {
        let zero = SensorType::parse("x(multiplier=0)").unwrap();
        assert!(zero.to_pathpoint(&SensorValue::Number(1.0), "W1").is_err());
        assert!(DEFAULT_NUMERIC
            .to_pathpoint(&SensorValue::Text("x".into()), "W1")
            .is_err());
        assert!(DEFAULT_NUMERIC
            .to_pathpoint(&SensorValue::Number(1.0), "Q1")
            .is_err());
        assert!(DEFAULT_NUMERIC
            .to_sensor(&[PathpointValue::Text("x".into())])
            .is_err());
    }
}
