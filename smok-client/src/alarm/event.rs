//! [`Event`]: an alarm as the device keeps it, with what its sync to the server needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use smok_http::EventReport;

/// How severe an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Color {
    /// 0: least severe.
    White,
    /// 1: medium.
    Yellow,
    /// 2: most severe.
    Red,
}

impl Color {
    /// The number on the wire.
    pub fn code(self) -> u8 {
        match self {
            Color::White => 0,
            Color::Yellow => 1,
            Color::Red => 2,
        }
    }
}

/// The device's own id of an event (never sent: the server's id is [`Event::uuid`]).
pub type EventId = u64;

/// What a new event says (see [`SmokDevice::open_event`](crate::SmokDevice::open_event)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// Severity.
    pub color: Color,
    /// A point event (instantaneous, closed at once) rather than one with a duration.
    pub point: bool,
    /// For events a predicate raises: its statistic name.
    pub token: String,
    /// Notification group.
    pub group: String,
    /// The message.
    pub message: String,
    /// String metadata.
    pub metadata: BTreeMap<String, String>,
}

/// An event (alarm) the device raised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The device's id.
    pub id: EventId,
    /// What the server is told (its `uuid` once the server gave one).
    pub report: EventReport,
    /// Bumped by every change.
    pub version: u64,
    /// The version the server has confirmed (0: none).
    pub synced: u64,
}

impl Event {
    /// A new event opened at `now` (epoch seconds); a point event is closed at once.
    pub fn new(id: EventId, now: u64, new: NewEvent) -> Event {
        Event {
            id,
            report: EventReport {
                started_on: now,
                color: new.color.code(),
                alarm_type: u8::from(new.point),
                token: new.token,
                group: new.group,
                message: new.message,
                metadata: new.metadata,
                uuid: None,
                handled_by: None,
                ended_on: new.point.then_some(now),
            },
            version: 1,
            synced: 0,
        }
    }

    /// The server's id, once it gave one.
    pub fn uuid(&self) -> Option<&str> {
        self.report.uuid.as_deref()
    }

    /// Whether it is closed (point events always are).
    pub fn is_closed(&self) -> bool {
        self.report.ended_on.is_some()
    }

    /// Whether it is a point event.
    pub fn is_point(&self) -> bool {
        self.report.alarm_type == 1
    }

    /// Whether the server has its latest version.
    pub fn is_synced(&self) -> bool {
        self.synced == self.version
    }

    /// The predicate that raised it (its `predicate_id` metadata).
    pub fn predicate_id(&self) -> Option<&str> {
        self.report.metadata.get("predicate_id").map(String::as_str)
    }

    /// Closes it at `now` (epoch seconds, never before it started); false when it was closed.
    pub fn close(&mut self, now: u64) -> bool {
        if self.is_closed() {
            return false;
        }
        self.report.ended_on = Some(now.max(self.report.started_on));
        self.version += 1;
        true
    }
}
