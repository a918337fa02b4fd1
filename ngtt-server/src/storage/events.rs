//! Events (alarms) as devices report them (`POST /v1/device/alarms`, HTTP-API.md §7.9).
//!
//! An element without `uuid` creates an event, one with `uuid` updates it. Creation is
//! idempotent: an event is identified by its *identity* (`started_on`, `alarm_type`, `token`,
//! `message`, `metadata`), so a batch re-sent after a lost answer, an event listed twice in one
//! batch, or an event the client re-sends under a uuid it mis-assigned (§10) all land on the
//! one event they describe. A closed event stays closed: its first `ended_on` is kept.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::device_info::{text, MAX_TEXT};

/// Most metadata entries per event.
pub const MAX_METADATA: usize = 100;

/// One element of an alarms batch, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct EventReport {
    /// The server's uuid, when the device has one.
    pub uuid: Option<String>,
    /// Seconds since the epoch.
    pub started_on: i64,
    /// Seconds since the epoch, when closed.
    pub ended_on: Option<f64>,
    /// 0 white, 1 yellow, 2 red.
    pub color: u8,
    /// 1 point event, 0 event with a duration.
    pub alarm_type: u8,
    /// For events a predicate raises: its statistic name.
    pub token: String,
    /// Notification group.
    pub group: String,
    /// Human-readable message.
    pub message: String,
    /// String metadata, e.g. `{"predicate_id": …}` (sorted by key).
    pub metadata: BTreeMap<String, String>,
    /// Who handles it, if set.
    pub handled_by: Option<String>,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    /// The server-assigned uuid.
    pub uuid: String,
    /// What the device last reported (`ended_on` as stored: the first close wins).
    pub report: EventReport,
    /// `device` or `admin` once closed.
    pub closed_by: Option<String>,
    /// When the server created it, ms since the epoch.
    pub created_at_ms: i64,
    /// When it last changed, ms since the epoch.
    pub updated_at_ms: i64,
}

/// Which events to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventQuery {
    /// Only open (`Some(true)`) or only closed (`Some(false)`) events; all when `None`.
    pub open: Option<bool>,
    /// At most this many, newest first.
    pub limit: usize,
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|f| f.is_finite())
}

impl EventReport {
    /// Reads one batch element. Floats are accepted where the client may send them (it
    /// encodes them in single precision); `ended_on` earlier than `started_on` — single
    /// precision rounds epoch seconds by up to 128 s — is raised to `started_on`.
    pub fn from_json(value: &Value) -> Result<EventReport, String> {
        let map = value.as_object().ok_or("an event must be an object")?;
        let field = |k: &str| map.get(k).ok_or_else(|| format!("no {k}"));
        let started = number(field("started_on")?)
            .filter(|&f| (0.0..9.0e15).contains(&f))
            .ok_or("started_on must be a number of seconds")?;
        let started_on = started as i64;
        let small = |k: &str, max: u64| -> Result<u8, String> {
            field(k)?
                .as_u64()
                .filter(|&v| v <= max)
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(|| format!("{k} must be an integer 0..={max}"))
        };
        let color = small("color", 2)?;
        let alarm_type = small("alarm_type", 1)?;
        let metadata_value = field("metadata")?;
        let meta = metadata_value
            .as_object()
            .ok_or("metadata must be a map of strings")?;
        if meta.len() > MAX_METADATA {
            return Err(format!("more than {MAX_METADATA} metadata entries"));
        }
        let mut metadata = BTreeMap::new();
        for (k, v) in meta {
            metadata.insert(k.clone(), text(v, &format!("metadata.{k}"), true)?);
        }
        let uuid = match map.get("uuid") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let u = text(v, "uuid", false)?;
                if u.len() > 64 || u.chars().any(|c| c.is_control()) {
                    return Err(format!("invalid uuid {u:?}"));
                }
                Some(u)
            }
        };
        let ended_on = match map.get("ended_on") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                number(v)
                    .filter(|&f| (0.0..9.0e15).contains(&f))
                    .ok_or("ended_on must be a number of seconds")?
                    .max(started),
            ),
        };
        let handled_by = match map.get("handled_by") {
            None | Some(Value::Null) => None,
            Some(v) => Some(text(v, "handled_by", true)?),
        };
        let mut report = EventReport {
            uuid,
            started_on,
            ended_on,
            color,
            alarm_type,
            token: text(field("token")?, "token", true)?,
            group: text(field("group")?, "group", true)?,
            message: text(field("message")?, "message", true)?,
            metadata,
            handled_by,
        };
        if report.alarm_type == 1 && report.ended_on.is_none() {
            // A point event is closed by definition.
            report.ended_on = Some(started);
        }
        if report.message.len() + report.token.len() + report.group.len() > MAX_TEXT {
            return Err(format!("the event's texts are longer than {MAX_TEXT} bytes"));
        }
        Ok(report)
    }

    /// The identity of the event this element describes, as stored (metadata as sorted JSON).
    pub fn metadata_json(&self) -> String {
        serde_json::to_string(&self.metadata).unwrap_or_else(|_| "{}".into())
    }
}

/// The metadata of event `uuid` from its stored JSON text ([`EventReport::metadata_json`];
/// every engine).
pub(crate) fn metadata_of(uuid: &str, text: &str) -> Result<BTreeMap<String, String>, super::StorageError> {
    serde_json::from_str(text)
        .map_err(|err| super::StorageError::Corrupt(format!("event {uuid:?} metadata: {err}")))
}

/// Seconds as JSON: an integer when whole.
fn seconds(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

impl EventRecord {
    /// The admin API's form of an event.
    pub fn to_json(&self) -> Value {
        let r = &self.report;
        json!({
            "uuid": self.uuid,
            "open": r.ended_on.is_none(),
            "started_on": r.started_on,
            "ended_on": r.ended_on.map(seconds),
            "color": r.color,
            "alarm_type": r.alarm_type,
            "token": r.token,
            "group": r.group,
            "message": r.message,
            "metadata": r.metadata,
            "handled_by": r.handled_by,
            "closed_by": self.closed_by,
            "created_at": self.created_at_ms,
            "updated_at": self.updated_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element() -> Value {
        json!({"started_on": 1_796_062_739, "color": 2, "alarm_type": 0, "token": "temp.high", "group": "B",
               "message": "Boiler: too hot", "metadata": {"predicate_id": "p1"}})
    }

    #[test]
    fn reads_what_the_client_sends() {
        let e = EventReport::from_json(&element()).unwrap();
        assert_eq!((e.uuid.as_deref(), e.ended_on), (None, None));
        let mut closed = element();
        closed["ended_on"] = json!(1_796_062_720.0_f64); // single precision, before started_on
        closed["uuid"] = json!("u-1");
        let e = EventReport::from_json(&closed).unwrap();
        assert_eq!(e.ended_on, Some(1_796_062_739.0));
        let mut point = element();
        point["alarm_type"] = json!(1);
        assert!(EventReport::from_json(&point).unwrap().ended_on.is_some());
    }

    #[test]
    fn refusals() {
        for (key, bad) in [
            ("color", json!(3)),
            ("alarm_type", json!(2)),
            ("started_on", json!("now")),
            ("metadata", json!({"a": 1})),
            ("token", json!(null)),
            ("uuid", json!(5)),
        ] {
            let mut e = element();
            e[key] = bad.clone();
            assert!(EventReport::from_json(&e).is_err(), "{key}: {bad}");
        }
        let mut e = element();
        e.as_object_mut().unwrap().remove("message");
        assert!(EventReport::from_json(&e).unwrap_err().contains("message"));
    }
}
