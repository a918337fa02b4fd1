//! Predicates, events and macros on the device HTTP API (HTTP-API.md §7.8, §7.9, §7.11): the
//! wire forms, and the [`HttpClient`] methods that carry them. List answers are decoded one
//! entry at a time ([`Lenient`]), so that one malformed predicate or macro does not take the
//! others down with it.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::HttpClient;
use crate::error::HttpError;
use crate::sensors::Lenient;
use crate::wire;

/// A minute of the week in the device's time zone: ISO weekday 1–7 (1 = Monday), hour 0–23,
/// minute 0–59. Ordered as the tuple (day, hour, minute).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawWeekTime")]
pub struct WeekTime {
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
}

#[derive(Deserialize)]
struct RawWeekTime {
    day: u64,
    hour: u64,
    minute: u64,
}

impl TryFrom<RawWeekTime> for WeekTime {
    type Error = String;

    fn try_from(raw: RawWeekTime) -> Result<Self, String> {
        WeekTime::new(raw.day, raw.hour, raw.minute)
    }
}

impl WeekTime {
    /// The minute `day` (1–7), `hour` (0–23), `minute` (0–59); out of range is an error.
    pub fn new(day: u64, hour: u64, minute: u64) -> Result<WeekTime, String> {
        let check = |v: u64, lo: u64, hi: u64, what: &str| {
            if (lo..=hi).contains(&v) {
                Ok(v as u8)
            } else {
                Err(format!("{what} {v} is not in {lo}..={hi}"))
            }
        };
        Ok(WeekTime {
            day: check(day, 1, 7, "day")?,
            hour: check(hour, 0, 23, "hour")?,
            minute: check(minute, 0, 59, "minute")?,
        })
    }
}

/// A period in which a predicate opens no events: `start` ≤ now ≤ `stop`, both inclusive,
/// compared as (day, hour, minute) without wrap-around (a period whose start is after its
/// stop never matches, as in the published client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SilencingPeriod {
    /// The first minute silenced.
    pub start: WeekTime,
    /// The last minute silenced.
    pub stop: WeekTime,
}

impl SilencingPeriod {
    /// Whether `at` lies in the period.
    pub fn contains(&self, at: WeekTime) -> bool {
        self.start <= at && at <= self.stop
    }
}

/// One entry of `GET /v1/device/predicates`, as sent. Which fields must be there depends on
/// the case (§7.8); the device checks that, not the decoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredicateDefinition {
    /// The predicate's id.
    pub predicate_id: String,
    /// `false`: the device drops its instance (keeping its saved state).
    pub online: bool,
    /// The statistic's name, matched against the statistics the device registered.
    #[serde(default)]
    pub statistic: Option<String>,
    /// Handed to the statistic (any JSON; `null` when absent).
    #[serde(default)]
    pub configuration: serde_json::Value,
    /// Human-readable name, the prefix of event messages.
    #[serde(default)]
    pub verbose_name: Option<String>,
    /// Notification group of the events it raises.
    #[serde(default)]
    pub group: Option<String>,
    /// Periods in which it opens no events.
    #[serde(default)]
    pub silencing: Vec<SilencingPeriod>,
}

/// One element of `POST /v1/device/alarms`, its keys in the order of §7.9. Times are whole
/// seconds (sent as integers: MiniJSON would make a float single precision, tens of seconds
/// off).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventReport {
    /// Seconds since the epoch.
    pub started_on: u64,
    /// 0 white, 1 yellow, 2 red.
    pub color: u8,
    /// 1 point event, 0 event with a duration.
    pub alarm_type: u8,
    /// For events a predicate raises: its statistic name.
    pub token: String,
    /// Notification group.
    pub group: String,
    /// The message.
    pub message: String,
    /// String metadata (`{"predicate_id": …}` for a predicate's events).
    pub metadata: BTreeMap<String, String>,
    /// The server's id for the event, once it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Who handles it (never set by the framework).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_by: Option<String>,
    /// Seconds since the epoch, once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_on: Option<u64>,
}

/// One element of the answer to `POST /v1/device/alarms`: the uuid of the event at the same
/// position of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventUuid {
    /// The server's id for the event.
    pub uuid: String,
}

/// One write of a macro: `{"path", "value"}`; the value is a number or a string (checked by
/// the device).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MacroCommand {
    /// The pathpoint to write.
    pub path: String,
    /// The value as sent.
    pub value: serde_json::Value,
}

/// A scheduled run of a macro.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MacroOccurrence {
    /// When, in seconds since the epoch.
    pub timestamp: f64,
    /// Whether the server counts it as done.
    #[serde(default)]
    pub completed: bool,
}

/// One entry of `GET /v1/device/macro/occurrences/{start}-{stop}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MacroDefinition {
    /// The macro's id.
    pub macro_id: String,
    /// The writes it makes, in order.
    pub commands: Vec<MacroCommand>,
    /// Its runs in the window asked for.
    pub occurrences: Vec<MacroOccurrence>,
}

/// An occurrence's timestamp as the report's path carries it: an integer when whole.
pub(crate) fn timestamp_text(ts: f64) -> String {
    if ts.fract() == 0.0 && ts.abs() < 9.0e15 {
        format!("{}", ts as i64)
    } else {
        format!("{ts}")
    }
}

impl HttpClient {
    /// `GET /v1/device/predicates`: the device's predicates, the full list each time (an empty
    /// answer means none), each entry decoded on its own.
    pub async fn predicates(&self) -> Result<Vec<Lenient<PredicateDefinition>>, HttpError> {
        self.lenient_list(Method::GET, &["v1", "device", "predicates"], None)
            .await
    }

    /// `POST /v1/device/alarms`: creates (no `uuid`) or updates (with one) events. The answer
    /// is matched to `events` **by position**; an element that is not `{"uuid": str}` comes
    /// back as [`Lenient::Invalid`], and a short answer leaves the rest unanswered.
    pub async fn send_events(&self, events: &[EventReport]) -> Result<Vec<Lenient<EventUuid>>, HttpError> {
        let body = wire::encode(events)?;
        self.lenient_list(Method::POST, &["v1", "device", "alarms"], Some(body))
            .await
    }

    /// `GET /v1/device/macro/occurrences/{start}-{stop}` (epoch seconds): the macros with
    /// occurrences in the window, each entry decoded on its own.
    pub async fn macro_occurrences(
        &self,
        start: u64,
        stop: u64,
    ) -> Result<Vec<Lenient<MacroDefinition>>, HttpError> {
        let window = format!("{start}-{stop}");
        self.lenient_list(
            Method::GET,
            &["v1", "device", "macro", "occurrences", &window],
            None,
        )
        .await
    }

    /// `POST /v1/device/macros/{macro_id}/{timestamp}`: reports an occurrence executed. Safe to
    /// repeat; a 4xx (e.g. 404, an occurrence the server no longer has) cannot be helped by
    /// repeating it.
    pub async fn report_macro(&self, macro_id: &str, timestamp: f64) -> Result<(), HttpError> {
        let ts = timestamp_text(timestamp);
        self.exchange(Method::POST, &["v1", "device", "macros", macro_id, &ts], None)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_the_order_of_the_spec() {
        let mut e = EventReport {
            started_on: 10,
            color: 2,
            alarm_type: 0,
            token: "temp".into(),
            group: "B".into(),
            message: "Boiler: hot".into(),
            metadata: BTreeMap::from([("predicate_id".into(), "p1".into())]),
            uuid: None,
            handled_by: None,
            ended_on: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"started_on":10,"color":2,"alarm_type":0,"token":"temp","group":"B","message":"Boiler: hot","metadata":{"predicate_id":"p1"}}"#
        );
        e.uuid = Some("u".into());
        e.ended_on = Some(20);
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.ends_with(r#""uuid":"u","ended_on":20}"#), "{text}");
        let back: EventReport = minijson::from_slice(&minijson::to_vec(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn week_times_are_checked() {
        let p: SilencingPeriod = serde_json::from_str(
            r#"{"start": {"day": 1, "hour": 0, "minute": 0}, "stop": {"day": 5, "hour": 23, "minute": 59}}"#,
        )
        .unwrap();
        assert!(p.contains(WeekTime::new(3, 12, 0).unwrap()));
        assert!(!p.contains(WeekTime::new(6, 0, 0).unwrap()));
        for bad in [
            r#"{"day": 0, "hour": 0, "minute": 0}"#,
            r#"{"day": 8, "hour": 0, "minute": 0}"#,
            r#"{"day": 1, "hour": 24, "minute": 0}"#,
            r#"{"day": 1, "hour": 0, "minute": 60}"#,
            r#"{"day": -1, "hour": 0, "minute": 0}"#,
            r#"{"day": 1, "hour": 0}"#,
        ] {
            assert!(serde_json::from_str::<WeekTime>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn predicates_and_macros_decode() {
        let p: PredicateDefinition =
            serde_json::from_str(r#"{"predicate_id": "p", "online": false}"#).unwrap();
        assert!(p.statistic.is_none() && p.silencing.is_empty() && p.configuration.is_null());
        let m: MacroDefinition = serde_json::from_str(
            r#"{"macro_id": "m", "commands": [{"path": "W1", "value": 5}], "occurrences": [{"timestamp": 1796063026.0, "completed": false}]}"#,
        )
        .unwrap();
        assert_eq!(m.occurrences[0].timestamp, 1_796_063_026.0);
        assert_eq!(timestamp_text(1_796_063_026.0), "1796063026");
        assert_eq!(timestamp_text(1_796_063_026.5), "1796063026.5");
    }
}
