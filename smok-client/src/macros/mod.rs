//! Macros (HTTP-API.md §7.11): server-scheduled sets of writes. [`MacroPlan`] is the pure part
//! — which occurrences are due at a given time, each dropped from the plan once it ran; the
//! device's macro task fetches the list ahead (every 1800 s, a window from an hour back to 2.5
//! hours ahead), runs each due occurrence's writes at its time through the pathpoint registry
//! (advise FORCE), records the run in the store, then reports it
//! (`POST /v1/device/macros/{id}/{ts}`, coalesced by [`Reports`]) — so that across restarts no
//! occurrence runs twice and each is reported once.

use ngtt_proto::payload::PathpointValue;
use serde_json::Value;
use smok_http::{Lenient, MacroDefinition};

mod reports;

pub use reports::{Reports, Waiting, COALESCE};

/// A macro as the device runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Macro {
    /// Its id.
    pub macro_id: String,
    /// The writes, in order (a path written twice: the last value counts, and it is written
    /// once, where it first appeared).
    pub writes: Vec<(String, PathpointValue)>,
    /// The occurrences not yet completed, epoch seconds, oldest first.
    pub pending: Vec<f64>,
}

/// An occurrence due to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Due {
    /// The macro.
    pub macro_id: String,
    /// The occurrence.
    pub timestamp: f64,
    /// Its writes.
    pub writes: Vec<(String, PathpointValue)>,
}

/// The macros the device knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MacroPlan {
    macros: Vec<Macro>,
}

fn value(v: &Value) -> Option<PathpointValue> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(PathpointValue::Int)
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(PathpointValue::Float)),
        Value::String(s) => Some(PathpointValue::Text(s.clone())),
        _ => None,
    }
}

/// A macro from its definition, or why it cannot be used.
pub fn check(def: &MacroDefinition) -> Result<Macro, String> {
    if def.macro_id.is_empty() {
        return Err("empty macro_id".into());
    }
    let mut writes: Vec<(String, PathpointValue)> = Vec::new();
    for (k, c) in def.commands.iter().enumerate() {
        if c.path.is_empty() {
            return Err(format!("command {k} has an empty path"));
        }
        let v =
            value(&c.value).ok_or_else(|| format!("command {k}: {} is not a number or a string", c.value))?;
        match writes.iter_mut().find(|(p, _)| *p == c.path) {
            Some(w) => w.1 = v,
            None => writes.push((c.path.clone(), v)),
        }
    }
    let mut pending = Vec::new();
    for o in &def.occurrences {
        if !o.timestamp.is_finite() || o.timestamp < 0.0 {
            return Err(format!("occurrence {} is not a time", o.timestamp));
        }
        if !o.completed {
            pending.push(o.timestamp);
        }
    }
    pending.sort_by(f64::total_cmp);
    pending.dedup();
    Ok(Macro {
        macro_id: def.macro_id.clone(),
        writes,
        pending,
    })
}

impl MacroPlan {
    /// The plan of the server's list: malformed macros logged and skipped, a macro listed
    /// twice taken once. Returns the plan and the definitions it kept (to cache).
    pub fn from_server(list: Vec<Lenient<MacroDefinition>>) -> (MacroPlan, Vec<MacroDefinition>) {
        let mut plan = MacroPlan::default();
        let mut kept = Vec::new();
        for item in list {
            let def = match item {
                Lenient::Valid(def) => def,
                Lenient::Invalid { raw, reason } => {
                    tracing::warn!(entry = %raw, "skipping a malformed macro the server sent: {reason}");
                    continue;
                }
            };
            if plan.macros.iter().any(|m| m.macro_id == def.macro_id) {
                tracing::warn!(macro_id = %def.macro_id, "the server listed a macro twice: the first is used");
                continue;
            }
            match check(&def) {
                Ok(m) => {
                    plan.macros.push(m);
                    kept.push(def);
                }
                Err(reason) => {
                    tracing::warn!(macro_id = %def.macro_id, "skipping a macro the server sent: {reason}")
                }
            }
        }
        (plan, kept)
    }

    /// The macros.
    pub fn macros(&self) -> &[Macro] {
        &self.macros
    }

    /// The occurrences due at `now` (epoch seconds) that have not run, oldest first.
    pub fn due(&self, now: f64) -> Vec<Due> {
        let mut due: Vec<Due> = self
            .macros
            .iter()
            .flat_map(|m| {
                m.pending
                    .iter()
                    .take_while(move |&&ts| ts <= now)
                    .map(move |&ts| Due {
                        macro_id: m.macro_id.clone(),
                        timestamp: ts,
                        writes: m.writes.clone(),
                    })
            })
            .collect();
        due.sort_by(|a, b| {
            a.timestamp
                .total_cmp(&b.timestamp)
                .then(a.macro_id.cmp(&b.macro_id))
        });
        due
    }

    /// When the next occurrence that has not run is due (epoch seconds).
    pub fn next(&self) -> Option<f64> {
        self.macros
            .iter()
            .filter_map(|m| m.pending.first().copied())
            .min_by(f64::total_cmp)
    }

    /// The occurrence `timestamp` of `macro_id` ran (now, or in an earlier run of the
    /// program, as the store says): it is no longer pending.
    pub fn ran(&mut self, macro_id: &str, timestamp: f64) {
        if let Some(m) = self.macros.iter_mut().find(|m| m.macro_id == macro_id) {
            m.pending.retain(|ts| ts.to_bits() != timestamp.to_bits());
        }
    }
}

#[cfg(test)]
mod tests;
