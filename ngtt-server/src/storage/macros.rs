//! Macros (HTTP-API.md §7.11): server-scheduled sets of writes, each run at its occurrences
//! (epoch seconds), each occurrence marked completed when the device reports it.

use serde::{Deserialize, Serialize};

use super::StorageError;

/// Longest macro id, in bytes.
pub const MAX_MACRO_ID: usize = 255;
/// Most commands one macro may have.
pub const MAX_MACRO_COMMANDS: usize = 1_000;
/// Most occurrences one macro may have.
pub const MAX_MACRO_OCCURRENCES: usize = 10_000;
/// Most macros one device may have.
pub const MAX_MACROS: usize = 1_000;

/// One write of a macro: `{"path", "value"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MacroCommand {
    /// The pathpoint to write.
    pub path: String,
    /// The value: an integer, a float or a string.
    pub value: CommandValue,
}

/// A value a macro writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CommandValue {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Text(String),
}

/// One scheduled run of a macro.
#[derive(Clone, Debug, PartialEq)]
pub struct Occurrence {
    /// When, in epoch seconds (a whole number unless given otherwise).
    pub timestamp: f64,
    /// Whether the device reported it executed.
    pub completed: bool,
    /// When the device reported it, ms since the epoch.
    pub completed_at_ms: Option<i64>,
}

/// A macro with its occurrences.
#[derive(Clone, Debug, PartialEq)]
pub struct MacroRecord {
    /// Its id.
    pub macro_id: String,
    /// The writes it makes, in order.
    pub commands: Vec<MacroCommand>,
    /// Its occurrences (all of them, or those in the window asked for), oldest first.
    pub occurrences: Vec<Occurrence>,
}

/// When each completed occurrence of `known` was completed, by the bits of its timestamp: the
/// completions a replaced macro keeps for the occurrences given again (every engine).
pub(crate) fn completions(known: &[Occurrence]) -> std::collections::BTreeMap<u64, i64> {
    known
        .iter()
        .filter_map(|o| Some((o.timestamp.to_bits(), o.completed_at_ms?)))
        .collect()
}

/// The commands of `macro_id` as every engine stores them (JSON text).
pub(crate) fn commands_json(record: &MacroRecord) -> Result<String, StorageError> {
    serde_json::to_string(&record.commands)
        .map_err(|e| StorageError::Corrupt(format!("commands of macro {:?}: {e}", record.macro_id)))
}

/// The commands of `macro_id` from their stored JSON text (every engine).
fn commands_of(macro_id: &str, text: &str) -> Result<Vec<MacroCommand>, StorageError> {
    serde_json::from_str(text)
        .map_err(|e| StorageError::Corrupt(format!("commands of macro {macro_id:?}: {e}")))
}

impl MacroRecord {
    /// The record of a stored macro with its `occurrences` (those in `window` when given):
    /// `None` for a macro with no occurrence in the window asked for, which a windowed listing
    /// leaves out (every engine).
    pub(crate) fn from_stored(
        macro_id: String,
        commands: &str,
        occurrences: Vec<Occurrence>,
        window: Option<(f64, f64)>,
    ) -> Result<Option<MacroRecord>, StorageError> {
        if window.is_some() && occurrences.is_empty() {
            return Ok(None);
        }
        Ok(Some(MacroRecord {
            commands: commands_of(&macro_id, commands)?,
            macro_id,
            occurrences,
        }))
    }
}

impl Occurrence {
    /// An occurrence as stored (every engine): completed when it has a completion time.
    pub(crate) fn stored(timestamp: f64, completed_at_ms: Option<i64>) -> Occurrence {
        Occurrence {
            timestamp,
            completed: completed_at_ms.is_some(),
            completed_at_ms,
        }
    }
}

/// Whether a device that has `count` macros (as the engine counts them) may not add another
/// under `max_macros` (every engine).
pub(crate) fn limit_reached(count: i64, max_macros: usize) -> bool {
    usize::try_from(count).unwrap_or(usize::MAX) >= max_macros
}

/// What [`MacroStore::complete_occurrence`] answers for an occurrence whose stored completion
/// is `stored` (`None`: no such occurrence): `Some(true)` when it is to be marked completed
/// now, `Some(false)` when it already was (every engine).
pub(crate) fn completion(stored: Option<Option<i64>>) -> Option<bool> {
    stored.map(|completed_at| completed_at.is_none())
}

/// Macro storage (part of [`super::Storage`]).
pub trait MacroStore {
    /// Creates or replaces a macro: its commands, and exactly the occurrences given (those
    /// already known keep their completion). `Some(true)` when it was created, `None` when
    /// the device already has `max_macros` macros.
    fn put_macro(
        &self,
        device_id: &str,
        record: &MacroRecord,
        max_macros: usize,
    ) -> Result<Option<bool>, StorageError>;

    /// The macros of `device_id` by id; with a `window` (epoch seconds, inclusive), only the
    /// macros with occurrences in it, with only those occurrences.
    fn macros(&self, device_id: &str, window: Option<(f64, f64)>) -> Result<Vec<MacroRecord>, StorageError>;

    /// One macro with all its occurrences.
    fn macro_record(&self, device_id: &str, macro_id: &str) -> Result<Option<MacroRecord>, StorageError>;

    /// Deletes a macro and its occurrences; `false` when there was none.
    fn delete_macro(&self, device_id: &str, macro_id: &str) -> Result<bool, StorageError>;

    /// Marks an occurrence completed: `Some(true)` now, `Some(false)` when it already was,
    /// `None` when there is no such occurrence.
    fn complete_occurrence(
        &self,
        device_id: &str,
        macro_id: &str,
        timestamp: f64,
    ) -> Result<Option<bool>, StorageError>;
}

/// A timestamp as it is served: an integer when it is a whole number (the client then reports
/// it back as `1796063026`), else the float.
pub fn timestamp_json(ts: f64) -> serde_json::Value {
    if ts.fract() == 0.0 && ts.abs() < 9.0e15 {
        // A whole number well inside i64 and exactly representable: the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let whole = ts as i64;
        serde_json::Value::from(whole)
    } else {
        serde_json::Value::from(ts)
    }
}

/// Whether `ts` can be an occurrence time: finite, 0 or more, before the year 5000.
pub fn valid_timestamp(ts: f64) -> Result<(), String> {
    if ts.is_finite() && (0.0..=95_617_584_000.0).contains(&ts) {
        Ok(())
    } else {
        Err(format!(
            "{ts} is not a timestamp (epoch seconds, 0 to 95617584000)"
        ))
    }
}

/// Whether `id` can be a macro id: 1..=255 bytes, no control characters, spaces or
/// `/ ? # % \` (the Python client puts it into a URL unescaped).
pub fn valid_macro_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_MACRO_ID {
        return Err(format!("a macro id must be 1 to {MAX_MACRO_ID} bytes long"));
    }
    if id
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '?' | '#' | '%' | '\\'))
    {
        return Err(format!(
            "macro id {:?} contains a character that cannot go into a URL unescaped",
            id.escape_debug().to_string()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_timestamps_are_served_as_integers() {
        assert_eq!(timestamp_json(1_796_063_026.0).to_string(), "1796063026");
        assert_eq!(timestamp_json(1_796_063_026.5).to_string(), "1796063026.5");
    }

    #[test]
    fn validation() {
        assert!(valid_timestamp(0.0).is_ok());
        assert!(valid_timestamp(f64::NAN).is_err());
        assert!(valid_timestamp(-1.0).is_err());
        assert!(valid_macro_id("m-1").is_ok());
        assert!(valid_macro_id("m/1").is_err());
        assert!(valid_macro_id("").is_err());
    }

    #[test]
    fn command_values_keep_their_type() {
        let c: Vec<MacroCommand> = serde_json::from_str(
            r#"[{"path":"W1","value":5},{"path":"f2","value":1.5},{"path":"u3","value":"x"}]"#,
        )
        .unwrap();
        assert_eq!(c[0].value, CommandValue::Int(5));
        assert_eq!(c[1].value, CommandValue::Float(1.5));
        assert_eq!(c[2].value, CommandValue::Text("x".into()));
    }

    #[test]
    fn stored_rows_and_the_completion_rule() {
        assert_eq!(completion(None), None);
        assert_eq!(completion(Some(None)), Some(true));
        assert_eq!(completion(Some(Some(7))), Some(false));
        assert!(Occurrence::stored(1.0, Some(7)).completed);
        assert!(!Occurrence::stored(1.0, None).completed);
        assert!(!limit_reached(2, 3));
        assert!(limit_reached(3, 3));
        assert!(limit_reached(-1, 3), "a count that cannot be real refuses");
        let record = MacroRecord {
            macro_id: "m".into(),
            commands: commands_of("m", r#"[{"path": "W1", "value": 5}]"#).unwrap(),
            occurrences: Vec::new(),
        };
        let text = commands_json(&record).unwrap();
        assert_eq!(commands_of("m", &text).unwrap(), record.commands);
        assert!(matches!(commands_of("m", "{"), Err(StorageError::Corrupt(_))));
        let one = vec![Occurrence::stored(1.0, None)];
        assert!(
            MacroRecord::from_stored("m".into(), &text, Vec::new(), Some((0.0, 2.0)))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            MacroRecord::from_stored("m".into(), &text, one.clone(), Some((0.0, 2.0))).unwrap(),
            Some(MacroRecord {
                occurrences: one,
                ..record.clone()
            })
        );
        assert!(MacroRecord::from_stored("m".into(), &text, Vec::new(), None)
            .unwrap()
            .is_some());
    }
}
