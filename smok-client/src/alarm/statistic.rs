//! [`Statistic`]: device code that watches values and raises events, instantiated for each
//! predicate the server configures (the Python client's `BaseStatistic`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use ngtt_proto::payload::Sample;

use super::book::EventBook;
use super::event::{Color, Event, EventId, NewEvent};
use super::silencing::SilencingPeriod;
use crate::clock::epoch_secs;

/// A predicate as the device runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct PredicateInfo {
    /// Its id.
    pub predicate_id: String,
    /// The statistic it instantiates.
    pub statistic: String,
    /// Human-readable name, the prefix of its events' messages.
    pub verbose_name: String,
    /// Notification group of its events.
    pub group: String,
    /// Its configuration, as the server sent it.
    pub configuration: serde_json::Value,
    /// When it opens no events (in the device's time zone).
    pub silencing: Vec<SilencingPeriod>,
}

/// A statistic: called every tick for its predicate. Its saved state
/// ([`StatisticContext::state`]) and the events it opened survive restarts.
pub trait Statistic: Send + 'static {
    /// Looks at the values and opens or closes events (every `predicate_tick`, 60 s by default).
    /// Runs on the device's runtime with the predicates locked: keep it short, without blocking
    /// I/O (read hardware in [`PathpointIo`](crate::pathpoint::PathpointIo), look at the values
    /// here).
    fn tick(&mut self, ctx: &mut StatisticContext<'_>);

    /// The predicate's configuration, name, group or silencing changed (`predicate` is the new
    /// one; the next tick's context has it too).
    fn changed(&mut self, predicate: &PredicateInfo) {
        let _ = predicate;
    }

    /// The predicate went offline or was deleted: this instance is dropped after the call.
    fn offline(&mut self) {}
}

/// Makes a [`Statistic`] for a predicate; refuses (with the reason) a configuration it cannot
/// use — the predicate is then logged and skipped until its configuration changes.
pub trait StatisticFactory: Send + Sync + 'static {
    /// A statistic for `predicate`.
    fn create(&self, predicate: &PredicateInfo) -> Result<Box<dyn Statistic>, String>;
}

impl<F, S> StatisticFactory for F
where
    F: Fn(&PredicateInfo) -> Result<S, String> + Send + Sync + 'static,
    S: Statistic,
{
    fn create(&self, predicate: &PredicateInfo) -> Result<Box<dyn Statistic>, String> {
        self(predicate).map(|s| Box::new(s) as Box<dyn Statistic>)
    }
}

/// What a statistic sees and can do during a tick.
pub struct StatisticContext<'a> {
    pub(crate) predicate: &'a PredicateInfo,
    pub(crate) now: SystemTime,
    pub(crate) silenced: bool,
    pub(crate) values: &'a dyn Fn(&str) -> Option<Sample>,
    pub(crate) book: &'a mut EventBook,
    pub(crate) state: &'a mut serde_json::Value,
}

impl std::fmt::Debug for StatisticContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatisticContext")
            .field("predicate", &self.predicate.predicate_id)
            .field("silenced", &self.silenced)
            .finish_non_exhaustive()
    }
}

impl StatisticContext<'_> {
    /// The predicate.
    pub fn predicate(&self) -> &PredicateInfo {
        self.predicate
    }

    /// The time of this tick.
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// Whether a silencing period is in force now (events are not opened then).
    pub fn is_silenced(&self) -> bool {
        self.silenced
    }

    /// The last value of pathpoint `path` (as [`SmokDevice::value`](crate::SmokDevice::value)
    /// has it; reparse paths computed).
    pub fn value(&self, path: &str) -> Option<Sample> {
        (self.values)(path)
    }

    /// The predicate's saved state (`null` at first): saved after the tick, kept across
    /// restarts, deleted when the server deletes the predicate.
    pub fn state(&mut self) -> &mut serde_json::Value {
        self.state
    }

    fn now_secs(&self) -> u64 {
        epoch_secs(self.now).max(0.0) as u64
    }

    fn raise(&mut self, message: &str, color: Color, point: bool) -> Option<EventId> {
        if self.silenced {
            tracing::debug!(predicate = %self.predicate.predicate_id, "silenced: no event opened");
            return None;
        }
        let p = self.predicate;
        let message = if message.is_empty() {
            p.verbose_name.clone()
        } else {
            format!("{}: {message}", p.verbose_name)
        };
        let new = NewEvent {
            color,
            point,
            token: p.statistic.clone(),
            group: p.group.clone(),
            message,
            metadata: BTreeMap::from([("predicate_id".to_owned(), p.predicate_id.clone())]),
        };
        let now = self.now_secs();
        match self.book.open(now, new) {
            Ok(event) => event.map(|e| e.id),
            Err(e) => {
                tracing::error!(error = %e, "an event cannot be stored: not opened");
                None
            }
        }
    }

    /// Opens an event (`"<verbose_name>: <message>"`, or the name alone for an empty message)
    /// unless silenced; its id, to close it later.
    pub fn open_event(&mut self, message: &str, color: Color) -> Option<EventId> {
        self.raise(message, color, false)
    }

    /// Raises a point event (closed at once) unless silenced.
    pub fn point_event(&mut self, message: &str, color: Color) -> Option<EventId> {
        self.raise(message, color, true)
    }

    /// Closes an event now; false when it is not open.
    pub fn close_event(&mut self, id: EventId) -> bool {
        let now = self.now_secs();
        self.book.close(id, now).unwrap_or_else(|e| {
            tracing::error!(error = %e, "an event's closing cannot be stored");
            false
        })
    }

    /// This predicate's open events (also those opened before a restart).
    pub fn open_events(&self) -> Vec<Event> {
        let id = self.predicate.predicate_id.as_str();
        self.book
            .all()
            .filter(|e| !e.is_closed() && e.predicate_id() == Some(id))
            .cloned()
            .collect()
    }
}
