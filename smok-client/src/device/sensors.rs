//! The device's sensors: synced from the server (see `sync.rs`), read and written through
//! their pathpoints; and the sensor write log.

use ngtt_proto::payload::{Advise, Sample};

use super::framework::Readiness;
use super::SmokDevice;
use crate::error::{ClientError, Result};
use crate::sensor::{fqtsify, Sensor, SensorValue, SensorWriteRecord};
use crate::store::StoreStats;

impl SmokDevice {
    /// Waits until the device knows its sensors: the first `GET /v1/device/sensors` succeeded,
    /// or failed (then the list cached by the last run is used, if any). It never waits
    /// longer than one request (the HTTP timeout), and says where the sensors came from.
    /// Orders, uploads and logs never wait for it.
    pub async fn ready(&self) -> Readiness {
        let mut readiness = self.fw().readiness.subscribe();
        if let Ok(r) = readiness.wait_for(Readiness::is_ready).await {
            return r.clone();
        }
        let now = readiness.borrow().clone();
        now
    }

    /// The readiness now, without waiting.
    pub fn readiness(&self) -> Readiness {
        self.fw().readiness.borrow().clone()
    }

    /// Every sensor, by tag set.
    pub fn sensors(&self) -> Vec<Sensor> {
        self.fw().sensors()
    }

    /// The sensor with this tag set (in any order: `"temp boiler"` and `"boiler temp"` are one).
    pub fn sensor(&self, tags: &str) -> Option<Sensor> {
        self.fw().sensor(&fqtsify(tags))
    }

    fn need_sensor(&self, tags: &str) -> Result<Sensor> {
        self.sensor(tags)
            .ok_or_else(|| ClientError::NoSuchSensor(fqtsify(tags)))
    }

    /// The sensor's value from its pathpoints' last values, with the newest of their timestamps
    /// (ms). `None` while one of them has no value.
    pub fn sensor_value(&self, tags: &str) -> Result<Option<(u64, SensorValue)>> {
        let sensor = self.need_sensor(tags)?;
        let mut values = Vec::new();
        let mut newest = 0;
        for path in sensor.paths() {
            match self.value(path)? {
                None => return Ok(None),
                Some(Sample::Error { error, .. }) => {
                    return Err(ClientError::Operation {
                        operation: "read",
                        path: path.clone(),
                        error,
                    })
                }
                Some(Sample::Value { ts, value }) => {
                    newest = newest.max(ts);
                    values.push(value);
                }
            }
        }
        let value = sensor
            .kind()
            .to_sensor(&values)
            .map_err(|reason| ClientError::Sensor {
                fqts: sensor.fqts().to_owned(),
                reason,
            })?;
        Ok(Some((newest, value)))
    }

    /// Reads the sensor's pathpoints now, then returns its value.
    pub async fn read_sensor(&self, tags: &str, advise: Advise) -> Result<Option<(u64, SensorValue)>> {
        let sensor = self.need_sensor(tags)?;
        for path in sensor.paths() {
            self.read(path, advise).await?;
        }
        self.sensor_value(tags)
    }

    /// Writes the sensor: `(value − offset) / multiplier`, coerced to the type of its first
    /// pathpoint, written there. Nothing is logged: record the write with
    /// [`SmokDevice::log_sensor_write`] (or use [`SmokDevice::write_sensor_logged`]).
    pub async fn write_sensor(&self, tags: &str, value: SensorValue, advise: Advise) -> Result<()> {
        let sensor = self.need_sensor(tags)?;
        let first = sensor.paths().first().ok_or_else(|| ClientError::Sensor {
            fqts: sensor.fqts().to_owned(),
            reason: "no pathpoints".into(),
        })?;
        let raw = sensor
            .kind()
            .to_pathpoint(&value, first)
            .map_err(|reason| ClientError::Sensor {
                fqts: sensor.fqts().to_owned(),
                reason,
            })?;
        self.write(first, raw, advise).await
    }

    /// Writes the sensor and, once the write succeeded, records it in the sensor write log as
    /// made by `who` for `reason`.
    pub async fn write_sensor_logged(
        &self,
        tags: &str,
        value: SensorValue,
        advise: Advise,
        who: &str,
        reason: &str,
    ) -> Result<()> {
        let sensor = self.need_sensor(tags)?;
        self.write_sensor(tags, value.clone(), advise).await?;
        let ts = super::pathpoints::now_ms();
        self.log_sensor_write(sensor.write_record(ts, who, reason, &value.to_string()))
    }

    /// Records a sensor write for the sensor write log (`PUT /v1/device/sensor/write_log`):
    /// stored at once (a record with the same timestamp and tag set is stored once), uploaded
    /// in the background.
    pub fn log_sensor_write(&self, mut record: SensorWriteRecord) -> Result<()> {
        record.fqts = fqtsify(&record.fqts);
        self.fw().store.push_sensor_write(&record)?;
        self.fw().writes_added.notify_one();
        Ok(())
    }

    /// What the device's store holds and has dropped.
    pub fn store_stats(&self) -> Result<StoreStats> {
        Ok(self.fw().store.stats()?)
    }
}
