//! Typed orders as a device program sees them (NGTT.md §5).
//!
//! **Decision:** these are `ngtt-proto`'s own payload types, re-exported, plus extension traits
//! ([`WriteOrderExt`], [`WaitOrderExt`], [`OrderExt`], [`SectionExt`]) for what a device needs
//! on top of the wire format. Wrappers would have to be converted back and forth for nothing:
//! the wire types already keep unknown orders ([`Order::Unrecognized`], with the raw value and
//! the reason) and serialise unchanged, and the HTTP API hands out the same sections.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use smok_client::orders::{Order, PathpointValue, WriteOrderExt};
//!
//! let Order::Write(mut write) = Order::write("W1", 70_000) else { unreachable!() };
//! assert_eq!(write.coerced_value()?, PathpointValue::Int(65_535)); // W is clipped to 0..=65535
//! write.stale_after = Some(1_700_000_000.0);
//! assert!(write.is_stale(UNIX_EPOCH + Duration::from_secs(1_700_000_001)));
//! # Ok::<(), smok_client::ClientError>(())
//! ```

use std::time::{Duration, SystemTime};

pub use ngtt_proto::payload::{
    Advise, Disposition, MessageOrder, Order, PathpointType, PathpointValue, ReadOrder, Section, SysctlOrder,
    WaitOrder, WriteOrder, WriteValue,
};
use ngtt_proto::ProtoError;

use crate::clock::epoch_secs;
use crate::error::Result;

/// What a device needs from a [`WriteOrder`] besides its fields.
pub trait WriteOrderExt {
    /// The type of the written path (a reparse path `r…` has the type of its second letter).
    /// Fails when the path has no known type letter.
    fn path_type(&self) -> Result<PathpointType>;

    /// The value coerced to the path's type ([`PathpointType::coerce`]): W clipped to
    /// 0..=65535, w to -32768..=32767, B to 0..=1 (integers rounded), `f` to single precision,
    /// strings parsed for numeric types, anything as text for `u`. Fails when the path has no
    /// known type or the value is not a number where one is needed.
    fn coerced_value(&self) -> Result<PathpointValue>;

    /// True when the write must be dropped at `now`: `stale_after` (epoch seconds) is set and
    /// `now` is later than it. A `stale_after` that is not a number counts as stale (the write
    /// cannot be shown to be fresh); none at all never goes stale.
    fn is_stale(&self, now: SystemTime) -> bool;
}

impl WriteOrderExt for WriteOrder {
    fn path_type(&self) -> Result<PathpointType> {
        Ok(PathpointType::of(&self.path)?.0)
    }

    fn coerced_value(&self) -> Result<PathpointValue> {
        Ok(self.path_type()?.coerce(&self.value)?)
    }

    fn is_stale(&self, now: SystemTime) -> bool {
        match self.stale_after {
            None => false,
            Some(limit) if limit.is_nan() => true,
            Some(limit) => epoch_secs(now) > limit,
        }
    }
}

/// What a device needs from a [`WaitOrder`].
pub trait WaitOrderExt {
    /// How long to wait; fails when `time` is negative, not a number or too large.
    fn duration(&self) -> Result<Duration>;
}

impl WaitOrderExt for WaitOrder {
    fn duration(&self) -> Result<Duration> {
        Duration::try_from_secs_f64(self.time).map_err(|e| {
            ProtoError::InvalidPayload(format!("wait time {} is not usable: {e}", self.time)).into()
        })
    }
}

/// What the executor needs from any [`Order`].
pub trait OrderExt {
    /// Why the order was not recognised (unknown or missing `type`, missing or mistyped
    /// fields), or `None` for a recognised order. Such an order is skipped with a warning and
    /// the rest of its section still runs.
    fn unrecognized_reason(&self) -> Option<&str>;

    /// A short name for logs: the wire `type` (`"read"`, `"write"`, ...), the raw `type` of an
    /// unrecognised order, or `"?"` when it has none.
    fn kind(&self) -> &str;
}

impl OrderExt for Order {
    fn unrecognized_reason(&self) -> Option<&str> {
        match self {
            Order::Unrecognized { reason, .. } => Some(reason),
            _ => None,
        }
    }

    fn kind(&self) -> &str {
        self.type_name().unwrap_or("?")
    }
}

/// What the executor needs from a [`Section`].
pub trait SectionExt {
    /// True for disposition 0 (JOINABLE): the section may run alongside its joinable neighbours.
    fn is_joinable(&self) -> bool;
}

impl SectionExt for Section {
    fn is_joinable(&self) -> bool {
        self.disposition == Disposition::Joinable
    }
}

/// Splits `sections` into the groups the executor runs one after another: each maximal run of
/// consecutive JOINABLE sections is one group, and each CANNOT_JOIN section is a group of its
/// own. Yields `(index of the group's first section, the group)`.
pub fn join_groups(sections: &[Section]) -> impl Iterator<Item = (usize, &[Section])> + '_ {
    let mut rest = sections;
    let mut start = 0;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let len = if first.is_joinable() {
            rest.iter().take_while(|s| s.is_joinable()).count()
        } else {
            1
        };
        let (group, tail) = rest.split_at(len);
        let at = start;
        rest = tail;
        start += len;
        Some((at, group))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(sections: &[Section]) -> Vec<(usize, usize)> {
        join_groups(sections).map(|(at, g)| (at, g.len())).collect()
    }

    #[test]
    fn groups_split_at_cannot_join() {
        let j = || Section::new([Order::read("W1")]);
        let c = || j().cannot_join();
        assert_eq!(shape(&[]), []);
        assert_eq!(shape(&[j(), j(), c(), j(), j(), j()]), [(0, 2), (2, 1), (3, 3)]);
        assert_eq!(shape(&[c(), c(), j()]), [(0, 1), (1, 1), (2, 1)]);
        assert_eq!(shape(&[j(), c()]), [(0, 1), (1, 1)]);
    }

    #[test]
    fn wait_durations() {
        assert_eq!(
            WaitOrder { time: 1.5 }.duration().unwrap(),
            Duration::from_millis(1500)
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(WaitOrder { time: bad }.duration().is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(Order::sysctl("reboot", "").kind(), "sysctl");
        assert_eq!(Order::read("B1").unrecognized_reason(), None);
    }
}
