//! The records [`super::Storage`] reads and writes.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

/// An order's id: positive, growing in queue order, never reused.
pub type OrderId = i64;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Waiting to be sent.
    Queued,
    /// Sent to the device at least once, not answered yet (sent again on its next connection).
    Sent,
    /// Confirmed by the device (ORDER_CONFIRM), or handed out over the HTTP API.
    Confirmed,
    /// Refused by the device (ORDER_REJECT).
    Rejected,
}

impl OrderState {
    /// All states.
    pub const ALL: [OrderState; 4] = [
        OrderState::Queued,
        OrderState::Sent,
        OrderState::Confirmed,
        OrderState::Rejected,
    ];

    /// `queued`, `sent`, `confirmed` or `rejected`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderState::Queued => "queued",
            OrderState::Sent => "sent",
            OrderState::Confirmed => "confirmed",
            OrderState::Rejected => "rejected",
        }
    }

    /// The number stored in the database.
    pub const fn code(self) -> i64 {
        match self {
            OrderState::Queued => 0,
            OrderState::Sent => 1,
            OrderState::Confirmed => 2,
            OrderState::Rejected => 3,
        }
    }

    /// The state stored as `code`.
    pub const fn from_code(code: i64) -> Option<OrderState> {
        match code {
            0 => Some(OrderState::Queued),
            1 => Some(OrderState::Sent),
            2 => Some(OrderState::Confirmed),
            3 => Some(OrderState::Rejected),
            _ => None,
        }
    }

    /// Queued or sent: the device still has to answer.
    pub const fn is_pending(self) -> bool {
        matches!(self, OrderState::Queued | OrderState::Sent)
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OrderState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!("unknown order state {s:?} (expected queued, sent, confirmed or rejected)")
            })
    }
}

/// A device's answer to an ORDER.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderAnswer {
    /// ORDER_CONFIRM: executed.
    Confirmed,
    /// ORDER_REJECT: refused.
    Rejected,
}

impl OrderAnswer {
    /// The state the answer puts an order in.
    pub const fn state(self) -> OrderState {
        match self {
            OrderAnswer::Confirmed => OrderState::Confirmed,
            OrderAnswer::Rejected => OrderState::Rejected,
        }
    }
}

/// How an order was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnsweredVia {
    /// ORDER_CONFIRM or ORDER_REJECT on an NGTT connection.
    Ngtt,
    /// Handed out by the device HTTP API (counts as confirmed on hand-out).
    Http,
}

impl AnsweredVia {
    /// `ngtt` or `http`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AnsweredVia::Ngtt => "ngtt",
            AnsweredVia::Http => "http",
        }
    }

    /// The way stored as `text` (anything but `http` reads as NGTT).
    pub fn parse(text: &str) -> AnsweredVia {
        if text == "http" {
            AnsweredVia::Http
        } else {
            AnsweredVia::Ngtt
        }
    }
}

/// A pending order ready to go into an ORDER frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingOrder {
    /// The order's id.
    pub id: OrderId,
    /// The ORDER payload: a MiniJSON list of sections.
    pub payload: Bytes,
}

/// An order as stored. Times are milliseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    /// The order's id.
    pub id: OrderId,
    /// The device it is for.
    pub device_id: String,
    /// Where it stands.
    pub state: OrderState,
    /// How many times it was put into an ORDER frame (or handed out over HTTP).
    pub deliveries: u32,
    /// When it was queued.
    pub queued_at_ms: i64,
    /// When it was last handed out, if ever.
    pub sent_at_ms: Option<i64>,
    /// When it was answered, if it was.
    pub answered_at_ms: Option<i64>,
    /// How it was answered, if it was.
    pub answered_via: Option<AnsweredVia>,
    /// The ORDER payload: a MiniJSON list of sections.
    pub sections: Bytes,
}

/// A known device. Times are milliseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device id.
    pub device_id: String,
    /// Environment number from its last certificate (0 production, 1 staging, 2 local
    /// development); `None` if it never connected.
    pub environment: Option<i64>,
    /// First NGTT connection, if any.
    pub first_connected_ms: Option<i64>,
    /// Latest NGTT connection, if any.
    pub last_connected_ms: Option<i64>,
}

/// One stored log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Storage id (ignored by [`super::Storage::store_logs`]).
    pub id: i64,
    /// The service that logged it.
    pub service: String,
    /// Microseconds since the epoch, as the device sent it.
    pub when_us: u64,
    /// Python logging level.
    pub level: u16,
    /// The message text, decompressed.
    pub message: String,
    /// `exception_text`: the formatted exception, if any.
    pub exception_text: Option<String>,
    /// `exception_traceback` as sent: base64 of gzip of a JSON document (HTTP-API.md §8), if
    /// any.
    pub exception_traceback: Option<String>,
    /// When the server received it, ms since the epoch (set by the storage).
    pub received_at_ms: i64,
}

/// A `message` order's report from a device (`POST /v1/device/orders/message/{uuid}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageReport {
    /// The message order's `uuid`, as the device sent it.
    pub uuid: String,
    /// When the server first recorded the report, ms since the epoch (a repeated report keeps
    /// the first time).
    pub reported_at_ms: i64,
}

/// How long the server keeps a pathpoint's data (`PUT /v1/device/pathpoints`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageLevel {
    /// 0: kept for ever.
    Permanent,
    /// 1: a trend, kept for a limited time.
    Trend,
}

impl StorageLevel {
    /// The number used on the wire and in the database: 0 or 1.
    pub const fn code(self) -> u8 {
        match self {
            StorageLevel::Permanent => 0,
            StorageLevel::Trend => 1,
        }
    }

    /// The level numbered `code`, if any.
    pub const fn from_code(code: i64) -> Option<StorageLevel> {
        match code {
            0 => Some(StorageLevel::Permanent),
            1 => Some(StorageLevel::Trend),
            _ => None,
        }
    }
}

/// A pathpoint a device registered.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegisteredPathpoint {
    /// The pathpoint's name (its first letter is its type, NGTT.md §7).
    pub path: String,
    /// How long its data is kept.
    pub storage_level: StorageLevel,
}

/// Which stored samples to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesQuery {
    /// Only this path; every path when `None`.
    pub path: Option<String>,
    /// Only samples at or after this time (ms).
    pub from_ms: Option<u64>,
    /// Only samples at or before this time (ms).
    pub to_ms: Option<u64>,
    /// At most this many samples in total.
    pub limit: usize,
}

impl Default for SeriesQuery {
    fn default() -> Self {
        SeriesQuery {
            path: None,
            from_ms: None,
            to_ms: None,
            limit: 10_000,
        }
    }
}
