//! Predicates and events (alarms), HTTP-API.md §7.8–§7.9.
//!
//! The device program registers [`Statistic`]s by name
//! ([`SmokDevice::register_statistic`](crate::SmokDevice::register_statistic)); the server's
//! predicates (`GET /v1/device/predicates`, every 300 s from the client's start) instantiate
//! them with their configuration, group and silencing periods ([`PredicateInfo`]). Every tick
//! (60 s) each statistic looks at the pathpoints' last values and opens, closes or raises point
//! [`Event`]s through its [`StatisticContext`] — not while a silencing period is in force in
//! the device's time zone ([`DeviceZone`], from `culture_context.timezone`). Events go to
//! `POST /v1/device/alarms` as [`EventBook`] describes; they and each predicate's state are
//! kept in the store, so a restarted device goes on with its open events.

mod book;
mod event;
mod predicates;
mod silencing;
mod statistic;

pub use book::{EventBook, Sent, EVENT_BATCH, MAX_EVENTS};
pub use event::{Color, Event, EventId, NewEvent};
pub use predicates::{Predicates, DEFAULT_GROUP};
pub use silencing::{is_silenced, DeviceZone, SilencingPeriod, WeekTime};
pub use statistic::{PredicateInfo, Statistic, StatisticContext, StatisticFactory};
