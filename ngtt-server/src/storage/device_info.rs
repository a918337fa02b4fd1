//! Device information (`GET /v1/device`, HTTP-API.md §7.1) and slave-device instrumentation
//! (§7.14): the typed records, their defaults and the checks every writer goes through.

use serde_json::{json, Map, Value};

/// Largest text field (names, configuration, instrumentation) accepted, in bytes.
pub const MAX_TEXT: usize = 64 << 10;
/// Most facets or slave devices a device may have.
pub const MAX_ITEMS: usize = 1_000;

/// Language, time zone and units of a device (`culture_context`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CultureContext {
    /// ISO 639-1 language code, e.g. `en`.
    pub language: String,
    /// tz-database name, e.g. `Europe/Warsaw`.
    pub timezone: String,
    /// `metric` or `imperial`.
    pub units: String,
}

impl Default for CultureContext {
    fn default() -> Self {
        CultureContext {
            language: "en".into(),
            timezone: "UTC".into(),
            units: "metric".into(),
        }
    }
}

/// A slave device of a master device.
#[derive(Clone, Debug, PartialEq)]
pub struct SlaveDevice {
    /// The slave's id (unique among its master's slaves).
    pub device_id: String,
    /// The master's device id (defaults to the device that lists the slave).
    pub master_controller: String,
    /// The service that talks to it, in practice `rapid`.
    pub responsible_service: String,
    /// Its configuration: a string per HTTP-API.md (`"modbus 9600 8n1"`); other JSON values
    /// are kept and served as given.
    pub configuration: Value,
}

/// What `GET /v1/device` serves besides the device id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceInfo {
    /// Human-readable name; the device id when never set.
    pub verbose_name: Option<String>,
    /// Interfaces through which the device may be accessed.
    pub facets: Vec<String>,
    /// Language, time zone and units.
    pub culture_context: CultureContext,
    /// Its slave devices, in the order given.
    pub slave_devices: Vec<SlaveDevice>,
}

/// A slave device's link state and instrumentation (`/v1/device/instrumentation/{slave}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instrumentation {
    /// JSON text of the link-state object (`{}` until set).
    pub linkstate: String,
    /// Free text describing the slave's condition (empty until set).
    pub instrumentation: String,
}

/// A change of [`Instrumentation`]: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstrumentationPatch {
    /// New link-state JSON text.
    pub linkstate: Option<String>,
    /// New instrumentation text.
    pub instrumentation: Option<String>,
}

impl DeviceInfo {
    /// The document served to `device_id` (every field the published client requires).
    pub fn document(&self, device_id: &str) -> Value {
        let slaves: Vec<Value> = self
            .slave_devices
            .iter()
            .map(|s| {
                json!({
                    "device_id": s.device_id,
                    "master_controller": s.master_controller,
                    "responsible_service": s.responsible_service,
                    "configuration": s.configuration,
                })
            })
            .collect();
        json!({
            "device_id": device_id,
            "verbose_name": self.verbose_name.as_deref().unwrap_or(device_id),
            "facets": self.facets,
            "culture_context": {
                "language": self.culture_context.language,
                "timezone": self.culture_context.timezone,
                "units": self.culture_context.units,
            },
            "slave_devices": slaves,
        })
    }

    /// Applies the fields of a JSON object to `self` (a PUT starts from the defaults, a PATCH
    /// from the stored record). `device_id` names the master for slaves without
    /// `master_controller`. Unknown keys are refused.
    pub fn apply(&mut self, device_id: &str, given: &Value) -> Result<(), String> {
        let map = given
            .as_object()
            .ok_or("the device information must be a JSON object")?;
        for (key, value) in map {
            match key.as_str() {
                "device_id" => {
                    if value.as_str() != Some(device_id) {
                        return Err("device_id cannot be set: it comes from the device's certificate".into());
                    }
                }
                "verbose_name" => self.verbose_name = Some(text(value, "verbose_name", false)?),
                "facets" => self.facets = facets(value)?,
                "culture_context" => self.culture_context = culture(&self.culture_context, value)?,
                "slave_devices" => self.slave_devices = slaves(device_id, value)?,
                other => {
                    return Err(format!(
                    "unknown field {other:?} (known: verbose_name, facets, culture_context, slave_devices)"
                ))
                }
            }
        }
        Ok(())
    }
}

/// A non-empty (unless `empty_ok`) string without control characters, at most [`MAX_TEXT`].
pub(crate) fn text(value: &Value, what: &str, empty_ok: bool) -> Result<String, String> {
    let s = value.as_str().ok_or_else(|| format!("{what} must be a string"))?;
    if s.is_empty() && !empty_ok {
        return Err(format!("{what} must not be empty"));
    }
    if s.len() > MAX_TEXT {
        return Err(format!("{what} is longer than {MAX_TEXT} bytes"));
    }
    Ok(s.to_owned())
}

/// An identifier: 1..=255 bytes, no control characters, no `/`.
pub(crate) fn ident(value: &str, what: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 255 || value.chars().any(|c| c.is_control() || c == '/') {
        return Err(format!(
            "invalid {what} {value:?}: 1 to 255 bytes, no control characters, no '/'"
        ));
    }
    Ok(())
}

fn facets(value: &Value) -> Result<Vec<String>, String> {
    let list = value.as_array().ok_or("facets must be a list of strings")?;
    if list.len() > MAX_ITEMS {
        return Err(format!("more than {MAX_ITEMS} facets"));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, f) in list.iter().enumerate() {
        let f = text(f, &format!("facets[{i}]"), false)?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

fn culture(current: &CultureContext, value: &Value) -> Result<CultureContext, String> {
    let map = value
        .as_object()
        .ok_or("culture_context must be an object {\"language\", \"timezone\", \"units\"}")?;
    let mut ctx = current.clone();
    for (key, v) in map {
        let what = format!("culture_context.{key}");
        match key.as_str() {
            "language" => {
                let l = text(v, &what, false)?;
                if l.len() != 2 || !l.bytes().all(|b| b.is_ascii_lowercase()) {
                    return Err(format!(
                        "{what} must be an ISO 639-1 code (two lowercase letters), not {l:?}"
                    ));
                }
                ctx.language = l;
            }
            "timezone" => {
                let tz = text(v, &what, false)?;
                let ok = tz.len() <= 64
                    && tz.split('/').all(|part| {
                        !part.is_empty()
                            && part != "."
                            && part != ".."
                            && part
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
                    });
                if !ok {
                    return Err(format!(
                        "{what} must be a tz-database name such as Europe/Warsaw, not {tz:?}"
                    ));
                }
                ctx.timezone = tz;
            }
            "units" => {
                let u = text(v, &what, false)?;
                if u != "metric" && u != "imperial" {
                    return Err(format!("{what} must be \"metric\" or \"imperial\", not {u:?}"));
                }
                ctx.units = u;
            }
            other => return Err(format!("unknown field culture_context.{other}")),
        }
    }
    Ok(ctx)
}

fn slaves(master: &str, value: &Value) -> Result<Vec<SlaveDevice>, String> {
    let list = value
        .as_array()
        .ok_or("slave_devices must be a list of objects")?;
    if list.len() > MAX_ITEMS {
        return Err(format!("more than {MAX_ITEMS} slave devices"));
    }
    let mut out: Vec<SlaveDevice> = Vec::with_capacity(list.len());
    for (i, slave) in list.iter().enumerate() {
        let map: &Map<String, Value> = slave
            .as_object()
            .ok_or_else(|| format!("slave_devices[{i}] must be an object"))?;
        if let Some(k) = map.keys().find(|k| {
            ![
                "device_id",
                "master_controller",
                "responsible_service",
                "configuration",
            ]
            .contains(&k.as_str())
        }) {
            return Err(format!("slave_devices[{i}]: unknown field {k:?}"));
        }
        let id = text(
            map.get("device_id")
                .ok_or_else(|| format!("slave_devices[{i}] has no device_id"))?,
            &format!("slave_devices[{i}].device_id"),
            false,
        )?;
        ident(&id, &format!("slave_devices[{i}].device_id"))?;
        if id.contains(['?', '#', '%', '\\']) {
            // The client puts the id into its URL as it is: these would cut or garble the path.
            return Err(format!(
                "slave_devices[{i}].device_id {id:?} must not contain ?, #, % or \\"
            ));
        }
        if out.iter().any(|s| s.device_id == id) {
            return Err(format!("slave_devices[{i}]: slave {id:?} is listed twice"));
        }
        let master_controller = match map.get("master_controller") {
            Some(v) => text(v, &format!("slave_devices[{i}].master_controller"), false)?,
            None => master.to_owned(),
        };
        let responsible_service = match map.get("responsible_service") {
            Some(v) => text(v, &format!("slave_devices[{i}].responsible_service"), false)?,
            None => "rapid".to_owned(),
        };
        let configuration = match map.get("configuration") {
            None => Value::String(String::new()),
            Some(Value::Null) => return Err(format!("slave_devices[{i}].configuration must not be null")),
            Some(v) if v.to_string().len() > MAX_TEXT => {
                return Err(format!(
                    "slave_devices[{i}].configuration is longer than {MAX_TEXT} bytes"
                ))
            }
            Some(v) => v.clone(),
        };
        out.push(SlaveDevice {
            device_id: id,
            master_controller,
            responsible_service,
            configuration,
        });
    }
    Ok(out)
}

impl InstrumentationPatch {
    /// Reads a PATCH body: an object with `linkstate` (JSON text of an object) and/or
    /// `instrumentation` (text), nothing else.
    pub fn from_json(value: &Value) -> Result<InstrumentationPatch, String> {
        let map = value
            .as_object()
            .ok_or("expected an object {\"linkstate\": text} or {\"instrumentation\": text}")?;
        let mut patch = InstrumentationPatch::default();
        for (key, v) in map {
            match key.as_str() {
                "linkstate" => {
                    let t = text(v, "linkstate", false)?;
                    let parsed: Value = serde_json::from_str(&t)
                        .map_err(|e| format!("linkstate must be JSON text of an object: {e}"))?;
                    let obj = parsed
                        .as_object()
                        .ok_or("linkstate must be JSON text of an object")?;
                    if let Some(status) = obj.get("status") {
                        if !status.is_boolean() {
                            return Err("linkstate.status must be true or false".into());
                        }
                    }
                    patch.linkstate = Some(t);
                }
                "instrumentation" => patch.instrumentation = Some(text(v, "instrumentation", true)?),
                other => {
                    return Err(format!(
                        "unknown field {other:?} (expected linkstate or instrumentation)"
                    ))
                }
            }
        }
        if patch.linkstate.is_none() && patch.instrumentation.is_none() {
            return Err("nothing to change: give linkstate or instrumentation".into());
        }
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_apply() {
        let mut info = DeviceInfo::default();
        let doc = info.document("dev1");
        assert_eq!(doc["verbose_name"], "dev1");
        assert_eq!(doc["culture_context"]["timezone"], "UTC");
        info.apply(
            "dev1",
            &json!({"verbose_name": "Boiler", "culture_context": {"timezone": "Europe/Warsaw"},
                    "slave_devices": [{"device_id": "s1", "configuration": "modbus 9600 8n1"}]}),
        )
        .expect("valid");
        let doc = info.document("dev1");
        assert_eq!(doc["culture_context"]["language"], "en");
        assert_eq!(doc["culture_context"]["timezone"], "Europe/Warsaw");
        assert_eq!(doc["slave_devices"][0]["master_controller"], "dev1");
        assert_eq!(doc["slave_devices"][0]["responsible_service"], "rapid");
    }

    #[test]
    fn refusals() {
        for (bad, needle) in [
            (json!([]), "object"),
            (json!({"device_id": "x"}), "certificate"),
            (json!({"verbose_name": 1}), "verbose_name"),
            (json!({"facets": [1]}), "facets[0]"),
            (json!({"culture_context": "en"}), "culture_context"),
            (json!({"culture_context": {"units": "furlongs"}}), "units"),
            (json!({"culture_context": {"language": "english"}}), "ISO 639-1"),
            (json!({"culture_context": {"timezone": "../etc"}}), "tz-database"),
            (json!({"slave_devices": [{"configuration": "x"}]}), "device_id"),
            (
                json!({"slave_devices": [{"device_id": "a?b"}]}),
                "must not contain",
            ),
            (
                json!({"slave_devices": [{"device_id": "a"}, {"device_id": "a"}]}),
                "twice",
            ),
            (json!({"extra": 1}), "unknown field"),
        ] {
            let err = DeviceInfo::default()
                .apply("dev1", &bad)
                .expect_err(&bad.to_string());
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn instrumentation_patches() {
        let p = InstrumentationPatch::from_json(
            &json!({"linkstate": "{\"status\":false,\"failed_devices\":[3]}"}),
        )
        .expect("valid");
        assert!(p.linkstate.is_some() && p.instrumentation.is_none());
        for bad in [
            json!({}),
            json!({"linkstate": "not json"}),
            json!({"linkstate": "[1]"}),
            json!({"linkstate": "{\"status\": 1}"}),
            json!({"instrumentation": 5}),
            json!({"other": "x"}),
        ] {
            assert!(InstrumentationPatch::from_json(&bad).is_err(), "{bad}");
        }
    }
}
