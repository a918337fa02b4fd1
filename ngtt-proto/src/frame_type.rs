//! The frame types of NGTT.md §3.

use std::fmt;
use std::str::FromStr;

use crate::error::ProtoError;

/// The `type` field of a frame header (NGTT.md §3).
///
/// Values the spec does not define decode as [`FrameType::Unknown`] rather than failing, so that a
/// peer can ignore frames of a newer protocol revision. [`FrameType::from_u16`] never produces
/// `Unknown(n)` for `n` in `0..=10`; such a value, if built by hand, encodes as the known type
/// with that number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// `PING` (0): keepalive, echoed by the server with the same tid.
    Ping,
    /// `ORDER` (1): server → device, a list of order sections.
    Order,
    /// `ORDER_CONFIRM` (2): device → server, the ORDER with this tid was executed.
    OrderConfirm,
    /// `LOGS` (3): device → server, log records, tid 0.
    Logs,
    /// `DATA_STREAM` (4): device → server, pathpoint series.
    DataStream,
    /// `DATA_STREAM_CONFIRM` (5): server → device, the DATA_STREAM was stored.
    DataStreamConfirm,
    /// `DATA_STREAM_REJECT` (6): server → device, the DATA_STREAM is invalid.
    DataStreamReject,
    /// `SYNC_BAOB_REQUEST` (7): device → server, BAOB versions (reserved).
    SyncBaobRequest,
    /// `SYNC_BAOB_RESPONSE` (8): server → device, BAOBs to download/upload (reserved).
    SyncBaobResponse,
    /// `ORDER_REJECT` (9): device → server, the ORDER with this tid was refused.
    OrderReject,
    /// `FETCH_ORDERS` (10): device → server, start delivering orders, tid 0.
    FetchOrders,
    /// A type number this revision of the protocol does not define.
    Unknown(u16),
}

impl FrameType {
    /// The eleven frame types defined by NGTT.md §3, in numeric order.
    pub const KNOWN: [FrameType; 11] = [
        FrameType::Ping,
        FrameType::Order,
        FrameType::OrderConfirm,
        FrameType::Logs,
        FrameType::DataStream,
        FrameType::DataStreamConfirm,
        FrameType::DataStreamReject,
        FrameType::SyncBaobRequest,
        FrameType::SyncBaobResponse,
        FrameType::OrderReject,
        FrameType::FetchOrders,
    ];

    /// The frame type with wire number `n`; `Unknown(n)` for numbers above 10.
    pub const fn from_u16(n: u16) -> FrameType {
        match n {
            0 => FrameType::Ping,
            1 => FrameType::Order,
            2 => FrameType::OrderConfirm,
            3 => FrameType::Logs,
            4 => FrameType::DataStream,
            5 => FrameType::DataStreamConfirm,
            6 => FrameType::DataStreamReject,
            7 => FrameType::SyncBaobRequest,
            8 => FrameType::SyncBaobResponse,
            9 => FrameType::OrderReject,
            10 => FrameType::FetchOrders,
            n => FrameType::Unknown(n),
        }
    }

    /// The wire number of this type.
    pub const fn as_u16(self) -> u16 {
        match self {
            FrameType::Ping => 0,
            FrameType::Order => 1,
            FrameType::OrderConfirm => 2,
            FrameType::Logs => 3,
            FrameType::DataStream => 4,
            FrameType::DataStreamConfirm => 5,
            FrameType::DataStreamReject => 6,
            FrameType::SyncBaobRequest => 7,
            FrameType::SyncBaobResponse => 8,
            FrameType::OrderReject => 9,
            FrameType::FetchOrders => 10,
            FrameType::Unknown(n) => n,
        }
    }

    /// The spec's name of the type, e.g. `"ORDER_CONFIRM"`; `"UNKNOWN"` for unknown types.
    pub const fn name(self) -> &'static str {
        match self {
            FrameType::Ping => "PING",
            FrameType::Order => "ORDER",
            FrameType::OrderConfirm => "ORDER_CONFIRM",
            FrameType::Logs => "LOGS",
            FrameType::DataStream => "DATA_STREAM",
            FrameType::DataStreamConfirm => "DATA_STREAM_CONFIRM",
            FrameType::DataStreamReject => "DATA_STREAM_REJECT",
            FrameType::SyncBaobRequest => "SYNC_BAOB_REQUEST",
            FrameType::SyncBaobResponse => "SYNC_BAOB_RESPONSE",
            FrameType::OrderReject => "ORDER_REJECT",
            FrameType::FetchOrders => "FETCH_ORDERS",
            FrameType::Unknown(_) => "UNKNOWN",
        }
    }

    /// Whether the type is one of the eleven defined by the spec.
    pub const fn is_known(self) -> bool {
        !matches!(FrameType::from_u16(self.as_u16()), FrameType::Unknown(_))
    }
}

impl From<u16> for FrameType {
    fn from(n: u16) -> Self {
        FrameType::from_u16(n)
    }
}

impl From<FrameType> for u16 {
    fn from(t: FrameType) -> Self {
        t.as_u16()
    }
}

impl fmt::Display for FrameType {
    /// The spec name (`ORDER_CONFIRM`), or `UNKNOWN(n)` for an unknown type.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match FrameType::from_u16(self.as_u16()) {
            FrameType::Unknown(n) => write!(f, "UNKNOWN({n})"),
            known => f.write_str(known.name()),
        }
    }
}

impl FromStr for FrameType {
    type Err = ProtoError;

    /// Parses a spec name (`ORDER_CONFIRM`, ASCII case-insensitive), the `Display` form of an
    /// unknown type (`UNKNOWN(12)`), or a decimal wire number (`2`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Some(known) = FrameType::KNOWN.iter().find(|k| k.name().eq_ignore_ascii_case(t)) {
            return Ok(*known);
        }
        let number = match (t.get(..8), t.get(8..)) {
            (Some(prefix), Some(rest)) if prefix.eq_ignore_ascii_case("UNKNOWN(") => {
                rest.strip_suffix(')').unwrap_or("")
            }
            _ => t,
        };
        number
            .parse::<u16>()
            .map(FrameType::from_u16)
            .map_err(|_| ProtoError::InvalidName {
                what: "frame type",
                name: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_round_trip() {
        for (i, t) in FrameType::KNOWN.iter().enumerate() {
            let n = u16::try_from(i).expect("small index");
            assert_eq!(t.as_u16(), n);
            assert_eq!(FrameType::from_u16(n), *t);
            assert!(t.is_known());
            assert_eq!(t.name().parse::<FrameType>().expect("name parses"), *t);
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!(FrameType::OrderConfirm.name(), "ORDER_CONFIRM");
        assert_eq!(FrameType::SyncBaobResponse.to_string(), "SYNC_BAOB_RESPONSE");
    }

    #[test]
    fn unknown_types() {
        for n in [11u16, 12, 0x7FFF, u16::MAX] {
            let t = FrameType::from_u16(n);
            assert_eq!(t, FrameType::Unknown(n));
            assert!(!t.is_known());
            assert_eq!(t.as_u16(), n);
            assert_eq!(t.name(), "UNKNOWN");
            assert_eq!(t.to_string().parse::<FrameType>().expect("display parses"), t);
        }
        assert_eq!(FrameType::Unknown(12).to_string(), "UNKNOWN(12)");
        // A hand-built non-canonical value behaves as the known type on the wire.
        assert!(FrameType::Unknown(2).is_known());
        assert_eq!(FrameType::Unknown(2).to_string(), "ORDER_CONFIRM");
    }

    #[test]
    fn from_str_variants() {
        assert_eq!(
            "order_confirm".parse::<FrameType>().ok(),
            Some(FrameType::OrderConfirm)
        );
        assert_eq!(" PING ".parse::<FrameType>().ok(), Some(FrameType::Ping));
        assert_eq!("10".parse::<FrameType>().ok(), Some(FrameType::FetchOrders));
        assert_eq!(
            "unknown(99)".parse::<FrameType>().ok(),
            Some(FrameType::Unknown(99))
        );
        for bad in [
            "",
            "PONG",
            "UNKNOWN(",
            "UNKNOWN(70000)",
            "-1",
            "UNKNOWN",
            "ORDER CONFIRM",
        ] {
            assert!(
                matches!(bad.parse::<FrameType>(), Err(ProtoError::InvalidName { ref name, .. }) if name == bad),
                "{bad:?} should not parse"
            );
        }
    }
}
