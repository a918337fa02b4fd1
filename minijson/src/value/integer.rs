//! [`Integer`]: a MiniJSON integer, anything from `i64::MIN` to `u64::MAX`.

use std::fmt;

/// An integer that fits `i64` or `u64`, the range MiniJSON values take in this crate.
///
/// ```
/// use minijson::Integer;
/// let big = Integer::from(u64::MAX);
/// assert_eq!(u64::try_from(big), Ok(u64::MAX));
/// assert!(i64::try_from(big).is_err());
/// assert_eq!(Integer::try_from(-1i128).map(i64::try_from), Ok(Ok(-1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Integer(i128);

/// The error of converting an out-of-range number into or out of [`Integer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("integer out of range")]
pub struct OutOfRange;

impl Integer {
    /// The value widened to `i128`.
    pub fn as_i128(self) -> i128 {
        self.0
    }

    /// The value as the nearest `f64`.
    pub fn as_f64(self) -> f64 {
        self.0 as f64
    }
}

impl fmt::Display for Integer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! lossless {
    ($($t:ty),*) => {$(
        impl From<$t> for Integer {
            fn from(v: $t) -> Self {
                Integer(v.into())
            }
        }
        impl TryFrom<Integer> for $t {
            type Error = OutOfRange;
            fn try_from(v: Integer) -> Result<Self, OutOfRange> {
                <$t>::try_from(v.0).map_err(|_| OutOfRange)
            }
        }
    )*};
}
lossless!(i8, i16, i32, i64, u8, u16, u32, u64);

impl TryFrom<i128> for Integer {
    type Error = OutOfRange;
    fn try_from(v: i128) -> Result<Self, OutOfRange> {
        if (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(&v) {
            Ok(Integer(v))
        } else {
            Err(OutOfRange)
        }
    }
}

impl From<Integer> for i128 {
    fn from(v: Integer) -> Self {
        v.0
    }
}
