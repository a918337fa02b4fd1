//! ORDER payloads (NGTT.md §5): a list of sections, each a list of orders.

use minijson::Value;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};

/// Whether a section may be merged with its neighbours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Disposition {
    /// 0: may be merged with neighbouring joinable sections (the default when absent).
    #[default]
    Joinable,
    /// 1: must finish before the next section starts.
    CannotJoin,
}

impl From<Disposition> for u8 {
    fn from(d: Disposition) -> u8 {
        match d {
            Disposition::Joinable => 0,
            Disposition::CannotJoin => 1,
        }
    }
}

impl TryFrom<u8> for Disposition {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            0 => Ok(Disposition::Joinable),
            1 => Ok(Disposition::CannotJoin),
            n => Err(format!("unknown disposition {n} (expected 0 or 1)")),
        }
    }
}

/// How hard the device should try: 0 best effort, 1 force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Advise {
    /// 0: best effort (the default when absent).
    #[default]
    Advise,
    /// 1: force.
    Force,
}

impl From<Advise> for u8 {
    fn from(a: Advise) -> u8 {
        match a {
            Advise::Advise => 0,
            Advise::Force => 1,
        }
    }
}

impl TryFrom<u8> for Advise {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            0 => Ok(Advise::Advise),
            1 => Ok(Advise::Force),
            n => Err(format!("unknown advise {n} (expected 0 or 1)")),
        }
    }
}

/// One section of an ORDER: orders run in sequence, under one disposition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// The orders, in the order they are to run.
    pub orders: Vec<Order>,
    /// Whether the section may be merged with its neighbours.
    #[serde(default)]
    pub disposition: Disposition,
}

impl Section {
    /// A joinable section of `orders`.
    pub fn new(orders: impl IntoIterator<Item = Order>) -> Self {
        Section {
            orders: orders.into_iter().collect(),
            disposition: Disposition::Joinable,
        }
    }

    /// The same section, marked CANNOT_JOIN.
    pub fn cannot_join(mut self) -> Self {
        self.disposition = Disposition::CannotJoin;
        self
    }
}

/// A value to write: integer, float or string, coerced to the path's type by the device
/// ([`super::PathpointType::coerce`]). The same shape as a pathpoint's value.
pub type WriteValue = super::PathpointValue;

/// `read`: read a pathpoint now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadOrder {
    /// The pathpoint.
    pub path: String,
    /// Best effort or force.
    #[serde(default)]
    pub advise: Advise,
}

/// `write`: write a value to a pathpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WriteOrder {
    /// The pathpoint.
    pub path: String,
    /// The value, before coercion to the path's type.
    pub value: WriteValue,
    /// Best effort or force.
    #[serde(default)]
    pub advise: Advise,
    /// Epoch seconds after which the write must be dropped instead of executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<f64>,
}

/// `wait`: pause for a while.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaitOrder {
    /// Seconds to wait.
    pub time: f64,
}

/// `sysctl`: a system operation such as `reboot`, `update` or `baob-updated`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SysctlOrder {
    /// The operation.
    pub op_type: String,
    /// Its arguments.
    #[serde(default)]
    pub op_args: String,
}

/// `message`: report `uuid` back with `POST /v1/device/orders/message/{uuid}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageOrder {
    /// The message's id.
    pub uuid: String,
}

/// One order of a section.
///
/// An order this crate cannot read — of an unknown type, without a type, or a known type with
/// missing or mistyped fields — is kept as [`Order::Unrecognized`] with its raw value and the
/// reason, so the device can skip it with a warning and still run the rest of the section
/// (NGTT.md §5). It is written back unchanged.
#[derive(Clone, Debug, PartialEq)]
pub enum Order {
    /// `read`.
    Read(ReadOrder),
    /// `write`.
    Write(WriteOrder),
    /// `wait`.
    Wait(WaitOrder),
    /// `sysctl`.
    Sysctl(SysctlOrder),
    /// `message`.
    Message(MessageOrder),
    /// Anything else, kept as it came.
    Unrecognized {
        /// The order as received.
        raw: Value,
        /// Why it was not recognised.
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Known {
    Read(ReadOrder),
    Write(WriteOrder),
    Wait(WaitOrder),
    Sysctl(SysctlOrder),
    Message(MessageOrder),
}

const KNOWN_TYPES: [&str; 5] = ["read", "write", "wait", "sysctl", "message"];

impl Order {
    /// `read` of `path`, best effort.
    pub fn read(path: impl Into<String>) -> Order {
        Order::Read(ReadOrder {
            path: path.into(),
            advise: Advise::Advise,
        })
    }

    /// `write` of `value` to `path`, best effort, never stale.
    pub fn write(path: impl Into<String>, value: impl Into<WriteValue>) -> Order {
        Order::Write(WriteOrder {
            path: path.into(),
            value: value.into(),
            advise: Advise::Advise,
            stale_after: None,
        })
    }

    /// `wait` for `seconds`.
    pub fn wait(seconds: f64) -> Order {
        Order::Wait(WaitOrder { time: seconds })
    }

    /// `sysctl` of `op_type` with `op_args`.
    pub fn sysctl(op_type: impl Into<String>, op_args: impl Into<String>) -> Order {
        Order::Sysctl(SysctlOrder {
            op_type: op_type.into(),
            op_args: op_args.into(),
        })
    }

    /// `message` with `uuid`.
    pub fn message(uuid: impl Into<String>) -> Order {
        Order::Message(MessageOrder { uuid: uuid.into() })
    }

    /// The order's `type` as written on the wire, if it has one.
    pub fn type_name(&self) -> Option<&str> {
        match self {
            Order::Read(_) => Some("read"),
            Order::Write(_) => Some("write"),
            Order::Wait(_) => Some("wait"),
            Order::Sysctl(_) => Some("sysctl"),
            Order::Message(_) => Some("message"),
            Order::Unrecognized { raw, .. } => raw.get("type").and_then(Value::as_str),
        }
    }
}

impl Serialize for Order {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.clone() {
            Order::Read(o) => Known::Read(o).serialize(s),
            Order::Write(o) => Known::Write(o).serialize(s),
            Order::Wait(o) => Known::Wait(o).serialize(s),
            Order::Sysctl(o) => Known::Sysctl(o).serialize(s),
            Order::Message(o) => Known::Message(o).serialize(s),
            Order::Unrecognized { raw, .. } => raw.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        if !matches!(raw, Value::Map(_) | Value::AnyMap(_)) {
            return Err(D::Error::custom(format!(
                "an order must be a map, not a {}",
                raw.kind()
            )));
        }
        let reason = match raw.get("type") {
            None => "the order has no type".to_owned(),
            Some(Value::String(t)) if KNOWN_TYPES.contains(&t.as_str()) => {
                match minijson::from_value::<Known>(&raw) {
                    Ok(known) => return Ok(known.into()),
                    Err(e) => format!("invalid {t} order: {e}"),
                }
            }
            Some(Value::String(t)) => format!("unknown order type {t:?}"),
            Some(other) => format!("the order type is a {}, not a string", other.kind()),
        };
        Ok(Order::Unrecognized { raw, reason })
    }
}

impl From<Known> for Order {
    fn from(k: Known) -> Order {
        match k {
            Known::Read(o) => Order::Read(o),
            Known::Write(o) => Order::Write(o),
            Known::Wait(o) => Order::Wait(o),
            Known::Sysctl(o) => Order::Sysctl(o),
            Known::Message(o) => Order::Message(o),
        }
    }
}
