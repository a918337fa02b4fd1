//! [`EventStore`] and [`MacroStore`] in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::alarms::{EventStore, MacroRun, MacroStore};
use super::{MemoryStore, StoreResult};
use crate::alarm::{Event, EventId};

/// The memory store's alarms and macro runs.
#[derive(Debug, Default)]
pub(super) struct Alarms(Mutex<AlarmsInner>);

#[derive(Debug, Default)]
struct AlarmsInner {
    last_event: EventId,
    events: BTreeMap<EventId, Event>,
    states: HashMap<String, Vec<u8>>,
    /// `(macro_id, timestamp bits)` → reported.
    runs: BTreeMap<(String, u64), bool>,
}

impl MemoryStore {
    fn alarms(&self) -> MutexGuard<'_, AlarmsInner> {
        self.alarms.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl EventStore for MemoryStore {
    fn next_event_id(&self) -> StoreResult<EventId> {
        let mut a = self.alarms();
        a.last_event += 1;
        Ok(a.last_event)
    }

    fn put_event(&self, event: &Event) -> StoreResult<()> {
        self.alarms().events.insert(event.id, event.clone());
        Ok(())
    }

    fn remove_event(&self, id: EventId) -> StoreResult<()> {
        self.alarms().events.remove(&id);
        Ok(())
    }

    fn events(&self) -> StoreResult<Vec<Event>> {
        Ok(self.alarms().events.values().cloned().collect())
    }

    fn predicate_state(&self, predicate_id: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.alarms().states.get(predicate_id).cloned())
    }

    fn put_predicate_state(&self, predicate_id: &str, state: &[u8]) -> StoreResult<()> {
        self.alarms()
            .states
            .insert(predicate_id.to_owned(), state.to_vec());
        Ok(())
    }

    fn delete_predicate_state(&self, predicate_id: &str) -> StoreResult<()> {
        self.alarms().states.remove(predicate_id);
        Ok(())
    }
}

impl MacroStore for MemoryStore {
    fn macro_ran(&self, macro_id: &str, timestamp: f64) -> StoreResult<bool> {
        let key = (macro_id.to_owned(), timestamp.to_bits());
        let mut a = self.alarms();
        if a.runs.contains_key(&key) {
            return Ok(false);
        }
        a.runs.insert(key, false);
        Ok(true)
    }

    fn macro_reported(&self, macro_id: &str, timestamp: f64) -> StoreResult<()> {
        if let Some(reported) = self
            .alarms()
            .runs
            .get_mut(&(macro_id.to_owned(), timestamp.to_bits()))
        {
            *reported = true;
        }
        Ok(())
    }

    fn macro_runs(&self) -> StoreResult<Vec<MacroRun>> {
        let mut runs: Vec<MacroRun> = self
            .alarms()
            .runs
            .iter()
            .map(|((id, ts), reported)| MacroRun {
                macro_id: id.clone(),
                timestamp: f64::from_bits(*ts),
                reported: *reported,
            })
            .collect();
        runs.sort_by(|a, b| {
            a.timestamp
                .total_cmp(&b.timestamp)
                .then(a.macro_id.cmp(&b.macro_id))
        });
        Ok(runs)
    }

    fn prune_macro_runs(&self, before: f64) -> StoreResult<()> {
        self.alarms()
            .runs
            .retain(|(_, ts), reported| !*reported || f64::from_bits(*ts) >= before);
        Ok(())
    }
}
