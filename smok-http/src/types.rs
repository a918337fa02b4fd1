//! The typed answers and requests of the device HTTP API that NGTT has no payload type for
//! (orders, pathpoint series and log records come from [`ngtt_proto::payload`]).

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// The answer of `GET /v1/device`: who the server thinks this device is, and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The device id (from the certificate).
    pub device_id: String,
    /// A human-readable name.
    #[serde(default)]
    pub verbose_name: String,
    /// Feature flags of the device.
    #[serde(default)]
    pub facets: Vec<String>,
    /// Language, time zone and units to present data in.
    #[serde(default)]
    pub culture_context: CultureContext,
    /// Devices behind this one (e.g. MODBUS slaves) and how to reach them.
    #[serde(default)]
    pub slave_devices: Vec<SlaveDevice>,
}

/// Language, time zone and units of a device (`culture_context`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CultureContext {
    /// Language code, e.g. `en`.
    pub language: String,
    /// IANA time zone, e.g. `UTC` or `Europe/Warsaw`.
    pub timezone: String,
    /// `metric` or `imperial`.
    pub units: String,
}

impl Default for CultureContext {
    /// `en`, `UTC`, `metric`: what a server answers for a device nobody configured.
    fn default() -> Self {
        CultureContext {
            language: "en".into(),
            timezone: "UTC".into(),
            units: "metric".into(),
        }
    }
}

/// A slave device of this device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlaveDevice {
    /// The slave's id.
    pub device_id: String,
    /// The controller the slave hangs off.
    pub master_controller: String,
    /// The service on this device that talks to it.
    pub responsible_service: String,
    /// Service-specific configuration, as the server sent it.
    #[serde(default)]
    pub configuration: serde_json::Value,
}

/// How long the server keeps a pathpoint's data: `0` permanent, `1` trend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageLevel {
    /// 0: kept for ever.
    Permanent = 0,
    /// 1: a trend, kept for a limited time.
    Trend = 1,
}

impl Serialize for StorageLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

impl<'de> Deserialize<'de> for StorageLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match i64::deserialize(d)? {
            0 => Ok(StorageLevel::Permanent),
            1 => Ok(StorageLevel::Trend),
            n => Err(de::Error::custom(format!(
                "unknown storage level {n} (expected 0 or 1)"
            ))),
        }
    }
}

/// A pathpoint registration (`PUT /v1/device/pathpoints`): `{"path", "storage_level"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PathpointRegistration {
    /// The pathpoint's name; its first letter is its type (NGTT.md §7).
    pub path: String,
    /// How long its data is kept.
    pub storage_level: StorageLevel,
}

impl PathpointRegistration {
    /// A registration of `path` at `storage_level`.
    pub fn new(path: impl Into<String>, storage_level: StorageLevel) -> Self {
        PathpointRegistration {
            path: path.into(),
            storage_level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_info_defaults_and_levels() {
        let info: DeviceInfo = serde_json::from_str(r#"{"device_id": "1"}"#).unwrap();
        assert_eq!(info.culture_context, CultureContext::default());
        assert!(info.facets.is_empty() && info.slave_devices.is_empty());
        let reg = PathpointRegistration::new("W1", StorageLevel::Trend);
        assert_eq!(
            serde_json::to_string(&reg).unwrap(),
            r#"{"path":"W1","storage_level":1}"#
        );
        let back: PathpointRegistration = minijson::from_slice(&minijson::to_vec(&reg).unwrap()).unwrap();
        assert_eq!(back, reg);
        assert!(serde_json::from_str::<StorageLevel>("2").is_err());
    }
}
