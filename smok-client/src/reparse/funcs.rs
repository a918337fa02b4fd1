//! The functions a reparse expression may call (HTTP-API.md §7.6): the Python client's
//! `d`, `D`, `ked`, `pt1000`, `huba505`, `negz`, `mkflt`, `mkint32`, `kty81`, the built-ins
//! `min`, `max`, `float`, `int`, `str`, `bool` (of its `HEAD`), and `abs` and `round`.

use std::cmp::Ordering;

use super::eval::order;
use super::value::{Num, Value};
use super::ExprError;

/// The names [`call`] knows.
pub const FUNCTIONS: [&str; 17] = [
    "d", "D", "ked", "pt1000", "huba505", "negz", "mkflt", "mkint32", "kty81", "min", "max", "float", "int",
    "str", "bool", "abs", "round",
];

/// Calls function `name` with `args`.
pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, ExprError> {
    let arity = |n: usize| -> Result<(), ExprError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(ExprError::eval(format!(
                "{name}() takes {n} argument(s), got {}",
                args.len()
            )))
        }
    };
    let f = |k: usize| args[k].float(name);
    Ok(match name {
        "D" => {
            arity(2)?;
            Value::Float((f(1)? - f(0)?).abs())
        }
        "d" => {
            arity(2)?;
            Value::Float(rel_error(f(0)?, f(1)?)?)
        }
        "ked" => {
            arity(2)?;
            if f(0)? < 20.0 {
                Value::Int(0)
            } else {
                Value::Float(rel_error(f(0)?, f(1)?)?)
            }
        }
        "huba505" => {
            arity(1)?;
            let p = 4.0 * (f(0)? - 0.5) / 3.0;
            if p > 0.0 {
                Value::Float(p)
            } else {
                Value::Int(0)
            }
        }
        "negz" => {
            arity(1)?;
            if f(0)? < 0.0 {
                Value::Int(0)
            } else {
                args[0].number(name)?.into_value()
            }
        }
        "pt1000" => {
            arity(1)?;
            pt1000(f(0)?)
        }
        "kty81" => {
            arity(1)?;
            kty81(f(0)?)
        }
        "mkflt" => {
            arity(2)?;
            let bytes = words(name, args)?;
            // The Python client packs big-endian words and unpacks them in the host's order;
            // SMOK devices are little-endian, so that is what it computes there.
            Value::Float(f64::from(f32::from_le_bytes(bytes)))
        }
        "mkint32" => {
            arity(2)?;
            Value::Int(i64::from(i32::from_be_bytes(words(name, args)?)))
        }
        "min" | "max" => {
            if args.len() < 2 {
                return Err(ExprError::eval(format!("{name}() needs at least 2 arguments")));
            }
            let want = if name == "min" {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            let mut best = &args[0];
            for candidate in &args[1..] {
                if order(candidate, best)? == Some(want) {
                    best = candidate;
                }
            }
            best.clone()
        }
        "float" => {
            arity(1)?;
            Value::Float(match &args[0] {
                Value::Str(s) => parse_float(s)?,
                other => other.float(name)?,
            })
        }
        "int" => {
            arity(1)?;
            Value::Int(match &args[0] {
                Value::Str(s) => s
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| ExprError::eval(format!("int() cannot read {s:?}")))?,
                other => match other.number(name)? {
                    Num::Int(i) => i,
                    Num::Float(x) => float_to_int(x.trunc())?,
                },
            })
        }
        "str" => {
            arity(1)?;
            Value::Str(args[0].to_string())
        }
        "bool" => {
            arity(1)?;
            Value::Bool(args[0].truthy())
        }
        "abs" => {
            arity(1)?;
            match args[0].number(name)? {
                Num::Int(i) => Value::Int(
                    i.checked_abs()
                        .ok_or_else(|| ExprError::eval("integer overflow"))?,
                ),
                Num::Float(x) => Value::Float(x.abs()),
            }
        }
        "round" => match args.len() {
            1 => match args[0].number(name)? {
                Num::Int(i) => Value::Int(i),
                Num::Float(x) => Value::Int(float_to_int(x.round_ties_even())?),
            },
            2 => {
                let digits = match args[1].number(name)? {
                    Num::Int(n) => n.clamp(-308, 308) as i32,
                    Num::Float(_) => return Err(ExprError::eval("round() needs a whole number of digits")),
                };
                Value::Float(round_to(f(0)?, digits))
            }
            n => {
                return Err(ExprError::eval(format!(
                    "round() takes 1 or 2 arguments, got {n}"
                )))
            }
        },
        _ => {
            return Err(ExprError::eval(format!(
                "unknown function {name}() (known: {})",
                FUNCTIONS.join(", ")
            )))
        }
    })
}

/// `x` rounded to `digits` decimal places, halves to even (Python's `round(x, n)`).
pub(crate) fn round_to(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits);
    let scaled = x * scale;
    if !scaled.is_finite() {
        return x;
    }
    scaled.round_ties_even() / scale
}

fn float_to_int(x: f64) -> Result<i64, ExprError> {
    if x.is_finite() && x >= i64::MIN as f64 && x < i64::MAX as f64 {
        Ok(x as i64)
    } else {
        Err(ExprError::eval(format!("{x} cannot be an integer")))
    }
}

fn parse_float(s: &str) -> Result<f64, ExprError> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" => Ok(f64::INFINITY),
        "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
        "nan" => Ok(f64::NAN),
        _ => t
            .parse()
            .map_err(|_| ExprError::eval(format!("float() cannot read {s:?}"))),
    }
}

fn rel_error(real: f64, reference: f64) -> Result<f64, ExprError> {
    if real == 0.0 {
        return Err(ExprError::eval("relative error against 0"));
    }
    Ok(((reference - real) / real).abs())
}

/// Two 16-bit words as four big-endian bytes, high word first.
fn words(name: &str, args: &[Value]) -> Result<[u8; 4], ExprError> {
    let word = |v: &Value| -> Result<u16, ExprError> {
        match v.number(name)? {
            Num::Int(i) => {
                u16::try_from(i).map_err(|_| ExprError::eval(format!("{name}(): {i} is not 0..=65535")))
            }
            Num::Float(x) => Err(ExprError::eval(format!("{name}(): {x} is not a 16-bit word"))),
        }
    };
    let (hi, lo) = (word(&args[0])?.to_be_bytes(), word(&args[1])?.to_be_bytes());
    Ok([hi[0], hi[1], lo[0], lo[1]])
}

/// KTY81 resistance (Ω) to temperature (°C), interpolated between the table's points.
const KTY81: [(f64, f64); 16] = [
    (-40.0, 1136.0),
    (-20.0, 1250.0),
    (-10.0, 1372.0),
    (0.0, 1500.0),
    (10.0, 1634.0),
    (20.0, 1774.0),
    (25.0, 1922.0),
    (30.0, 2000.0),
    (40.0, 2078.0),
    (50.0, 2240.0),
    (60.0, 2410.0),
    (70.0, 2590.0),
    (80.0, 2780.0),
    (90.0, 2978.0),
    (100.0, 3182.0),
    (110.0, 3392.0),
];

/// As the Python client's `kty81`, except that a resistance exactly at a table point gives that
/// point's temperature (the Python one returns `None` there).
fn kty81(r: f64) -> Value {
    if r <= 1136.0 {
        return Value::Int(-40);
    }
    if r >= 3276.0 {
        return Value::Float(94.4);
    }
    for pair in KTY81.windows(2) {
        let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
        if r0 < r && r <= r1 {
            return Value::Float((t1 - t0) * (r - r0) / (r1 - r0) + t0);
        }
    }
    Value::Float(94.4)
}

/// PT100 resistances (Ω) from -50 °C in 5 °C steps to 110 °C, then 150, 200 and 250 °C.
const PT100: [f64; 36] = [
    80.31, 82.29, 84.27, 86.25, 88.22, 90.19, 92.16, 94.12, 96.09, 98.04, 100.0, 101.95, 103.9, 105.85,
    107.79, 109.73, 111.67, 113.61, 115.54, 117.47, 119.4, 121.32, 123.24, 125.16, 127.07, 128.98, 130.89,
    132.8, 134.7, 136.6, 138.5, 140.39, 142.29, 157.31, 175.84, 195.84,
];

/// PT1000 resistance (Ω) to temperature (°C), as the Python client computes it.
fn pt1000(r: f64) -> Value {
    let r = r / 10.0;
    let mut t = -50i64;
    if r > PT100[0] {
        let mut i = 0;
        while t < 250 {
            let dt = if t < 110 {
                5
            } else if t > 110 {
                50
            } else {
                40
            };
            i += 1;
            if i >= PT100.len() {
                break;
            }
            if r < PT100[i] {
                return Value::Float(t as f64 + (r - PT100[i - 1]) * dt as f64 / (PT100[i] - PT100[i - 1]));
            }
            t += dt;
        }
    }
    Value::Int(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: Value) -> f64 {
        v.float("test").unwrap()
    }

    #[test]
    fn sensor_conversions_match_the_python_client() {
        // Values computed with smok 0.21.0's reparse_funs.
        assert!((num(pt1000(1000.0)) - 0.0).abs() < 1e-9);
        assert!((num(pt1000(1100.0)) - 25.695_876_288_659_786).abs() < 1e-9);
        assert_eq!(pt1000(500.0), Value::Int(-50));
        assert!(
            (num(kty81(2000.0)) - 30.0).abs() < 1e-9,
            "a table point (None in Python)"
        );
        assert!((num(kty81(1700.0)) - 14.714_285_714_285_715).abs() < 1e-9);
        assert_eq!(kty81(1000.0), Value::Int(-40));
        assert!((num(call("huba505", &[Value::Float(2.0)]).unwrap()) - 2.0).abs() < 1e-12);
        assert_eq!(call("huba505", &[Value::Float(0.1)]).unwrap(), Value::Int(0));
        assert_eq!(
            call("mkint32", &[Value::Int(0xFFFF), Value::Int(0xFFFE)]).unwrap(),
            Value::Int(-2)
        );
        assert_eq!(
            call("mkint32", &[Value::Int(1), Value::Int(0)]).unwrap(),
            Value::Int(65536)
        );
        // struct.unpack('f', struct.pack('>HH', 0, 0x803f)) on a little-endian host is 1.0.
        assert_eq!(
            call("mkflt", &[Value::Int(0), Value::Int(0x803f)]).unwrap(),
            Value::Float(1.0)
        );
        assert!(call("mkflt", &[Value::Int(70000), Value::Int(0)]).is_err());
        assert_eq!(
            call("ked", &[Value::Int(10), Value::Int(50)]).unwrap(),
            Value::Int(0)
        );
        assert_eq!(
            call("d", &[Value::Int(50), Value::Int(40)]).unwrap(),
            Value::Float(0.2)
        );
        assert!(call("d", &[Value::Int(0), Value::Int(1)]).is_err());
        assert_eq!(
            call("D", &[Value::Int(50), Value::Int(40)]).unwrap(),
            Value::Float(10.0)
        );
    }

    #[test]
    fn builtins() {
        assert_eq!(
            call("min", &[Value::Int(3), Value::Float(2.5)]).unwrap(),
            Value::Float(2.5)
        );
        assert_eq!(
            call("max", &[Value::Int(3), Value::Bool(true)]).unwrap(),
            Value::Int(3)
        );
        assert!(call("min", &[Value::Int(3)]).is_err());
        assert_eq!(call("int", &[Value::Float(-2.7)]).unwrap(), Value::Int(-2));
        assert!(call("int", &[Value::Float(f64::NAN)]).is_err());
        assert_eq!(
            call("float", &[Value::Str(" 2.5 ".into())]).unwrap(),
            Value::Float(2.5)
        );
        assert_eq!(
            call("str", &[Value::Float(2.0)]).unwrap(),
            Value::Str("2.0".into())
        );
        assert_eq!(call("round", &[Value::Float(2.5)]).unwrap(), Value::Int(2));
        assert_eq!(
            call("round", &[Value::Float(1.2345), Value::Int(2)]).unwrap(),
            Value::Float(1.23)
        );
        assert!(call("exec", &[]).is_err());
        assert!(call("abs", &[Value::Int(i64::MIN)]).is_err());
    }
}
