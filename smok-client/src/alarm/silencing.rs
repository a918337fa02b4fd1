//! Silencing periods (HTTP-API.md §7.8): when a predicate opens no events. Pure: the caller
//! passes the time and the device's time zone.
//!
//! The time zone is the device's `culture_context.timezone` (an IANA name), resolved with
//! `jiff` from the system's tz database (`/usr/share/zoneinfo`; on platforms without one a
//! bundled copy). An unknown name is an error here; which zone the device then uses is
//! decided by its one owner, [`KnownZone`](crate::local_time::KnownZone).

use std::time::SystemTime;

use jiff::tz::TimeZone;
pub use smok_http::{SilencingPeriod, WeekTime};

/// The device's time zone.
#[derive(Clone, Debug)]
pub struct DeviceZone {
    name: String,
    tz: TimeZone,
}

impl DeviceZone {
    /// UTC.
    pub fn utc() -> DeviceZone {
        DeviceZone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// The zone with this IANA name (`Europe/Warsaw`); an error for a name the tz database
    /// does not have.
    ///
    /// The zone's own file of the system's database is read first ([`zone_file`]); only a name
    /// without one (another spelling, a system without `/usr/share/zoneinfo`) goes to jiff's
    /// database, whose first lookup lists every zone of the system (about 600 names, 80 KiB
    /// kept for the program's life: issue 10, "Memory").
    pub fn named(name: &str) -> Result<DeviceZone, String> {
        zone_file(name)
            .map(Ok)
            .unwrap_or_else(|| TimeZone::get(name))
            .map(|tz| DeviceZone {
                name: name.to_owned(),
                tz,
            })
            .map_err(|e| format!("unknown time zone {name:?}: {e}"))
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The minute of the week `at` in this zone; `None` for a time outside what the calendar
    /// represents (before year -9999 or after 9999).
    pub fn week_time(&self, at: SystemTime) -> Option<WeekTime> {
        let ts = jiff::Timestamp::try_from(at).ok()?;
        let local = ts.to_zoned(self.tz.clone());
        let day = local.weekday().to_monday_one_offset();
        WeekTime::new(day as u64, local.hour() as u64, local.minute() as u64).ok()
    }

    /// The local date and time `at` in this zone (the Python client's `get_local_time`).
    pub fn local_time(&self, at: SystemTime) -> Option<jiff::Zoned> {
        Some(jiff::Timestamp::try_from(at).ok()?.to_zoned(self.tz.clone()))
    }
}

/// The directories jiff searches for the system's tz database, in its order (`TZDIR` first).
const ZONEINFO_DIRS: [&str; 3] = ["/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo"];

/// The zone `name` read from its own TZif file in the system's tz database (the first of
/// `TZDIR` and jiff's directories that has one); `None` when no such file parses, or when
/// `name` is not a plain relative path (`..`, an absolute path: nothing outside the database is
/// read). The caller then asks jiff's database, which knows every spelling jiff accepts.
fn zone_file(name: &str) -> Option<TimeZone> {
    use std::path::{Component, Path, PathBuf};
    let relative = Path::new(name);
    let plain = !name.is_empty() && relative.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return None;
    }
    let tzdir = std::env::var_os("TZDIR").map(PathBuf::from);
    tzdir
        .into_iter()
        .chain(ZONEINFO_DIRS.iter().map(PathBuf::from))
        .find_map(|dir| {
            let bytes = std::fs::read(dir.join(relative)).ok()?;
            TimeZone::tzif(name, &bytes).ok()
        })
}

/// Whether `at` lies in one of `periods`.
pub fn is_silenced(periods: &[SilencingPeriod], at: WeekTime) -> bool {
    periods.iter().any(|p| p.contains(at))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use proptest::prelude::*;

    use super::*;

    fn wt(day: u64, hour: u64, minute: u64) -> WeekTime {
        WeekTime::new(day, hour, minute).unwrap()
    }

    fn period(a: WeekTime, b: WeekTime) -> SilencingPeriod {
        SilencingPeriod { start: a, stop: b }
    }

    #[test]
    fn week_times_in_zones() {
        // 2026-11-30 is a Monday; 23:30 UTC is 00:30 on Tuesday in Warsaw (UTC+1 in winter).
        let at = UNIX_EPOCH + Duration::from_secs(1_796_081_400);
        assert_eq!(DeviceZone::utc().week_time(at), Some(wt(1, 23, 30)));
        let warsaw = DeviceZone::named("Europe/Warsaw").unwrap();
        assert_eq!(warsaw.week_time(at), Some(wt(2, 0, 30)));
        assert!(DeviceZone::named("Mars/Olympus").is_err());
    }

    #[test]
    fn a_zone_from_its_own_file_is_the_databases_zone() {
        // Where the system has a tz database, the zone's file gives what jiff's database gives.
        let at = UNIX_EPOCH + Duration::from_secs(1_782_900_000); // July 2026: summer time
        if let Some(file) = zone_file("Europe/Warsaw") {
            let db = TimeZone::get("Europe/Warsaw").unwrap();
            let ts = jiff::Timestamp::try_from(at).unwrap();
            assert_eq!(file.to_offset(ts), db.to_offset(ts));
            assert_eq!(file.iana_name(), Some("Europe/Warsaw"));
        }
        // Nothing outside the database is read; such names still go to jiff's database.
        for name in ["", "/etc/localtime", "../zoneinfo/UTC", "Europe/../UTC", "./UTC"] {
            assert!(zone_file(name).is_none(), "{name:?}");
        }
        assert!(DeviceZone::named("/etc/passwd").is_err());
    }

    #[test]
    fn periods_are_inclusive_and_do_not_wrap() {
        let weekdays = period(wt(1, 8, 0), wt(5, 17, 59));
        assert!(is_silenced(&[weekdays], wt(1, 8, 0)));
        assert!(is_silenced(&[weekdays], wt(5, 17, 59)));
        assert!(!is_silenced(&[weekdays], wt(5, 18, 0)));
        assert!(!is_silenced(&[weekdays], wt(1, 7, 59)));
        let sunday_to_monday = period(wt(7, 22, 0), wt(1, 6, 0));
        assert!(!is_silenced(&[sunday_to_monday], wt(7, 23, 0)));
        assert!(!is_silenced(&[], wt(7, 23, 0)));
    }

    fn any_week_time() -> impl Strategy<Value = WeekTime> {
        (1u64..=7, 0u64..24, 0u64..60).prop_map(|(d, h, m)| wt(d, h, m))
    }

    proptest! {
        /// Silenced exactly when the minute of the week lies between start and stop, counted
        /// as minutes since Monday 00:00.
        #[test]
        fn silenced_iff_between(a in any_week_time(), b in any_week_time(), t in any_week_time()) {
            let minutes = |w: WeekTime| (w.day as u32 - 1) * 1440 + w.hour as u32 * 60 + w.minute as u32;
            let expected = minutes(a) <= minutes(t) && minutes(t) <= minutes(b);
            prop_assert_eq!(is_silenced(&[period(a, b)], t), expected);
        }

        /// In UTC the week time follows the epoch: 1970-01-01 was a Thursday.
        #[test]
        fn utc_week_time_from_epoch(secs in 0u64..4_000_000_000) {
            let got = DeviceZone::utc().week_time(UNIX_EPOCH + Duration::from_secs(secs)).unwrap();
            let days = secs / 86_400;
            prop_assert_eq!(got.day as u64, (days + 3) % 7 + 1);
            prop_assert_eq!(got.hour as u64, secs % 86_400 / 3600);
            prop_assert_eq!(got.minute as u64, secs % 3600 / 60);
        }

        /// A zone shifts the week time by its offset, whole minutes only.
        #[test]
        fn fixed_offsets_shift(secs in 100_000u64..4_000_000_000) {
            let tokyo = DeviceZone::named("Asia/Tokyo").unwrap(); // UTC+9, no DST since 1951
            let at = UNIX_EPOCH + Duration::from_secs(secs);
            let shifted = UNIX_EPOCH + Duration::from_secs(secs + 9 * 3600);
            prop_assert_eq!(tokyo.week_time(at), DeviceZone::utc().week_time(shifted));
        }
    }
}
