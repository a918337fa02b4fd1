//! The sensor write log in SQLite (`sensor_writes`).

use super::{now_ms, SqliteStorage};
use crate::storage::sensors::{stored_scalar, SensorWrite};
use crate::storage::StorageError;
use rusqlite::{params, TransactionBehavior};

impl SqliteStorage {
    pub(super) fn store_sensor_writes_tx(
        &self,
        device_id: &str,
        writes: &[SensorWrite],
    ) -> Result<usize, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        let mut stored = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO sensor_writes (device_id, ts, fqts, who, hr_sensor, hr_value, value,
                     reason, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for w in writes {
                stored += insert.execute(params![
                    device_id,
                    w.timestamp_ms,
                    w.fqts,
                    w.who,
                    w.hr_sensor,
                    w.hr_value.to_string(),
                    w.value.to_string(),
                    w.reason,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(stored)
    }

    pub(super) fn list_sensor_writes_tx(
        &self,
        device_id: &str,
        fqts: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SensorWrite>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT ts, who, hr_sensor, hr_value, fqts, value, reason, received_at FROM sensor_writes
             WHERE device_id = ?1 AND (?2 IS NULL OR fqts = ?2) ORDER BY ts DESC, fqts LIMIT ?3",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![device_id, fqts, limit], |r| {
            Ok(SensorWrite {
                timestamp_ms: r.get(0)?,
                who: r.get(1)?,
                hr_sensor: r.get(2)?,
                hr_value: stored_scalar(&r.get::<_, String>(3)?),
                fqts: r.get(4)?,
                value: stored_scalar(&r.get::<_, String>(5)?),
                reason: r.get(6)?,
                received_at_ms: r.get(7)?,
            })
        })?;
        let mut out: Vec<SensorWrite> = rows.collect::<Result<_, _>>()?;
        out.reverse();
        Ok(out)
    }
}
