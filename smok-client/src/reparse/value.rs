//! [`Value`]: what reparse expressions compute with, and its conversions.

use std::fmt;

use ngtt_proto::payload::PathpointValue;

use super::ExprError;

/// Longest string an expression may build, in bytes.
pub const MAX_STRING_LEN: usize = 64 * 1024;

/// A value inside a reparse expression (Python's int, float, str and bool).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A boolean (an integer 0 or 1 in arithmetic, as in Python).
    Bool(bool),
}

impl Value {
    /// The number in it, for arithmetic: ints and bools as integers, floats as they are.
    pub(crate) fn number(&self, what: &str) -> Result<Num, ExprError> {
        match self {
            Value::Int(v) => Ok(Num::Int(*v)),
            Value::Bool(b) => Ok(Num::Int(i64::from(*b))),
            Value::Float(f) => Ok(Num::Float(*f)),
            Value::Str(s) => Err(ExprError::eval(format!(
                "{what} needs a number, got the string {s:?}"
            ))),
        }
    }

    /// The number as a float.
    pub(crate) fn float(&self, what: &str) -> Result<f64, ExprError> {
        Ok(self.number(what)?.as_f64())
    }

    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Int(v) => *v != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bool(b) => *b,
        }
    }

    /// The name of its type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bool(_) => "bool",
        }
    }

    /// As a pathpoint value (bools as 0 or 1).
    pub fn into_pathpoint_value(self) -> PathpointValue {
        match self {
            Value::Int(v) => PathpointValue::Int(v),
            Value::Bool(b) => PathpointValue::Int(i64::from(b)),
            Value::Float(f) => PathpointValue::Float(f),
            Value::Str(s) => PathpointValue::Text(s),
        }
    }
}

impl From<PathpointValue> for Value {
    fn from(v: PathpointValue) -> Self {
        match v {
            PathpointValue::Int(v) => Value::Int(v),
            PathpointValue::Float(f) => Value::Float(f),
            PathpointValue::Text(s) => Value::Str(s),
        }
    }
}

impl From<&PathpointValue> for Value {
    fn from(v: &PathpointValue) -> Self {
        Value::from(v.clone())
    }
}

impl fmt::Display for Value {
    /// As Python's `str()` shows it: `1.0` for a whole float, `True`/`False` for bools.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => f.write_str(&python_float(*v)),
            Value::Str(s) => f.write_str(s),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
        }
    }
}

/// A float as Python's `repr` writes it (`1.0`, `0.1`, `inf`, `nan`, `1e+16`).
pub(crate) fn python_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e16 {
        format!("{v:.1}")
    } else if v.abs() >= 1e16 || (v != 0.0 && v.abs() < 1e-4) {
        let s = format!("{v:e}");
        // Rust writes 1e16 and 1.5e-5; Python 1e+16 and 1.5e-05.
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    } else {
        format!("{v}")
    }
}

/// A number taken out of a [`Value`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(v) => v as f64,
            Num::Float(f) => f,
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            Num::Int(v) => Value::Int(v),
            Num::Float(f) => Value::Float(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_does() {
        for (v, s) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (f64::INFINITY, "inf"),
            (123456.789, "123456.789"),
        ] {
            assert_eq!(python_float(v), s);
        }
        assert_eq!(Value::Bool(true).to_string(), "True");
    }
}
