//! [`Registry`]: the device's pathpoints — native ones with their I/O, storage level and last
//! value, reparse ones parsed on demand — and whether the server has the current list.
//! No I/O here: the device reads and writes through what the registry hands out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ngtt_proto::payload::{PathpointType, Sample};
use smok_http::{PathpointRegistration, StorageLevel};

use super::io::{DynIo, Pathpoint, PathpointProvider, ValueCallback};
use crate::reparse::{ExprError, ReparsePath};

/// Longest pathpoint name accepted, in bytes.
pub const MAX_PATH_LEN: usize = 1024;

/// Most native pathpoints a registry holds (names from the server beyond it are skipped).
pub const MAX_PATHPOINTS: usize = 100_000;

/// Most parsed reparse expressions kept.
const MAX_REPARSE_CACHE: usize = 10_000;

/// What the registry knows about one pathpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct PathpointInfo {
    /// Its name.
    pub name: String,
    /// Its type (from its first letter).
    pub value_type: PathpointType,
    /// How long the server keeps its values.
    pub storage_level: StorageLevel,
    /// Its last value or failed read, with its timestamp (ms).
    pub last: Option<Sample>,
    /// Whether the device can read and write it (false for pathpoints the server listed that
    /// no provider made).
    pub has_io: bool,
}

struct Entry {
    value_type: PathpointType,
    level: StorageLevel,
    io: Option<Arc<dyn DynIo>>,
    last: Option<Sample>,
    min_read_interval: Option<Duration>,
    last_read: Option<Instant>,
    on_value: Option<ValueCallback>,
}

#[derive(Default)]
struct State {
    order: Vec<String>,
    /// Boxed: the table holds a name and a pointer a bucket (32 bytes), not the whole entry.
    /// A table has up to twice as many buckets as entries (1 000 pathpoints: 2 048), so
    /// unboxed entries made it 280 KiB where the boxes and the table now take about 190 KiB
    /// (issue 10, "Memory").
    entries: HashMap<String, Box<Entry>>,
    reparse: HashMap<String, Arc<ReparsePath>>,
    /// Bumped whenever the set of pathpoints or a level changes.
    generation: u64,
    /// The generation the server last accepted.
    registered: Option<u64>,
}

/// How a path resolves.
#[derive(Clone)]
pub(crate) enum Resolved {
    Native {
        value_type: PathpointType,
        io: Option<Arc<dyn DynIo>>,
    },
    Reparse(Arc<ReparsePath>),
}

/// Why a path cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    /// Too long, or no known type letter.
    #[error("{0:?} is not a pathpoint name: {1}")]
    BadName(String, String),
    /// A reparse name whose expression does not parse.
    #[error("reparse pathpoint {0:?}: {1}")]
    BadExpression(String, ExprError),
    /// The registry is full.
    #[error("more than {MAX_PATHPOINTS} pathpoints")]
    Full,
}

/// The device's pathpoints.
pub struct Registry {
    state: Mutex<State>,
    provider: Option<Arc<dyn PathpointProvider>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("pathpoints", &self.lock().order.len())
            .finish_non_exhaustive()
    }
}

fn check_name(path: &str) -> Result<(PathpointType, bool), PathError> {
    if path.len() > MAX_PATH_LEN {
        return Err(PathError::BadName(
            path.chars().take(40).collect(),
            format!("{} bytes long", path.len()),
        ));
    }
    PathpointType::of(path).map_err(|e| PathError::BadName(path.to_owned(), e.to_string()))
}

impl Registry {
    /// An empty registry; `provider` makes pathpoints it is asked about but does not have.
    pub fn new(provider: Option<Arc<dyn PathpointProvider>>) -> Self {
        Registry {
            state: Mutex::default(),
            provider,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `pp`, or replaces the I/O and level of the pathpoint of that name (its last value
    /// stays). A reparse name or a name without a type letter is refused.
    pub fn register(&self, pp: Pathpoint) -> Result<(), PathError> {
        let (_, reparse) = check_name(&pp.name)?;
        if reparse {
            return Err(PathError::BadName(
                pp.name,
                "reparse pathpoints are computed, not registered".into(),
            ));
        }
        let mut state = self.lock();
        Self::insert(&mut state, pp)
    }

    /// Adds a pathpoint with I/O (or gives a known one its I/O, level and options).
    fn insert(state: &mut State, pp: Pathpoint) -> Result<(), PathError> {
        let (value_type, _) = check_name(&pp.name)?;
        Self::insert_entry(state, pp.name.clone(), value_type, pp.level, Some(pp.io.clone()))?;
        if let Some(entry) = state.entries.get_mut(&pp.name) {
            entry.min_read_interval = pp.min_read_interval;
            entry.on_value = pp.on_value;
        }
        Ok(())
    }

    fn insert_entry(
        state: &mut State,
        name: String,
        value_type: PathpointType,
        level: StorageLevel,
        io: Option<Arc<dyn DynIo>>,
    ) -> Result<(), PathError> {
        match state.entries.get_mut(&name) {
            Some(entry) => {
                if entry.level != level {
                    entry.level = level;
                    state.generation += 1;
                }
                if io.is_some() {
                    entry.io = io;
                }
            }
            None => {
                if state.order.len() >= MAX_PATHPOINTS {
                    return Err(PathError::Full);
                }
                state.order.push(name.clone());
                state.entries.insert(
                    name,
                    Box::new(Entry {
                        value_type,
                        level,
                        io,
                        last: None,
                        min_read_interval: None,
                        last_read: None,
                        on_value: None,
                    }),
                );
                state.generation += 1;
            }
        }
        Ok(())
    }

    /// How `path` is read and written: a native pathpoint (made by the provider if it is new;
    /// without I/O when there is none) or a parsed reparse expression.
    pub(crate) fn resolve(&self, path: &str) -> Result<Resolved, PathError> {
        let (value_type, reparse) = check_name(path)?;
        if reparse {
            return self.reparse(path).map(Resolved::Reparse);
        }
        if let Some(entry) = self.lock().entries.get(path) {
            if entry.io.is_some() {
                return Ok(Resolved::Native {
                    value_type,
                    io: entry.io.clone(),
                });
            }
        }
        let made = self.provider.as_ref().and_then(|p| p.provide(path));
        let mut state = self.lock();
        match made {
            Some(pp) if pp.name == path => {
                let io = pp.io.clone();
                Self::insert(&mut state, pp)?;
                Ok(Resolved::Native {
                    value_type,
                    io: Some(io),
                })
            }
            _ => {
                if !state.entries.contains_key(path) {
                    Self::insert_entry(&mut state, path.to_owned(), value_type, StorageLevel::Trend, None)?;
                }
                Ok(Resolved::Native { value_type, io: None })
            }
        }
    }

    /// The parsed reparse pathpoint `path` (cached).
    pub fn reparse(&self, path: &str) -> Result<Arc<ReparsePath>, PathError> {
        if let Some(r) = self.lock().reparse.get(path) {
            return Ok(r.clone());
        }
        let parsed =
            Arc::new(ReparsePath::parse(path).map_err(|e| PathError::BadExpression(path.to_owned(), e))?);
        let mut state = self.lock();
        if state.reparse.len() >= MAX_REPARSE_CACHE {
            state.reparse.clear();
        }
        state.reparse.insert(path.to_owned(), parsed.clone());
        Ok(parsed)
    }

    /// A pathpoint the server listed with `level`: a new one is made by the provider (or kept
    /// without I/O); a known one takes the level. Returns whether it was new.
    pub(crate) fn learn(&self, path: &str, level: StorageLevel) -> Result<bool, PathError> {
        let (value_type, reparse) = check_name(path)?;
        if reparse {
            return Ok(false);
        }
        if let Some(entry) = self.lock().entries.get_mut(path) {
            entry.level = level;
            return Ok(false);
        }
        let made = self.provider.as_ref().and_then(|p| p.provide(path));
        let mut state = self.lock();
        if state.entries.contains_key(path) {
            return Ok(false);
        }
        match made.filter(|pp| pp.name == path) {
            Some(pp) => Self::insert(&mut state, pp.storage_level(level))?,
            None => Self::insert_entry(&mut state, path.to_owned(), value_type, level, None)?,
        }
        Ok(true)
    }

    /// Records `sample` as the last value of `path` if it is not older than the last one, and
    /// calls the pathpoint's callback.
    pub(crate) fn record(&self, path: &str, sample: &Sample) {
        let callback = {
            let mut state = self.lock();
            let Some(entry) = state.entries.get_mut(path) else {
                return;
            };
            if entry.last.as_ref().map_or(true, |l| l.ts() <= sample.ts()) {
                entry.last = Some(sample.clone());
            }
            entry.on_value.clone()
        };
        if let Some(callback) = callback {
            let call = std::panic::AssertUnwindSafe(|| callback(path, sample));
            if std::panic::catch_unwind(call).is_err() {
                tracing::error!(path, "the pathpoint's value callback panicked");
            }
        }
    }

    /// Whether `path` may be read at `now` (its minimum read interval has passed); if so,
    /// the read counts from `now`.
    pub(crate) fn may_read(&self, path: &str, now: Instant) -> bool {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(path) else {
            return true;
        };
        let allowed = match (entry.min_read_interval, entry.last_read) {
            (Some(interval), Some(at)) => now.saturating_duration_since(at) >= interval,
            _ => true,
        };
        if allowed {
            entry.last_read = Some(now);
        }
        allowed
    }

    /// A timestamp for a new sample of `path` taken at `now_ms`: later than its last one, so
    /// that each sample of a path has its own timestamp.
    pub(crate) fn next_ts(&self, path: &str, now_ms: u64) -> u64 {
        let last = self
            .lock()
            .entries
            .get(path)
            .and_then(|e| e.last.as_ref().map(Sample::ts));
        last.map_or(now_ms, |l| now_ms.max(l + 1))
    }

    /// The last value or failed read of native pathpoint `path`.
    pub fn last(&self, path: &str) -> Option<Sample> {
        self.lock().entries.get(path).and_then(|e| e.last.clone())
    }

    /// What the registry knows about native pathpoint `path`.
    pub fn info(&self, path: &str) -> Option<PathpointInfo> {
        let state = self.lock();
        state.entries.get(path).map(|e| PathpointInfo {
            name: path.to_owned(),
            value_type: e.value_type,
            storage_level: e.level,
            last: e.last.clone(),
            has_io: e.io.is_some(),
        })
    }

    /// Every native pathpoint, in registration order.
    pub fn list(&self) -> Vec<PathpointInfo> {
        let names = self.lock().order.clone();
        names.iter().filter_map(|n| self.info(n)).collect()
    }

    /// The list to send the server, if it changed since the server last accepted one: the
    /// generation it belongs to, and every native pathpoint in registration order.
    pub(crate) fn registration_due(&self) -> Option<(u64, Vec<PathpointRegistration>)> {
        let state = self.lock();
        if state.registered == Some(state.generation) || state.order.is_empty() {
            return None; // nothing new, or nothing to tell
        }
        let list = state
            .order
            .iter()
            .map(|n| PathpointRegistration::new(n.clone(), state.entries[n].level))
            .collect();
        Some((state.generation, list))
    }

    /// The registry's generation: it changes whenever the set of pathpoints or a level does.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The server accepted the list of `generation`.
    pub(crate) fn registered(&self, generation: u64) {
        self.lock().registered = Some(generation);
    }

    /// Last values loaded from the store at start.
    pub(crate) fn restore(&self, path: &str, sample: Sample) {
        let Ok((value_type, false)) = check_name(path) else {
            return;
        };
        let mut state = self.lock();
        if !state.entries.contains_key(path)
            && Self::insert_entry(&mut state, path.to_owned(), value_type, StorageLevel::Trend, None).is_err()
        {
            return;
        }
        if let Some(entry) = state.entries.get_mut(path) {
            if entry.last.as_ref().map_or(true, |l| l.ts() <= sample.ts()) {
                entry.last = Some(sample);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ngtt_proto::payload::{Advise, PathpointValue, ReadError};

    use super::*;
    use crate::pathpoint::PathpointIo;

    struct Fixed;

    impl PathpointIo for Fixed {
        async fn read(&self, _: &str, _: Advise) -> Result<PathpointValue, ReadError> {
            Ok(PathpointValue::Int(1))
        }
        async fn write(&self, _: &str, _: PathpointValue, _: Advise) -> Result<(), ReadError> {
            Ok(())
        }
    }

    #[test]
    fn resolving_a_known_pathpoint_leaves_the_generation_alone() {
        let provider = |path: &str| path.starts_with("W9").then(|| Pathpoint::new(path, Fixed));
        let r = Registry::new(Some(Arc::new(provider)));
        r.register(Pathpoint::new("W1", Fixed)).unwrap();
        let start = r.generation();
        for _ in 0..3 {
            r.resolve("W1").unwrap();
        }
        assert_eq!(r.generation(), start, "a known pathpoint: nothing to register");
        r.resolve("W9a").unwrap();
        let made = r.generation();
        assert_ne!(made, start, "made by the provider");
        r.resolve("W9a").unwrap();
        r.resolve("d5").unwrap();
        assert_ne!(r.generation(), made, "a new name kept without I/O");
    }

    #[test]
    fn registration_follows_changes() {
        let provider = |path: &str| path.starts_with("W9").then(|| Pathpoint::new(path, Fixed));
        let r = Registry::new(Some(Arc::new(provider)));
        r.register(Pathpoint::new("W1", Fixed).storage_level(StorageLevel::Permanent))
            .unwrap();
        assert!(r.register(Pathpoint::new("rW{W1}", Fixed)).is_err());
        assert!(r.register(Pathpoint::new("Q1", Fixed)).is_err());
        let (generation, list) = r.registration_due().unwrap();
        assert_eq!(list, [PathpointRegistration::new("W1", StorageLevel::Permanent)]);
        r.registered(generation);
        assert!(r.registration_due().is_none());

        // The server's list: a new name is made by the provider or kept without I/O; a known
        // one takes the server's level.
        assert!(r.learn("W9a", StorageLevel::Trend).unwrap());
        assert!(r.learn("d5", StorageLevel::Permanent).unwrap());
        assert!(!r.learn("W1", StorageLevel::Trend).unwrap());
        assert!(
            !r.learn("rf{d5}", StorageLevel::Trend).unwrap(),
            "reparse names are skipped"
        );
        assert!(r.learn("bad", StorageLevel::Trend).is_err());
        assert_eq!(r.info("W1").unwrap().storage_level, StorageLevel::Trend);
        assert!(r.info("W9a").unwrap().has_io && !r.info("d5").unwrap().has_io);
        let (_, list) = r.registration_due().unwrap();
        assert_eq!(list.len(), 3);

        assert!(matches!(
            r.resolve("W9b").unwrap(),
            Resolved::Native { io: Some(_), .. }
        ));
        assert!(matches!(
            r.resolve("W2").unwrap(),
            Resolved::Native { io: None, .. }
        ));
        assert!(matches!(r.resolve("rf{W1}+1").unwrap(), Resolved::Reparse(_)));
        assert!(matches!(r.resolve("rf{W1}+"), Err(PathError::BadExpression(..))));
    }

    #[test]
    fn last_values_and_timestamps() {
        let r = Registry::new(None);
        r.register(Pathpoint::new("W1", Fixed)).unwrap();
        assert_eq!(r.next_ts("W1", 100), 100);
        r.record("W1", &Sample::value(100, 5));
        assert_eq!(r.next_ts("W1", 100), 101, "one timestamp per sample");
        r.record("W1", &Sample::value(50, 1));
        assert_eq!(
            r.last("W1"),
            Some(Sample::value(100, 5)),
            "an older sample is not the last"
        );
        r.restore("d7", Sample::value(3, 1.5));
        assert_eq!(r.last("d7"), Some(Sample::value(3, 1.5)));
    }

    #[test]
    fn read_intervals_and_callbacks() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let r = Registry::new(None);
        let pp = Pathpoint::new("W1", Fixed)
            .min_read_interval(Duration::from_secs(10))
            .on_value(move |path, sample| log.lock().unwrap().push((path.to_owned(), sample.ts())));
        r.register(pp).unwrap();
        r.register(Pathpoint::new("W2", Fixed).on_value(|_, _| panic!("a bad callback")))
            .unwrap();
        let t0 = Instant::now();
        assert!(r.may_read("W1", t0));
        assert!(!r.may_read("W1", t0 + Duration::from_secs(5)));
        assert!(r.may_read("W1", t0 + Duration::from_secs(10)));
        assert!(r.may_read("W2", t0) && r.may_read("W2", t0));
        r.record("W1", &Sample::value(7, 1));
        r.record("W2", &Sample::value(7, 1)); // the panic is caught
        assert_eq!(*seen.lock().unwrap(), [("W1".to_owned(), 7)]);
    }
}
