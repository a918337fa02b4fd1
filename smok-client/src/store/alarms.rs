//! The store's part for alarms and macros: events not yet confirmed by the server (and open
//! ones), each predicate's saved state, and which macro occurrences ran and were reported.

use crate::alarm::{Event, EventId};

use super::StoreResult;

/// Events and predicate state.
///
/// Events are kept until they are closed *and* the server has their last version; open events
/// stay (with their server uuid), so that a restarted device closes the same event.
pub trait EventStore: Send + Sync {
    /// The id the next new event gets (increasing, never reused).
    fn next_event_id(&self) -> StoreResult<EventId>;
    /// Stores `event`, replacing the one with its id.
    fn put_event(&self, event: &Event) -> StoreResult<()>;
    /// Forgets an event.
    fn remove_event(&self, id: EventId) -> StoreResult<()>;
    /// Every stored event, by id.
    fn events(&self) -> StoreResult<Vec<Event>>;
    /// A predicate's saved state.
    fn predicate_state(&self, predicate_id: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Saves a predicate's state.
    fn put_predicate_state(&self, predicate_id: &str, state: &[u8]) -> StoreResult<()>;
    /// Deletes a predicate's state (the server no longer has the predicate).
    fn delete_predicate_state(&self, predicate_id: &str) -> StoreResult<()>;
}

/// A macro occurrence that ran: `(macro_id, timestamp)`.
#[derive(Clone, Debug, PartialEq)]
pub struct MacroRun {
    /// The macro.
    pub macro_id: String,
    /// The occurrence, epoch seconds.
    pub timestamp: f64,
    /// Whether the server was told.
    pub reported: bool,
}

/// Macro occurrences the device executed, so that none runs twice and each is reported once,
/// across restarts.
pub trait MacroStore: Send + Sync {
    /// Records that the occurrence ran (not yet reported); false if it was recorded already.
    fn macro_ran(&self, macro_id: &str, timestamp: f64) -> StoreResult<bool>;
    /// Records that the server was told.
    fn macro_reported(&self, macro_id: &str, timestamp: f64) -> StoreResult<()>;
    /// Every recorded occurrence.
    fn macro_runs(&self) -> StoreResult<Vec<MacroRun>>;
    /// Forgets reported occurrences older than `before` (epoch seconds).
    fn prune_macro_runs(&self, before: f64) -> StoreResult<()>;
}
