//! The device's time zone and local time: the zone of its culture context
//! (`culture_context.timezone` of `GET /v1/device`), the Python client's `timezone` and
//! `get_local_time()`.
//!
//! One owner: [`KnownZone`] (pure, fed with the server's answers and an explicit time) holds
//! what the device knows; the device keeps one, persists it in its store (so a restart without
//! network knows the zone), refreshes it from the server every `time_zone_refresh_interval` (so
//! a change made on the server reaches the device) and with every `device_info()` the program
//! makes. Silencing periods ([`SmokDevice::time_zone`]) and [`SmokDevice::local_time`] both
//! read it.
//!
//! Time zones are resolved by `jiff` ([`DeviceZone`]): from the system's tz database, or from
//! the copy compiled into the program on a device without `/usr/share/zoneinfo` (many embedded
//! images).

use std::time::SystemTime;

use jiff::tz::Offset;
use jiff::Zoned;

use crate::alarm::DeviceZone;
#[cfg(doc)]
use crate::SmokDevice;

/// The longest zone name taken from the server (the longest IANA name has 32 bytes).
pub const MAX_ZONE_NAME: usize = 64;

/// The UTC offset of IANA zone `zone` at `at`; `None` for a zone the database does not know.
pub fn offset_at(zone: &str, at: SystemTime) -> Option<Offset> {
    Some(in_zone(zone, at)?.offset())
}

/// `at` in IANA zone `zone`; `None` for an unknown zone or a time outside the calendar.
pub fn in_zone(zone: &str, at: SystemTime) -> Option<Zoned> {
    DeviceZone::named(zone).ok()?.local_time(at)
}

/// Where the zone the device uses came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneSource {
    /// Nothing known yet: UTC is used.
    Unknown,
    /// Kept in the store by an earlier run; not yet confirmed by the server in this one.
    Stored,
    /// Answered by the server in this run.
    Server,
}

/// What one answer of the server did to the zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneUpdate {
    /// The zone the device had: nothing to store.
    Unchanged,
    /// A new zone (the first one, or a change made on the server): to be stored.
    Changed {
        /// The zone used before, if one was known.
        from: Option<String>,
        /// The zone now used.
        to: String,
    },
    /// A name that cannot be used (not in the tz database, too long, not a zone name): the
    /// zone known before (or UTC) stays.
    Unusable {
        /// Why, with the name escaped.
        error: String,
        /// The same name was refused by the previous answer too (not worth another warning).
        repeated: bool,
    },
}

/// What the device knows of its time zone. Pure: it is told the server's answers and asked
/// about explicit times; the device keeps one and stores its name.
#[derive(Clone, Debug)]
pub struct KnownZone {
    zone: Option<DeviceZone>,
    source: ZoneSource,
    /// The last name refused, so that a server repeating it is warned about once.
    refused: Option<String>,
}

impl Default for KnownZone {
    fn default() -> Self {
        KnownZone::unknown()
    }
}

impl KnownZone {
    /// Nothing known: UTC until the server answers.
    pub fn unknown() -> KnownZone {
        KnownZone {
            zone: None,
            source: ZoneSource::Unknown,
            refused: None,
        }
    }

    /// What a store kept (the zone's name, as [`KnownZone::stored`] gave it); a name that is
    /// not (or no longer) a usable zone is an error, and nothing is known.
    pub fn from_stored(name: &[u8]) -> Result<KnownZone, String> {
        let name = std::str::from_utf8(name).map_err(|_| "the stored zone is not text".to_owned())?;
        let zone = usable(name)?;
        Ok(KnownZone {
            zone: Some(zone),
            source: ZoneSource::Stored,
            refused: None,
        })
    }

    /// The server named `name` as the device's zone.
    pub fn learn(&mut self, name: &str) -> ZoneUpdate {
        let zone = match usable(name) {
            Ok(zone) => zone,
            Err(error) => {
                let repeated = self.refused.as_deref() == Some(name);
                if !repeated {
                    self.refused = Some(truncated(name));
                }
                return ZoneUpdate::Unusable { error, repeated };
            }
        };
        self.refused = None;
        let from = self.zone.as_ref().map(|z| z.name().to_owned());
        self.source = ZoneSource::Server;
        if from.as_deref() == Some(name) {
            return ZoneUpdate::Unchanged;
        }
        self.zone = Some(zone);
        ZoneUpdate::Changed {
            from,
            to: name.to_owned(),
        }
    }

    /// The zone in use: the known one, UTC until one is known.
    pub fn zone(&self) -> DeviceZone {
        self.zone.clone().unwrap_or_else(DeviceZone::utc)
    }

    /// The known zone, if any (from the server or the store).
    pub fn known(&self) -> Option<&DeviceZone> {
        self.zone.as_ref()
    }

    /// Where the zone in use came from.
    pub fn source(&self) -> ZoneSource {
        self.source
    }

    /// What to keep in the store: the known zone's name.
    pub fn stored(&self) -> Option<&[u8]> {
        self.zone.as_ref().map(|z| z.name().as_bytes())
    }

    /// `at` in the zone in use.
    pub fn local_time(&self, at: SystemTime) -> Option<Zoned> {
        match &self.zone {
            Some(zone) => zone.local_time(at),
            None => DeviceZone::utc().local_time(at),
        }
    }
}

/// `name` as a zone, if it looks like a tz-database name and the database has it. The name is
/// checked before the database is asked: it comes from the network.
fn usable(name: &str) -> Result<DeviceZone, String> {
    let looks_right = !name.is_empty()
        && name.len() <= MAX_ZONE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && !name.starts_with('/')
        && !name.split('/').any(|part| part.is_empty());
    if !looks_right {
        return Err(format!("{:?} is not a time zone name", truncated(name)));
    }
    DeviceZone::named(name)
}

fn truncated(name: &str) -> String {
    name.chars().take(MAX_ZONE_NAME + 1).collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use proptest::prelude::*;

    use super::*;

    /// 2026-11-25 00:00 UTC, a Wednesday.
    const WINTER: u64 = 1_795_564_800;
    /// 2026-07-02.
    const SUMMER: u64 = 1_783_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn zones_follow_daylight_saving() {
        let (winter, summer) = (at(WINTER), at(SUMMER));
        assert_eq!(offset_at("Europe/Warsaw", winter).unwrap().seconds(), 3600);
        assert_eq!(offset_at("Europe/Warsaw", summer).unwrap().seconds(), 7200);
        assert_eq!(offset_at("UTC", summer).unwrap().seconds(), 0);
        assert!(offset_at("Mars/Olympus", summer).is_none());
        let local = in_zone("America/New_York", winter).unwrap();
        assert_eq!((local.hour(), local.day()), (19, 24));
    }

    #[test]
    fn utc_until_the_server_answers_then_its_changes() {
        let mut known = KnownZone::unknown();
        assert_eq!(known.source(), ZoneSource::Unknown);
        assert_eq!(known.zone().name(), "UTC");
        assert!(known.stored().is_none());
        assert_eq!(known.local_time(at(WINTER)).unwrap().hour(), 0);

        let first = known.learn("Europe/Warsaw");
        assert_eq!(
            first,
            ZoneUpdate::Changed {
                from: None,
                to: "Europe/Warsaw".into()
            }
        );
        assert_eq!(known.source(), ZoneSource::Server);
        assert_eq!(known.local_time(at(WINTER)).unwrap().hour(), 1);
        assert_eq!(known.learn("Europe/Warsaw"), ZoneUpdate::Unchanged);

        // Changed on the server: the new zone, to be stored; silencing follows it.
        let change = known.learn("America/New_York");
        assert_eq!(
            change,
            ZoneUpdate::Changed {
                from: Some("Europe/Warsaw".into()),
                to: "America/New_York".into()
            }
        );
        assert_eq!(known.stored(), Some(&b"America/New_York"[..]));
        let week = known.zone().week_time(at(WINTER)).unwrap();
        assert_eq!((week.day, week.hour), (2, 19)); // Tuesday evening in New York
    }

    #[test]
    fn a_stored_zone_is_used_until_the_server_says_otherwise() {
        let mut known = KnownZone::from_stored(b"Asia/Tokyo").unwrap();
        assert_eq!(known.source(), ZoneSource::Stored);
        assert_eq!(known.local_time(at(WINTER)).unwrap().hour(), 9);
        // Confirmed: nothing to store again, but now from the server.
        assert_eq!(known.learn("Asia/Tokyo"), ZoneUpdate::Unchanged);
        assert_eq!(known.source(), ZoneSource::Server);
        assert!(KnownZone::from_stored(b"Mars/Olympus").is_err());
        assert!(KnownZone::from_stored(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn unusable_names_keep_the_known_zone_and_are_warned_about_once() {
        let mut known = KnownZone::unknown();
        let refused = known.learn("Mars/Olympus_Mons");
        assert!(
            matches!(refused, ZoneUpdate::Unusable { repeated: false, .. }),
            "{refused:?}"
        );
        assert_eq!(known.zone().name(), "UTC", "nothing known: UTC");
        assert_eq!(known.source(), ZoneSource::Unknown);
        assert!(matches!(
            known.learn("Mars/Olympus_Mons"),
            ZoneUpdate::Unusable { repeated: true, .. }
        ));

        known.learn("Europe/Warsaw");
        let long = "A".repeat(MAX_ZONE_NAME + 1);
        for bad in [
            "",
            "../../etc/passwd",
            "/usr/share/zoneinfo/UTC",
            "Europe//Warsaw",
            "Europe/Warsaw\n",
            "Europe/Warsaw; rm",
            "Mars/Olympus_Mons",
            &long,
        ] {
            let update = known.learn(bad);
            let ZoneUpdate::Unusable { error, repeated } = &update else {
                panic!("{bad:?} taken: {update:?}");
            };
            assert!(!*repeated);
            assert!(!error.contains('\n'), "escaped: {error}");
            assert!(error.len() < 300, "bounded: {error}");
            assert_eq!(known.zone().name(), "Europe/Warsaw", "the known zone stays");
        }
        // A good name after bad ones: a refused name is warned about again later.
        assert_eq!(known.learn("Europe/Warsaw"), ZoneUpdate::Unchanged);
        assert!(matches!(
            known.learn("Mars/Olympus_Mons"),
            ZoneUpdate::Unusable { repeated: false, .. }
        ));
    }

    fn zone_name() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "UTC",
            "Europe/Warsaw",
            "America/New_York",
            "Asia/Kolkata",
            "Australia/Lord_Howe",
            "Mars/Olympus_Mons",
            "../etc",
        ])
    }

    proptest! {
        /// Whatever the server answers, in whatever order: the zone in use is the last usable
        /// name answered (UTC before any), a change is reported exactly when that name
        /// changes, and what is stored brings back the same zone.
        #[test]
        fn the_last_usable_answer_wins(answers in prop::collection::vec(zone_name(), 0..20),
                                       secs in 0u64..4_000_000_000) {
            let mut known = KnownZone::unknown();
            let mut expected: Option<&str> = None;
            for &name in &answers {
                let before = expected;
                let update = known.learn(name);
                if DeviceZone::named(name).is_ok() && !name.contains("..") {
                    expected = Some(name);
                }
                let changed = matches!(update, ZoneUpdate::Changed { .. });
                prop_assert_eq!(changed, before != expected);
                prop_assert_eq!(known.zone().name().to_owned(), expected.unwrap_or("UTC"));
            }
            let t = at(secs);
            let civil = |z: Option<Zoned>| z.map(|z| (z.offset(), z.hour(), z.minute(), z.day()));
            prop_assert_eq!(civil(known.local_time(t)), civil(in_zone(expected.unwrap_or("UTC"), t)));
            if let Some(stored) = known.stored() {
                let back = KnownZone::from_stored(stored).unwrap();
                prop_assert_eq!(back.zone().name().to_owned(), known.zone().name().to_owned());
            }
        }
    }
}
