//! The builder's settings of the server-driven schedules of part 2: predicates, events,
//! macros and the time zone (their intervals, and whether they run at all).

use std::time::Duration;

use super::SmokDeviceBuilder;

/// Default interval between two predicate syncs (HTTP-API.md §4).
pub const DEFAULT_PREDICATE_SYNC: Duration = Duration::from_secs(300);
/// Default interval between two predicate ticks.
pub const DEFAULT_PREDICATE_TICK: Duration = Duration::from_secs(60);
/// Default interval between two refreshes of the macro list (HTTP-API.md §4).
pub const DEFAULT_MACRO_REFRESH: Duration = Duration::from_secs(1800);
/// Default interval between two refreshes of the device's time zone (`GET /v1/device`): the
/// predicate sync's, so that silencing periods follow a change of the zone as soon as a change
/// of the periods themselves.
pub const DEFAULT_ZONE_REFRESH: Duration = Duration::from_secs(300);
/// Default bound on one call of a schedule.
pub const DEFAULT_SCHEDULE_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of the predicate, event and macro schedules.
#[derive(Clone, Debug)]
pub(crate) struct ScheduleSettings {
    pub(crate) predicates: bool,
    pub(crate) predicate_sync: Duration,
    pub(crate) predicate_tick: Duration,
    pub(crate) macros: bool,
    pub(crate) macro_refresh: Duration,
    pub(crate) zone_refresh: Duration,
    pub(crate) zone: bool,
    pub(crate) call_timeout: Duration,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            predicates: true,
            predicate_sync: DEFAULT_PREDICATE_SYNC,
            predicate_tick: DEFAULT_PREDICATE_TICK,
            macros: true,
            macro_refresh: DEFAULT_MACRO_REFRESH,
            zone_refresh: DEFAULT_ZONE_REFRESH,
            zone: true,
            call_timeout: DEFAULT_SCHEDULE_TIMEOUT,
        }
    }
}

impl SmokDeviceBuilder {
    /// Whether predicates are synced and ticked (default true). Events opened by the program
    /// are uploaded either way.
    pub fn sync_predicates(mut self, on: bool) -> Self {
        self.schedules.predicates = on;
        self
    }

    /// How often predicates are synced from the server (default 300 s from the client's
    /// start, the first sync at once, jittered).
    pub fn predicate_sync_interval(mut self, every: Duration) -> Self {
        self.schedules.predicate_sync = every;
        self
    }

    /// How often statistics are ticked (default 60 s).
    pub fn predicate_tick(mut self, every: Duration) -> Self {
        self.schedules.predicate_tick = every;
        self
    }

    /// Whether macros are fetched and executed (default true).
    pub fn sync_macros(mut self, on: bool) -> Self {
        self.schedules.macros = on;
        self
    }

    /// How often the macro list is refreshed (default 1800 s from the client's start, the
    /// first at once, jittered). Occurrences run at their time whatever this is.
    pub fn macro_refresh_interval(mut self, every: Duration) -> Self {
        self.schedules.macro_refresh = every;
        self
    }

    /// How often the device's time zone is asked of the server (`GET /v1/device`; default
    /// 300 s from the client's start, the first at once, jittered). A change made on the
    /// server reaches [`SmokDevice::time_zone`](super::SmokDevice::time_zone) and the local
    /// time within one interval.
    pub fn time_zone_refresh_interval(mut self, every: Duration) -> Self {
        self.schedules.zone_refresh = every;
        self
    }

    /// Whether the device's time zone is refreshed from the server on its own (default true).
    /// Off, the zone is the stored one, updated only by the program's own
    /// [`device_info`](super::SmokDevice::device_info) calls (and
    /// [`timezone`](super::SmokDevice::timezone) asks the server while none is known).
    pub fn sync_time_zone(mut self, on: bool) -> Self {
        self.schedules.zone = on;
        self
    }

    /// The longest one call of a schedule (predicate sync, macro refresh) may take before it
    /// is abandoned and retried with backoff (default 60 s).
    pub fn schedule_timeout(mut self, timeout: Duration) -> Self {
        self.schedules.call_timeout = timeout;
        self
    }
}
