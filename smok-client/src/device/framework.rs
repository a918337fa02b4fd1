//! The device framework's state: the pathpoint registry, the sensors, the store, and what
//! wakes the background syncs. Shared by the device's handles and its sync tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;
use ngtt_proto::payload::{PathpointSeries, Sample};
use tokio::sync::{watch, Notify};

use crate::executor::HandlerResult;
use crate::orders::SysctlOrder;
use crate::pathpoint::{Attempts, Registry};
use crate::sensor::{Sensor, SensorDefinition};
use crate::store::{Pending, Store, StoredSample};

/// The state key under which the last sensor list is cached.
pub(crate) const SENSORS_KEY: &str = "sensors";

/// The state key under which the server's last list of the device's pathpoints is cached.
pub(crate) const PATHPOINTS_KEY: &str = "pathpoints";

/// A handler of `sysctl` orders (see [`SmokDeviceBuilder::on_sysctl`](super::SmokDeviceBuilder::on_sysctl)).
pub type SysctlHook = Arc<dyn Fn(SysctlOrder) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// Where the device's sensors came from, as [`SmokDevice::ready`](super::SmokDevice::ready)
/// reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SensorsFrom {
    /// The first sync has not ended yet.
    Pending,
    /// From the server (`GET /v1/device/sensors` succeeded).
    Server,
    /// The server could not be asked; the list cached by the last run is used.
    Cache {
        /// Why the server's list could not be had.
        error: String,
    },
    /// The server could not be asked and nothing was cached: no sensors yet (the sync goes on
    /// in the background).
    Unavailable {
        /// Why the server's list could not be had.
        error: String,
    },
    /// The sensor sync is turned off (`sync_sensors(false)`): only cached sensors, if any.
    Disabled,
}

/// What the device knows once it is ready ([`SmokDevice::ready`](super::SmokDevice::ready)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// Where the sensors came from.
    pub sensors: SensorsFrom,
    /// How many sensors there are.
    pub sensor_count: usize,
}

impl Readiness {
    /// True once the first sensor sync has ended, whatever its outcome.
    pub fn is_ready(&self) -> bool {
        self.sensors != SensorsFrom::Pending
    }
}

pub(crate) struct Framework {
    pub(crate) registry: Registry,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) attempts: Attempts,
    pub(crate) sysctl: Option<SysctlHook>,
    sensors: Mutex<HashMap<String, Sensor>>,
    pub(crate) readiness: watch::Sender<Readiness>,
    /// New samples to upload.
    pub(crate) samples_added: Notify,
    /// New sensor write records to upload.
    pub(crate) writes_added: Notify,
    /// The set of pathpoints may have changed.
    pub(crate) registry_changed: Notify,
}

impl std::fmt::Debug for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framework")
            .field("registry", &self.registry)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Framework {
    pub(crate) fn new(
        registry: Registry,
        store: Arc<dyn Store>,
        attempts: Attempts,
        sysctl: Option<SysctlHook>,
    ) -> Framework {
        let framework = Framework {
            registry,
            store,
            attempts,
            sysctl,
            sensors: Mutex::default(),
            readiness: watch::Sender::new(Readiness {
                sensors: SensorsFrom::Pending,
                sensor_count: 0,
            }),
            samples_added: Notify::new(),
            writes_added: Notify::new(),
            registry_changed: Notify::new(),
        };
        framework.restore();
        framework
    }

    /// What the last run left: last values, and the cached sensor list.
    fn restore(&self) {
        match self.store.last_values() {
            Ok(values) => {
                for StoredSample { path, sample } in values {
                    self.registry.restore(&path, sample);
                }
            }
            Err(e) => tracing::warn!(error = %e, "the store's last values cannot be read"),
        }
        match self.store.get_state(PATHPOINTS_KEY) {
            Ok(Some(bytes)) => {
                match serde_json::from_slice::<Vec<smok_http::PathpointRegistration>>(&bytes) {
                    Ok(list) => {
                        for reg in list {
                            if let Err(e) = self.registry.learn(&reg.path, reg.storage_level) {
                                tracing::warn!(error = %e, "a cached pathpoint cannot be used");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "the cached pathpoint list cannot be read: ignored"),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the cached pathpoint list cannot be read"),
        }
        match self.store.get_state(SENSORS_KEY) {
            Ok(Some(bytes)) => match serde_json::from_slice::<Vec<SensorDefinition>>(&bytes) {
                Ok(defs) => {
                    let n = self.set_sensors(&defs);
                    tracing::debug!(sensors = n, "sensors restored from the store");
                }
                Err(e) => tracing::warn!(error = %e, "the cached sensor list cannot be read: ignored"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the cached sensor list cannot be read"),
        }
    }

    fn sensors_lock(&self) -> MutexGuard<'_, HashMap<String, Sensor>> {
        self.sensors.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the sensors with those of `defs` that can be used (the others are logged and
    /// skipped), registering their pathpoints. Returns how many there are.
    pub(crate) fn set_sensors(&self, defs: &[SensorDefinition]) -> usize {
        let mut sensors = HashMap::new();
        for def in defs {
            match Sensor::from_definition(def) {
                Ok(sensor) => {
                    for path in sensor.paths() {
                        if let Err(e) = self.registry.resolve(path) {
                            tracing::warn!(fqts = %sensor.fqts(), error = %e, "a sensor's pathpoint cannot be used");
                        }
                    }
                    sensors.insert(sensor.fqts().to_owned(), sensor);
                }
                Err(reason) => tracing::warn!(
                    definition = ?def,
                    "skipping a sensor the server sent: {reason}"
                ),
            }
        }
        let n = sensors.len();
        *self.sensors_lock() = sensors;
        self.registry_changed.notify_one();
        n
    }

    pub(crate) fn sensor(&self, fqts: &str) -> Option<Sensor> {
        self.sensors_lock().get(fqts).cloned()
    }

    pub(crate) fn sensors(&self) -> Vec<Sensor> {
        let mut all: Vec<Sensor> = self.sensors_lock().values().cloned().collect();
        all.sort_by(|a, b| a.fqts().cmp(b.fqts()));
        all
    }

    /// Stores a new sample of `path` (as its last value, and queued for upload).
    pub(crate) fn record(&self, path: &str, sample: Sample) -> crate::Result<()> {
        let dropped = self.store.push_samples(path, std::slice::from_ref(&sample))?;
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "the store is full: the oldest pathpoint samples were dropped"
            );
        }
        self.registry.record(path, &sample);
        self.samples_added.notify_one();
        Ok(())
    }
}

/// Queued samples as series, one per path in order of first appearance, samples in the order
/// they were queued.
pub(crate) fn to_series(batch: &[Pending<StoredSample>]) -> Vec<PathpointSeries> {
    let mut series: Vec<PathpointSeries> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for p in batch {
        let k = *index.entry(&p.item.path).or_insert_with(|| {
            series.push(PathpointSeries::new(p.item.path.clone(), []));
            series.len() - 1
        });
        series[k].values.push(p.item.sample.clone());
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_become_series() {
        let p = |id, path: &str, ts| Pending {
            id,
            item: StoredSample {
                path: path.into(),
                sample: Sample::value(ts, 1),
            },
        };
        let series = to_series(&[p(1, "W1", 1), p(2, "d2", 2), p(3, "W1", 3)]);
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].path, "W1");
        assert_eq!(series[0].values.len(), 2);
    }
}
