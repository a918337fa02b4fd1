//! The device document of `GET /v1/device`: per-device settings (set through the admin API)
//! merged over defaults.
//!
//! Defaults for a device nobody configured: `{"device_id": <id>, "verbose_name": <id>,
//! "facets": [], "culture_context": {"language": "en", "timezone": "UTC", "units": "metric"},
//! "slave_devices": []}`. Stored settings replace the defaults key by key, except
//! `culture_context`, which is merged one level deeper (setting only `timezone` keeps `en` and
//! `metric`). `device_id` always comes from the certificate and cannot be set. Keys this server
//! does not know are kept and served as they are.

use serde_json::{json, Map, Value};

/// The document served to `device_id` given its stored `settings`.
pub(crate) fn device_document(device_id: &str, settings: Option<&Value>) -> Value {
    let mut doc = json!({
        "device_id": device_id,
        "verbose_name": device_id,
        "facets": [],
        "culture_context": {"language": "en", "timezone": "UTC", "units": "metric"},
        "slave_devices": [],
    });
    let (Some(Value::Object(settings)), Value::Object(out)) = (settings, &mut doc) else {
        return doc;
    };
    for (key, value) in settings {
        match (key.as_str(), value) {
            ("device_id", _) => {}
            ("culture_context", Value::Object(given)) => {
                if let Some(Value::Object(ctx)) = out.get_mut("culture_context") {
                    for (k, v) in given {
                        ctx.insert(k.clone(), v.clone());
                    }
                }
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    doc
}

fn expect_string(value: &Value, what: &str) -> Result<(), String> {
    if value.is_string() {
        Ok(())
    } else {
        Err(format!("{what} must be a string"))
    }
}

/// Checks settings given to the admin API and returns them as stored: a JSON object whose
/// known keys have the right types; a slave device without `configuration` gets `{}`.
pub(crate) fn validate_settings(settings: Value) -> Result<Value, String> {
    let Value::Object(mut map) = settings else {
        return Err("the settings must be a JSON object".into());
    };
    if map.contains_key("device_id") {
        return Err("device_id cannot be set: it comes from the device's certificate".into());
    }
    if let Some(name) = map.get("verbose_name") {
        expect_string(name, "verbose_name")?;
    }
    if let Some(facets) = map.get("facets") {
        let list = facets.as_array().ok_or("facets must be a list of strings")?;
        for (i, facet) in list.iter().enumerate() {
            expect_string(facet, &format!("facets[{i}]"))?;
        }
    }
    if let Some(ctx) = map.get("culture_context") {
        let ctx = ctx
            .as_object()
            .ok_or("culture_context must be an object {\"language\", \"timezone\", \"units\"}")?;
        for key in ["language", "timezone", "units"] {
            if let Some(v) = ctx.get(key) {
                expect_string(v, &format!("culture_context.{key}"))?;
            }
        }
    }
    if let Some(slaves) = map.get_mut("slave_devices") {
        let list = slaves
            .as_array_mut()
            .ok_or("slave_devices must be a list of objects")?;
        for (i, slave) in list.iter_mut().enumerate() {
            let slave: &mut Map<String, Value> = slave
                .as_object_mut()
                .ok_or_else(|| format!("slave_devices[{i}] must be an object"))?;
            for key in ["device_id", "master_controller", "responsible_service"] {
                let value = slave
                    .get(key)
                    .ok_or_else(|| format!("slave_devices[{i}] has no {key}"))?;
                expect_string(value, &format!("slave_devices[{i}].{key}"))?;
            }
            slave
                .entry("configuration")
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_merge() {
        let doc = device_document("dev1", None);
        assert_eq!(doc["verbose_name"], "dev1");
        assert_eq!(doc["culture_context"]["units"], "metric");
        let settings = json!({"verbose_name": "Boiler", "culture_context": {"timezone": "Europe/Warsaw"},
                              "extra": 1, "device_id": "spoof"});
        let doc = device_document("dev1", Some(&settings));
        assert_eq!(doc["device_id"], "dev1");
        assert_eq!(doc["verbose_name"], "Boiler");
        assert_eq!(doc["extra"], 1);
        assert_eq!(
            doc["culture_context"],
            json!({"language": "en", "timezone": "Europe/Warsaw", "units": "metric"})
        );
    }

    #[test]
    fn validation() {
        let ok = validate_settings(json!({"facets": ["a"], "slave_devices": [
            {"device_id": "s1", "master_controller": "m", "responsible_service": "modbus"}]}))
        .expect("valid");
        assert_eq!(ok["slave_devices"][0]["configuration"], json!({}));
        for (bad, needle) in [
            (json!([]), "object"),
            (json!({"device_id": "x"}), "certificate"),
            (json!({"verbose_name": 1}), "verbose_name"),
            (json!({"facets": [1]}), "facets[0]"),
            (json!({"culture_context": "en"}), "culture_context"),
            (json!({"culture_context": {"units": 2}}), "culture_context.units"),
            (
                json!({"slave_devices": [{"device_id": "s"}]}),
                "master_controller",
            ),
        ] {
            let err = validate_settings(bad.clone()).expect_err(&bad.to_string());
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
