//! Sensors in SQLite (`sensors`).

use rusqlite::{params, TransactionBehavior};

use super::{ensure_device, now_ms, SqliteStorage};
use crate::storage::sensors::Sensor;
use crate::storage::StorageError;

impl SqliteStorage {
    pub(super) fn list_sensors_tx(&self, device_id: &str) -> Result<Vec<Sensor>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT fqts, path, sensor_type FROM sensors WHERE device_id = ?1 ORDER BY fqts",
        )?;
        let rows = stmt.query_map([device_id], |r| {
            Ok(Sensor {
                fqts: r.get(0)?,
                path: r.get(1)?,
                sensor_type: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn put_sensors_tx(
        &self,
        device_id: &str,
        sensors: &[Sensor],
        replace_all: bool,
    ) -> Result<usize, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_device(&tx, device_id)?;
        if replace_all {
            tx.prepare_cached("DELETE FROM sensors WHERE device_id = ?1")?
                .execute([device_id])?;
        }
        let now = now_ms();
        let mut created = 0;
        for s in sensors {
            let existed = tx
                .prepare_cached("SELECT 1 FROM sensors WHERE device_id = ?1 AND fqts = ?2")?
                .exists(params![device_id, s.fqts])?;
            tx.prepare_cached(
                "INSERT INTO sensors (device_id, fqts, path, sensor_type, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(device_id, fqts) DO UPDATE SET path = excluded.path,
                     sensor_type = excluded.sensor_type, updated_at = excluded.updated_at",
            )?
            .execute(params![device_id, s.fqts, s.path, s.sensor_type, now])?;
            created += usize::from(!existed);
        }
        tx.commit()?;
        Ok(created)
    }

    pub(super) fn delete_sensor_tx(&self, device_id: &str, fqts: &str) -> Result<bool, StorageError> {
        let conn = self.lock();
        let n = conn
            .prepare_cached("DELETE FROM sensors WHERE device_id = ?1 AND fqts = ?2")?
            .execute(params![device_id, fqts])?;
        Ok(n == 1)
    }
}
