//! [`Predicates`]: the predicates the server configured, each with its statistic instance.
//! Pure: the caller passes the server's list, the time, the zone and the values.

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::SystemTime;

use ngtt_proto::payload::Sample;
use smok_http::{Lenient, PredicateDefinition};

use super::book::EventBook;
use super::silencing::{is_silenced, DeviceZone};
use super::statistic::{PredicateInfo, Statistic, StatisticContext, StatisticFactory};
use crate::store::Store;

/// The group of a predicate the server sent without one.
pub const DEFAULT_GROUP: &str = "B";

struct Entry {
    info: PredicateInfo,
    instance: Option<Box<dyn Statistic>>,
    /// Why no instance could be made for the current definition (logged once).
    refused: Option<String>,
}

/// The predicates and the registered statistics.
#[derive(Default)]
pub struct Predicates {
    factories: HashMap<String, Arc<dyn StatisticFactory>>,
    entries: BTreeMap<String, Entry>,
}

impl std::fmt::Debug for Predicates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predicates")
            .field("statistics", &self.factories.keys().collect::<Vec<_>>())
            .field("predicates", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A server entry checked: what the device runs, or why it is skipped.
fn check(def: PredicateDefinition, known: Option<&PredicateInfo>) -> Result<PredicateInfo, String> {
    if def.predicate_id.is_empty() {
        return Err("empty predicate_id".into());
    }
    let statistic = match (def.statistic, known) {
        (Some(s), _) if !s.is_empty() => s,
        (_, Some(k)) => k.statistic.clone(),
        _ => return Err("no statistic".into()),
    };
    let verbose_name = def
        .verbose_name
        .or_else(|| known.map(|k| k.verbose_name.clone()))
        .ok_or("no verbose_name")?;
    Ok(PredicateInfo {
        predicate_id: def.predicate_id,
        statistic,
        verbose_name,
        // The group of a new predicate is used at once (the published client ignores it).
        group: def.group.unwrap_or_else(|| DEFAULT_GROUP.to_owned()),
        configuration: def.configuration,
        silencing: def.silencing,
    })
}

impl Predicates {
    /// Registers a statistic under `name`: predicates naming it get an instance at the next
    /// tick (also those waiting for it).
    pub fn register(&mut self, name: &str, factory: Arc<dyn StatisticFactory>) {
        self.factories.insert(name.to_owned(), factory);
        for entry in self.entries.values_mut() {
            if entry.info.statistic == name {
                entry.refused = None;
            }
        }
    }

    /// The predicates the device runs, by id.
    pub fn list(&self) -> Vec<PredicateInfo> {
        self.entries.values().map(|e| e.info.clone()).collect()
    }

    /// Drops every instance (they are made again at the next tick); the predicates stay.
    pub fn reset(&mut self) {
        for entry in self.entries.values_mut() {
            entry.instance = None;
            entry.refused = None;
        }
    }

    /// Applies the server's list: new predicates added, changed ones updated (their statistic
    /// told), offline ones dropped (state kept), those no longer listed dropped with their
    /// state. Malformed entries are logged and skipped; a predicate listed twice is taken
    /// once. Returns the definitions kept (to cache).
    pub fn apply(
        &mut self,
        list: Vec<Lenient<PredicateDefinition>>,
        store: &dyn Store,
    ) -> Vec<PredicateDefinition> {
        let mut seen: HashMap<String, ()> = HashMap::new();
        let mut kept = Vec::new();
        let mut next: BTreeMap<String, Entry> = BTreeMap::new();
        for item in list {
            let def = match item {
                Lenient::Valid(def) => def,
                Lenient::Invalid { raw, reason } => {
                    tracing::warn!(entry = %raw, "skipping a malformed predicate the server sent: {reason}");
                    continue;
                }
            };
            let id = def.predicate_id.clone();
            if seen.insert(id.clone(), ()).is_some() {
                tracing::warn!(predicate = %id, "the server listed a predicate twice: the first is used");
                continue;
            }
            if !def.online {
                if let Some(mut old) = self.entries.remove(&id) {
                    if let Some(s) = old.instance.as_mut() {
                        s.offline();
                    }
                }
                continue;
            }
            let old = self.entries.remove(&id);
            let info = match check(def.clone(), old.as_ref().map(|e| &e.info)) {
                Ok(info) => info,
                Err(reason) => {
                    tracing::warn!(predicate = %id, "skipping a predicate the server sent: {reason}");
                    if let Some(old) = old {
                        next.insert(id, old); // keep running what was valid
                    }
                    continue;
                }
            };
            kept.push(def);
            let entry = match old {
                Some(mut old) if old.info.statistic == info.statistic => {
                    if old.info != info {
                        if let Some(s) = old.instance.as_mut() {
                            s.changed(&info);
                        }
                        old.refused = None;
                        old.info = info;
                    }
                    old
                }
                Some(mut old) => {
                    if let Some(s) = old.instance.as_mut() {
                        s.offline();
                    }
                    Entry {
                        info,
                        instance: None,
                        refused: None,
                    }
                }
                None => Entry {
                    info,
                    instance: None,
                    refused: None,
                },
            };
            next.insert(id, entry);
        }
        for (id, mut gone) in std::mem::take(&mut self.entries) {
            if let Some(s) = gone.instance.as_mut() {
                s.offline();
            }
            if let Err(e) = store.delete_predicate_state(&id) {
                tracing::warn!(predicate = %id, error = %e, "a deleted predicate's state cannot be removed");
            }
        }
        self.entries = next;
        kept
    }

    /// Runs every predicate's statistic once at `now`. Predicates whose statistic is not
    /// registered wait (retried every tick); a statistic that panics is dropped (made again
    /// at the next tick) and logged.
    pub fn tick(
        &mut self,
        now: SystemTime,
        zone: &DeviceZone,
        values: &dyn Fn(&str) -> Option<Sample>,
        book: &mut EventBook,
        store: &dyn Store,
    ) {
        let week_time = zone.week_time(now);
        for (id, entry) in &mut self.entries {
            if entry.instance.is_none() && entry.refused.is_none() {
                match self.factories.get(&entry.info.statistic) {
                    None => {
                        tracing::debug!(predicate = %id, statistic = %entry.info.statistic, "no statistic registered under this name yet");
                        continue;
                    }
                    Some(factory) => match factory.create(&entry.info) {
                        Ok(s) => entry.instance = Some(s),
                        Err(reason) => {
                            tracing::warn!(predicate = %id, statistic = %entry.info.statistic, "the statistic refused the predicate's configuration: {reason}");
                            entry.refused = Some(reason);
                        }
                    },
                }
            }
            let Some(statistic) = entry.instance.as_mut() else {
                continue;
            };
            let saved = match store.predicate_state(id) {
                Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    tracing::warn!(predicate = %id, error = %e, "a predicate's saved state cannot be read: starting afresh");
                    serde_json::Value::Null
                }),
                Ok(None) => serde_json::Value::Null,
                Err(e) => {
                    tracing::error!(predicate = %id, error = %e, "a predicate's state cannot be read: tick skipped");
                    continue;
                }
            };
            let mut state = saved.clone();
            let silenced = week_time.is_some_and(|t| is_silenced(&entry.info.silencing, t));
            let mut ctx = StatisticContext {
                predicate: &entry.info,
                now,
                silenced,
                values,
                book,
                state: &mut state,
            };
            if catch_unwind(AssertUnwindSafe(|| statistic.tick(&mut ctx))).is_err() {
                tracing::error!(predicate = %id, statistic = %entry.info.statistic, "the statistic panicked: made again at the next tick");
                entry.instance = None;
                continue;
            }
            if state != saved {
                let stored = serde_json::to_vec(&state)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| store.put_predicate_state(id, &bytes).map_err(|e| e.to_string()));
                if let Err(e) = stored {
                    tracing::error!(predicate = %id, error = %e, "a predicate's state cannot be saved");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
