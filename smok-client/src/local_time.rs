//! The device's local time: the wall clock in the time zone of its culture context
//! (`culture_context.timezone` of `GET /v1/device`), the Python client's `get_local_time()`.
//!
//! Time zones are resolved by `jiff` (the same [`DeviceZone`](crate::alarm::DeviceZone) that
//! silencing periods use): from the system's tz database, or from the copy compiled into the
//! program on a device without `/usr/share/zoneinfo` (many embedded images). The zone is asked
//! of the server once and then kept.

use std::time::SystemTime;

use jiff::tz::Offset;
use jiff::Zoned;

use crate::alarm::DeviceZone;
use crate::error::{ClientError, Result};
use crate::SmokDevice;

/// The UTC offset of IANA zone `zone` at `at`; `None` for a zone the database does not know.
pub fn offset_at(zone: &str, at: SystemTime) -> Option<Offset> {
    Some(in_zone(zone, at)?.offset())
}

/// `at` in IANA zone `zone`; `None` for an unknown zone or a time outside the calendar.
pub fn in_zone(zone: &str, at: SystemTime) -> Option<Zoned> {
    DeviceZone::named(zone).ok()?.local_time(at)
}

impl SmokDevice {
    /// The device's time zone (IANA name), from its culture context: asked of the server the
    /// first time, then kept.
    pub async fn timezone(&self) -> Result<String> {
        let cell = &self.extras().timezone;
        if let Some(zone) = cell.get() {
            return Ok(zone.clone());
        }
        let zone = self.device_info().await?.culture_context.timezone;
        Ok(cell.get_or_init(|| zone).clone())
    }

    /// The wall-clock time now in the device's time zone. Fails when the server cannot be
    /// asked the first time, or names a zone the database does not know.
    pub async fn local_time(&self) -> Result<Zoned> {
        let zone = self.timezone().await?;
        in_zone(&zone, SystemTime::now())
            .ok_or_else(|| ClientError::Config(format!("unknown time zone {zone:?}")))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn zones_follow_daylight_saving() {
        let winter = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_564_800); // 2026-11-25
        let summer = SystemTime::UNIX_EPOCH + Duration::from_secs(1_783_000_000); // 2026-07-02
        assert_eq!(offset_at("Europe/Warsaw", winter).unwrap().seconds(), 3600);
        assert_eq!(offset_at("Europe/Warsaw", summer).unwrap().seconds(), 7200);
        assert_eq!(offset_at("UTC", summer).unwrap().seconds(), 0);
        assert!(offset_at("Mars/Olympus", summer).is_none());
        let local = in_zone("America/New_York", winter).unwrap();
        assert_eq!((local.hour(), local.day()), (19, 24));
    }
}
