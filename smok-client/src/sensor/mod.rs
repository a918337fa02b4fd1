//! Sensors (HTTP-API.md §7.6): server-defined views over pathpoints, synced from the server,
//! read and written through the device's pathpoints; and the records of the sensor write log
//! (§7.7).

mod kind;

pub use kind::{SensorType, SensorValue, DEFAULT_NUMERIC};
pub use smok_http::{SensorDefinition, SensorWriteRecord};

/// The canonical form of a tag set: its words sorted and joined by single spaces
/// (`"zeta  alpha"` → `"alpha zeta"`).
pub fn fqtsify(tags: &str) -> String {
    let mut words: Vec<&str> = tags.split_whitespace().collect();
    words.sort_unstable();
    words.dedup();
    words.join(" ")
}

/// Longest sensor definition field accepted, in bytes.
pub const MAX_SENSOR_FIELD: usize = 4096;

/// Most pathpoints one sensor may join with `~`.
pub const MAX_SENSOR_PATHS: usize = 64;

/// A sensor as the device knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sensor {
    fqts: String,
    paths: Vec<String>,
    type_name: String,
    kind: SensorType,
}

impl Sensor {
    /// A sensor from the server's definition: the tag set canonicalised, the path split at
    /// `~` (each a pathpoint name with a type letter, or a reparse name), the type parsed.
    /// Fails with the reason for a definition that cannot be used.
    pub fn from_definition(def: &SensorDefinition) -> Result<Sensor, String> {
        for (field, value) in [("fqts", &def.fqts), ("path", &def.path), ("type", &def.type_name)] {
            if value.len() > MAX_SENSOR_FIELD {
                return Err(format!("{field} is {} bytes long", value.len()));
            }
        }
        let fqts = fqtsify(&def.fqts);
        if fqts.is_empty() {
            return Err("an empty tag set".into());
        }
        let paths: Vec<String> = def.path.split('~').map(str::to_owned).collect();
        if paths.len() > MAX_SENSOR_PATHS {
            return Err(format!("{} pathpoints", paths.len()));
        }
        for path in &paths {
            ngtt_proto::payload::PathpointType::of(path).map_err(|e| e.to_string())?;
            if path.starts_with('r') {
                crate::reparse::ReparsePath::parse(path).map_err(|e| format!("pathpoint {path:?}: {e}"))?;
            }
        }
        Ok(Sensor {
            fqts,
            paths,
            kind: SensorType::parse(&def.type_name)?,
            type_name: def.type_name.clone(),
        })
    }

    /// The canonical tag set, which names the sensor.
    pub fn fqts(&self) -> &str {
        &self.fqts
    }

    /// Its pathpoints.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// Its type's name, as the server sent it.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// Its type.
    pub fn kind(&self) -> SensorType {
        self.kind
    }

    /// The definition it was made from (canonical tag set).
    pub fn definition(&self) -> SensorDefinition {
        SensorDefinition {
            fqts: self.fqts.clone(),
            path: self.paths.join("~"),
            type_name: self.type_name.clone(),
        }
    }

    /// A record for the sensor write log: `who` wrote `value` for `reason`, at `timestamp_ms`.
    /// The human-readable fields default to the tag set and the value.
    pub fn write_record(&self, timestamp_ms: u64, who: &str, reason: &str, value: &str) -> SensorWriteRecord {
        SensorWriteRecord {
            timestamp: timestamp_ms,
            who: who.to_owned(),
            hr_sensor: self.fqts.clone(),
            hr_value: value.to_owned(),
            fqts: self.fqts.clone(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(fqts: &str, path: &str, t: &str) -> SensorDefinition {
        SensorDefinition {
            fqts: fqts.into(),
            path: path.into(),
            type_name: t.into(),
        }
    }

    #[test]
    fn definitions() {
        assert_eq!(fqtsify("zeta  alpha beta"), "alpha beta zeta");
        let s = Sensor::from_definition(&def("temp boiler", "W1~rf{W2}*2", "std.Number10")).unwrap();
        assert_eq!(s.fqts(), "boiler temp");
        assert_eq!(s.paths(), ["W1", "rf{W2}*2"]);
        assert_eq!(s.definition().path, "W1~rf{W2}*2");
        for bad in [
            def("", "W1", "x"),
            def("a", "Q1", "x"),
            def("a", "W1~", "x"),
            def("a", "rf{W1", "x"),
            def("a", "W1", "x(eval('1'))"),
        ] {
            assert!(Sensor::from_definition(&bad).is_err(), "{bad:?}");
        }
        let r = s.write_record(5, "op", "test", "21.5");
        assert_eq!(
            (r.hr_sensor.as_str(), r.hr_value.as_str()),
            ("boiler temp", "21.5")
        );
    }
}
