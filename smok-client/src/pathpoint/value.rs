//! What a read value must be to be stored for its pathpoint (NGTT.md §7): the check that keeps
//! a reader's mistakes from reaching the server as data.
//!
//! Writes are coerced (`PathpointType::coerce`: clipped, rounded, parsed). Reads are only
//! *normalised*: a value that represents a value of the path's type exactly is stored in that
//! type's form; anything else is a `type` error sample, because silently clipping what the
//! hardware said would upload a wrong measurement.

use ngtt_proto::payload::{PathpointType, PathpointValue, ReadError};

/// The value read for a path of type `t`, in that type's form, or [`ReadError::Type`].
///
/// * `B`, `W`, `w`: an integer in range (0..=1, 0..=65535, -32768..=32767); a float that is a
///   whole number in range; text that parses as such.
/// * `f`: any finite or infinite number, rounded to single precision; `d`: any number;
///   numeric text is parsed. NaN is stored as it is for `f` and `d`.
/// * `u`: text; numbers become their decimal text.
pub fn normalize_read(t: PathpointType, value: PathpointValue) -> Result<PathpointValue, ReadError> {
    let number = |v: &PathpointValue| -> Option<f64> {
        match v {
            PathpointValue::Int(i) => Some(*i as f64),
            PathpointValue::Float(f) => Some(*f),
            PathpointValue::Text(s) => s.trim().parse().ok(),
        }
    };
    let integer = |lo: i64, hi: i64| -> Result<PathpointValue, ReadError> {
        let i = match &value {
            PathpointValue::Int(i) => *i,
            other => {
                let f = number(other).ok_or(ReadError::Type)?;
                if f.fract() != 0.0 || !f.is_finite() || f.abs() > 1e15 {
                    return Err(ReadError::Type);
                }
                f as i64
            }
        };
        if (lo..=hi).contains(&i) {
            Ok(PathpointValue::Int(i))
        } else {
            Err(ReadError::Type)
        }
    };
    match t {
        PathpointType::Binary => integer(0, 1),
        PathpointType::U16 => integer(0, 65_535),
        PathpointType::I16 => integer(-32_768, 32_767),
        PathpointType::F32 => Ok(PathpointValue::Float(f64::from(
            number(&value).ok_or(ReadError::Type)? as f32,
        ))),
        PathpointType::F64 => Ok(PathpointValue::Float(number(&value).ok_or(ReadError::Type)?)),
        PathpointType::Unicode => Ok(PathpointValue::Text(match value {
            PathpointValue::Text(s) => s,
            PathpointValue::Int(i) => i.to_string(),
            PathpointValue::Float(f) => crate::reparse::Value::Float(f).to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn any_value() -> impl Strategy<Value = PathpointValue> {
        prop_oneof![
            any::<i64>().prop_map(PathpointValue::Int),
            (-1e6..1e6f64).prop_map(|f| PathpointValue::Float(f.round())),
            any::<f64>().prop_map(PathpointValue::Float),
            "\\PC{0,12}".prop_map(PathpointValue::Text),
            (-70_000i64..70_000).prop_map(|i| PathpointValue::Text(i.to_string())),
        ]
    }

    fn any_type() -> impl Strategy<Value = PathpointType> {
        prop::sample::select(vec![
            PathpointType::Binary,
            PathpointType::U16,
            PathpointType::I16,
            PathpointType::F32,
            PathpointType::F64,
            PathpointType::Unicode,
        ])
    }

    fn fits(t: PathpointType, v: &PathpointValue) -> bool {
        match (t, v) {
            (PathpointType::Binary, PathpointValue::Int(i)) => (0..=1).contains(i),
            (PathpointType::U16, PathpointValue::Int(i)) => (0..=65_535).contains(i),
            (PathpointType::I16, PathpointValue::Int(i)) => (-32_768..=32_767).contains(i),
            (PathpointType::F32, PathpointValue::Float(f)) => f.is_nan() || f64::from(*f as f32) == *f,
            (PathpointType::F64, PathpointValue::Float(_)) => true,
            (PathpointType::Unicode, PathpointValue::Text(_)) => true,
            _ => false,
        }
    }

    proptest! {
        /// Reads: either a value of the path's type, unchanged when it already was one, or a
        /// `type` error; normalising twice changes nothing.
        #[test]
        fn reads_are_normalised_or_refused(t in any_type(), v in any_value()) {
            match normalize_read(t, v.clone()) {
                Ok(n) => {
                    prop_assert!(fits(t, &n), "{t:?} {v:?} -> {n:?}");
                    if fits(t, &v) && !matches!(&v, PathpointValue::Float(f) if f.is_nan()) {
                        prop_assert_eq!(&n, &v);
                    }
                    let again = normalize_read(t, n.clone()).unwrap();
                    prop_assert!(again == n || matches!(n, PathpointValue::Float(f) if f.is_nan()));
                }
                Err(e) => prop_assert_eq!(e, ReadError::Type),
            }
        }

        /// Writes (`PathpointType::coerce`): every number becomes a value of the type, integers
        /// clipped into range; numeric text parses; idempotent.
        #[test]
        fn writes_are_coerced_into_range(t in any_type(), v in any_value()) {
            match t.coerce(&v) {
                Ok(c) => {
                    prop_assert!(fits(t, &c), "{t:?} {v:?} -> {c:?}");
                    let again = t.coerce(&c).unwrap();
                    prop_assert!(again == c || matches!(c, PathpointValue::Float(f) if f.is_nan()));
                    if let (PathpointValue::Int(i), PathpointType::U16) = (&v, t) {
                        prop_assert_eq!(c, PathpointValue::Int((*i).clamp(0, 65_535)));
                    }
                }
                Err(_) => prop_assert!(
                    t != PathpointType::Unicode
                        && matches!(&v, PathpointValue::Text(_) | PathpointValue::Float(_)),
                    "only text or NaN fails: {t:?} {v:?}"
                ),
            }
        }
    }

    #[test]
    fn examples() {
        assert_eq!(
            normalize_read(PathpointType::U16, PathpointValue::Float(7.0)),
            Ok(PathpointValue::Int(7))
        );
        assert_eq!(
            normalize_read(PathpointType::U16, PathpointValue::Int(70_000)),
            Err(ReadError::Type)
        );
        assert_eq!(
            normalize_read(PathpointType::Binary, PathpointValue::Text("1".into())),
            Ok(PathpointValue::Int(1))
        );
        assert_eq!(
            normalize_read(PathpointType::F32, PathpointValue::Float(1.1)),
            Ok(PathpointValue::Float(1.100000023841858))
        );
        assert_eq!(
            normalize_read(PathpointType::Unicode, PathpointValue::Float(2.0)),
            Ok(PathpointValue::Text("2.0".into()))
        );
        assert_eq!(
            normalize_read(PathpointType::F64, PathpointValue::Text("x".into())),
            Err(ReadError::Type)
        );
    }
}
