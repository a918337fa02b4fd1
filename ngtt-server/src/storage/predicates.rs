//! Predicates (`GET /v1/device/predicates`, HTTP-API.md §7.8): server-configured instances of
//! device-side statistics, with silencing periods.

use serde_json::{json, Map, Value};

use super::device_info::{ident, text, MAX_TEXT};

/// Most silencing periods per predicate.
pub const MAX_SILENCING: usize = 100;

/// A point of the week in the device's time zone: ISO weekday 1–7, hour 0–23, minute 0–59.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WeekTime {
    /// ISO weekday, 1 = Monday.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
}

/// A period in which a predicate opens no events (`start` ≤ now ≤ `stop`, no wrap-around).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Silencing {
    /// First minute silenced.
    pub start: WeekTime,
    /// Last minute silenced.
    pub stop: WeekTime,
}

/// A predicate of a device.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    /// Its id (unique per device).
    pub predicate_id: String,
    /// `false`: the device discards its instance but keeps its saved state.
    pub online: bool,
    /// The statistic name the device matches against its registered classes.
    pub statistic: String,
    /// Handed to the statistic (any JSON; an object in practice).
    pub configuration: Value,
    /// Human-readable name, prefix of event messages.
    pub verbose_name: String,
    /// Notification group.
    pub group: String,
    /// Periods in which it opens no events.
    pub silencing: Vec<Silencing>,
}

impl WeekTime {
    fn to_json(self) -> Value {
        json!({"day": self.day, "hour": self.hour, "minute": self.minute})
    }

    fn from_json(value: &Value, what: &str) -> Result<WeekTime, String> {
        let map = value
            .as_object()
            .ok_or_else(|| format!("{what} must be an object {{\"day\", \"hour\", \"minute\"}}"))?;
        let get = |k: &str, lo: u64, hi: u64| -> Result<u8, String> {
            map.get(k)
                .and_then(Value::as_u64)
                .filter(|v| (lo..=hi).contains(v))
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(|| format!("{what}.{k} must be an integer {lo}..={hi}"))
        };
        if let Some(k) = map
            .keys()
            .find(|k| !["day", "hour", "minute"].contains(&k.as_str()))
        {
            return Err(format!("{what}: unknown field {k:?}"));
        }
        Ok(WeekTime {
            day: get("day", 1, 7)?,
            hour: get("hour", 0, 23)?,
            minute: get("minute", 0, 59)?,
        })
    }
}

impl Silencing {
    /// `{"start": {"day", "hour", "minute"}, "stop": {…}}`.
    pub fn to_json(&self) -> Value {
        json!({"start": self.start.to_json(), "stop": self.stop.to_json()})
    }

    /// Reads one period; a period whose start is after its stop would never match (the
    /// client compares without wrap-around) and is refused.
    pub fn from_json(value: &Value, what: &str) -> Result<Silencing, String> {
        let map = value
            .as_object()
            .ok_or_else(|| format!("{what} must be an object {{\"start\", \"stop\"}}"))?;
        let start = WeekTime::from_json(
            map.get("start").ok_or_else(|| format!("{what} has no start"))?,
            &format!("{what}.start"),
        )?;
        let stop = WeekTime::from_json(
            map.get("stop").ok_or_else(|| format!("{what} has no stop"))?,
            &format!("{what}.stop"),
        )?;
        if start > stop {
            return Err(format!(
                "{what} starts after it stops: the device compares (day, hour, minute) without wrap-around, \
                 so split a period across Sunday midnight in two"
            ));
        }
        Ok(Silencing { start, stop })
    }

    /// Reads a list of periods.
    pub fn list_from_json(value: &Value) -> Result<Vec<Silencing>, String> {
        let list = value.as_array().ok_or("silencing must be a list of periods")?;
        if list.len() > MAX_SILENCING {
            return Err(format!("more than {MAX_SILENCING} silencing periods"));
        }
        list.iter()
            .enumerate()
            .map(|(i, v)| Silencing::from_json(v, &format!("silencing[{i}]")))
            .collect()
    }
}

impl Predicate {
    /// The form served to devices and the admin API: every field, always.
    pub fn to_json(&self) -> Value {
        json!({
            "predicate_id": self.predicate_id,
            "online": self.online,
            "statistic": self.statistic,
            "configuration": self.configuration,
            "verbose_name": self.verbose_name,
            "group": self.group,
            "silencing": self.silencing.iter().map(Silencing::to_json).collect::<Vec<_>>(),
        })
    }

    /// Applies the fields of a JSON object to `self` (a new predicate starts from
    /// [`Predicate::new`]). `predicate_id` may be given only if it matches.
    pub fn apply(&mut self, given: &Value) -> Result<(), String> {
        let map: &Map<String, Value> = given.as_object().ok_or("a predicate must be a JSON object")?;
        for (key, value) in map {
            match key.as_str() {
                "predicate_id" => {
                    if value.as_str() != Some(self.predicate_id.as_str()) {
                        return Err("predicate_id does not match the one in the path".into());
                    }
                }
                "online" => self.online = value.as_bool().ok_or("online must be true or false")?,
                "statistic" => self.statistic = text(value, "statistic", false)?,
                "configuration" => {
                    if value.is_null() {
                        return Err("configuration must not be null (use {})".into());
                    }
                    if value.to_string().len() > MAX_TEXT {
                        return Err(format!("configuration is longer than {MAX_TEXT} bytes"));
                    }
                    self.configuration = value.clone();
                }
                "verbose_name" => self.verbose_name = text(value, "verbose_name", false)?,
                "group" => self.group = text(value, "group", false)?,
                "silencing" => self.silencing = Silencing::list_from_json(value)?,
                other => {
                    return Err(format!(
                        "unknown field {other:?} (known: online, statistic, configuration, verbose_name, group, silencing)"
                    ))
                }
            }
        }
        if self.statistic.is_empty() {
            return Err("a predicate needs a statistic".into());
        }
        Ok(())
    }

    /// A predicate with defaults: online, configuration `{}`, verbose name = id, group `B`
    /// (what the published client assumes for a new predicate), no silencing, no statistic.
    pub fn new(predicate_id: &str) -> Result<Predicate, String> {
        ident(predicate_id, "predicate id")?;
        Ok(Predicate {
            predicate_id: predicate_id.to_owned(),
            online: true,
            statistic: String::new(),
            configuration: json!({}),
            verbose_name: predicate_id.to_owned(),
            group: "B".into(),
            silencing: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_and_serve() {
        let mut p = Predicate::new("p1").unwrap();
        p.apply(&json!({"statistic": "temp.high", "configuration": {"max": 80},
            "silencing": [{"start": {"day": 1, "hour": 8, "minute": 0}, "stop": {"day": 5, "hour": 16, "minute": 30}}]}))
            .unwrap();
        let doc = p.to_json();
        assert_eq!(doc["group"], "B");
        assert_eq!(doc["silencing"][0]["stop"]["minute"], 30);
        assert_eq!(doc["online"], true);
    }

    #[test]
    fn refusals() {
        for (bad, needle) in [
            (json!({}), "statistic"),
            (json!({"statistic": "s", "online": 1}), "online"),
            (
                json!({"statistic": "s", "silencing": [{"start": {"day": 8, "hour": 0, "minute": 0},
                "stop": {"day": 1, "hour": 0, "minute": 0}}]}),
                "day",
            ),
            (
                json!({"statistic": "s", "silencing": [{"start": {"day": 7, "hour": 22, "minute": 0},
                "stop": {"day": 1, "hour": 6, "minute": 0}}]}),
                "wrap-around",
            ),
            (json!({"statistic": "s", "configuration": null}), "null"),
            (json!({"statistic": "s", "colour": 1}), "unknown"),
            (json!({"statistic": "s", "predicate_id": "other"}), "match"),
        ] {
            let err = Predicate::new("p1")
                .unwrap()
                .apply(&bad)
                .expect_err(&bad.to_string());
            assert!(err.contains(needle), "{bad}: {err}");
        }
        assert!(Predicate::new("a/b").is_err());
    }
}
