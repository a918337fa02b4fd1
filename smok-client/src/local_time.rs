//! The device's local time: the wall clock in the time zone of its culture context
//! (`culture_context.timezone` of `GET /v1/device`), the Python client's `get_local_time()`.
//!
//! Time zones come from the IANA database compiled into the program (`tzdb`, on `tz-rs`), so
//! a device without `/usr/share/zoneinfo` (many embedded images) still knows them; `time`
//! gives the date type. The zone is asked of the server once and then kept.

use std::time::SystemTime;

use time::{OffsetDateTime, UtcOffset};

use crate::error::{ClientError, Result};
use crate::SmokDevice;

/// The UTC offset of IANA zone `zone` at `at`; `None` for a zone the database does not know.
pub fn offset_at(zone: &str, at: SystemTime) -> Option<UtcOffset> {
    let tz = tzdb::tz_by_name(zone)?;
    let secs = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok()?,
        Err(e) => -i64::try_from(e.duration().as_secs()).ok()?,
    };
    let local = tz.find_local_time_type(secs).ok()?;
    UtcOffset::from_whole_seconds(local.ut_offset()).ok()
}

/// `at` in IANA zone `zone`; `None` for an unknown zone.
pub fn in_zone(zone: &str, at: SystemTime) -> Option<OffsetDateTime> {
    Some(OffsetDateTime::from(at).to_offset(offset_at(zone, at)?))
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
    pub async fn local_time(&self) -> Result<OffsetDateTime> {
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
        assert_eq!(offset_at("Europe/Warsaw", winter).unwrap().whole_hours(), 1);
        assert_eq!(offset_at("Europe/Warsaw", summer).unwrap().whole_hours(), 2);
        assert_eq!(offset_at("UTC", summer).unwrap().whole_seconds(), 0);
        assert!(offset_at("Mars/Olympus", summer).is_none());
        let local = in_zone("America/New_York", winter).unwrap();
        assert_eq!((local.hour(), local.day()), (19, 24));
    }
}
