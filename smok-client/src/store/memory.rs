//! [`MemoryStore`]: the store in memory, for tests and devices without storage. Same bounds
//! and semantics as the SQLite store; gone when the process ends.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use ngtt_proto::payload::{LogRecord, Sample};
use smok_http::SensorWriteRecord;

use super::{
    LogStore, Pending, SampleStore, SensorWriteStore, StateStore, Store, StoreLimits, StoreResult,
    StoreStats, StoredSample,
};

/// A store in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    limits: StoreLimits,
    inner: Mutex<Inner>,
    pub(super) alarms: super::memory_alarms::Alarms,
    /// BAOBs by key: version and contents (store/baob.rs).
    baobs: Mutex<BTreeMap<String, (i64, Vec<u8>)>>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    samples: VecDeque<Pending<StoredSample>>,
    last: BTreeMap<String, Sample>,
    logs: VecDeque<Pending<LogRecord>>,
    writes: VecDeque<Pending<SensorWriteRecord>>,
    state: HashMap<String, Vec<u8>>,
    stats: StoreStats,
}

impl Inner {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// Drops the oldest entries of `queue` beyond `limit`; returns how many.
fn trim<T>(queue: &mut VecDeque<T>, limit: u64) -> u64 {
    let mut dropped = 0;
    while queue.len() as u64 > limit {
        queue.pop_front();
        dropped += 1;
    }
    dropped
}

fn ack<T>(queue: &mut VecDeque<Pending<T>>, through: u64) {
    while queue.front().is_some_and(|p| p.id <= through) {
        queue.pop_front();
    }
}

fn first<T: Clone>(queue: &VecDeque<Pending<T>>, max: usize) -> Vec<Pending<T>> {
    queue.iter().take(max).cloned().collect()
}

impl MemoryStore {
    /// An empty store with the default limits.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// An empty store with `limits`.
    pub fn with_limits(limits: StoreLimits) -> Self {
        MemoryStore {
            limits,
            ..MemoryStore::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn baobs(&self) -> MutexGuard<'_, BTreeMap<String, (i64, Vec<u8>)>> {
        self.baobs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SampleStore for MemoryStore {
    fn push_samples(&self, path: &str, samples: &[Sample]) -> StoreResult<u64> {
        let mut inner = self.lock();
        for sample in samples {
            let id = inner.id();
            let item = StoredSample {
                path: path.to_owned(),
                sample: sample.clone(),
            };
            inner.samples.push_back(Pending { id, item });
        }
        if let Some(newest) = samples.iter().max_by_key(|s| s.ts()) {
            let newer = inner.last.get(path).map_or(true, |old| old.ts() <= newest.ts());
            if newer {
                inner.last.insert(path.to_owned(), newest.clone());
            }
        }
        let dropped = trim(&mut inner.samples, self.limits.samples);
        inner.stats.samples_dropped += dropped;
        Ok(dropped)
    }

    fn pending_samples(&self, max: usize) -> StoreResult<Vec<Pending<StoredSample>>> {
        Ok(first(&self.lock().samples, max))
    }

    fn ack_samples_through(&self, id: u64) -> StoreResult<()> {
        ack(&mut self.lock().samples, id);
        Ok(())
    }

    fn last_values(&self) -> StoreResult<Vec<StoredSample>> {
        Ok(self
            .lock()
            .last
            .iter()
            .map(|(path, sample)| StoredSample {
                path: path.clone(),
                sample: sample.clone(),
            })
            .collect())
    }
}

impl LogStore for MemoryStore {
    fn push_logs(&self, records: &[LogRecord]) -> StoreResult<u64> {
        let mut inner = self.lock();
        for record in records {
            let id = inner.id();
            inner.logs.push_back(Pending {
                id,
                item: record.clone(),
            });
        }
        let dropped = trim(&mut inner.logs, self.limits.logs);
        inner.stats.logs_dropped += dropped;
        Ok(dropped)
    }

    fn pending_logs(&self, max: usize) -> StoreResult<Vec<Pending<LogRecord>>> {
        Ok(first(&self.lock().logs, max))
    }

    fn ack_logs_through(&self, id: u64) -> StoreResult<()> {
        ack(&mut self.lock().logs, id);
        Ok(())
    }
}

impl SensorWriteStore for MemoryStore {
    fn push_sensor_write(&self, record: &SensorWriteRecord) -> StoreResult<bool> {
        let mut inner = self.lock();
        let duplicate = inner
            .writes
            .iter()
            .any(|p| p.item.timestamp == record.timestamp && p.item.fqts == record.fqts);
        if duplicate {
            return Ok(false);
        }
        let id = inner.id();
        inner.writes.push_back(Pending {
            id,
            item: record.clone(),
        });
        let dropped = trim(&mut inner.writes, self.limits.sensor_writes);
        inner.stats.sensor_writes_dropped += dropped;
        Ok(true)
    }

    fn pending_sensor_writes(&self, max: usize) -> StoreResult<Vec<Pending<SensorWriteRecord>>> {
        Ok(first(&self.lock().writes, max))
    }

    fn ack_sensor_writes_through(&self, id: u64) -> StoreResult<()> {
        ack(&mut self.lock().writes, id);
        Ok(())
    }
}

impl StateStore for MemoryStore {
    fn put_state(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.lock().state.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn get_state(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.lock().state.get(key).cloned())
    }
}

impl Store for MemoryStore {
    fn stats(&self) -> StoreResult<StoreStats> {
        let inner = self.lock();
        Ok(StoreStats {
            samples_pending: inner.samples.len() as u64,
            logs_pending: inner.logs.len() as u64,
            sensor_writes_pending: inner.writes.len() as u64,
            ..inner.stats
        })
    }
}
