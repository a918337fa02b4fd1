//! Sensors and the sensor write log in PostgreSQL (`sensors`, `sensor_writes`).

use super::bridge::PostgresStorage;
use super::{ensure_device, limit_of, lock_device, now_ms, Tx};
use crate::storage::sensors::{stored_scalar, Sensor, SensorWrite};
use crate::storage::StorageError;

pub(super) async fn list_sensors(
    storage: &PostgresStorage,
    device_id: &str,
) -> Result<Vec<Sensor>, StorageError> {
    let client = storage.client().await?;
    let stmt = client
        .prepare_cached("SELECT fqts, path, sensor_type FROM sensors WHERE device_id = $1 ORDER BY fqts")
        .await?;
    client
        .query(&stmt, &[&device_id])
        .await?
        .iter()
        .map(|r| {
            Ok(Sensor {
                fqts: r.try_get(0)?,
                path: r.try_get(1)?,
                sensor_type: r.try_get(2)?,
            })
        })
        .collect()
}

pub(super) async fn put_sensors(
    tx: &Tx<'_>,
    device_id: &str,
    sensors: &[Sensor],
    replace_all: bool,
) -> Result<usize, StorageError> {
    lock_device(tx, device_id).await?;
    ensure_device(tx, device_id).await?;
    if replace_all {
        let stmt = tx
            .prepare_cached("DELETE FROM sensors WHERE device_id = $1")
            .await?;
        tx.execute(&stmt, &[&device_id]).await?;
    }
    // `xmax = 0` tells an inserted row from an updated one.
    let upsert = tx
        .prepare_cached(
            "INSERT INTO sensors (device_id, fqts, path, sensor_type, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (device_id, fqts) DO UPDATE SET path = excluded.path,
                 sensor_type = excluded.sensor_type, updated_at = excluded.updated_at
             RETURNING (xmax = 0)",
        )
        .await?;
    let now = now_ms();
    let mut created = 0;
    for s in sensors {
        let row = tx
            .query_one(&upsert, &[&device_id, &s.fqts, &s.path, &s.sensor_type, &now])
            .await?;
        created += usize::from(row.try_get::<_, bool>(0)?);
    }
    Ok(created)
}

pub(super) async fn delete_sensor(tx: &Tx<'_>, device_id: &str, fqts: &str) -> Result<bool, StorageError> {
    let stmt = tx
        .prepare_cached("DELETE FROM sensors WHERE device_id = $1 AND fqts = $2")
        .await?;
    Ok(tx.execute(&stmt, &[&device_id, &fqts]).await? == 1)
}

pub(super) async fn store_sensor_writes(
    tx: &Tx<'_>,
    device_id: &str,
    writes: &[SensorWrite],
) -> Result<usize, StorageError> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO sensor_writes (device_id, ts, fqts, who, hr_sensor, hr_value, value, reason, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .await?;
    let now = now_ms();
    let mut stored = 0;
    for w in writes {
        stored += tx
            .execute(
                &insert,
                &[
                    &device_id,
                    &w.timestamp_ms,
                    &w.fqts,
                    &w.who,
                    &w.hr_sensor,
                    &w.hr_value.to_string(),
                    &w.value.to_string(),
                    &w.reason,
                    &now,
                ],
            )
            .await?;
    }
    Ok(usize::try_from(stored).unwrap_or(usize::MAX))
}

pub(super) async fn list_sensor_writes(
    storage: &PostgresStorage,
    device_id: &str,
    fqts: Option<&str>,
    limit: usize,
) -> Result<Vec<SensorWrite>, StorageError> {
    let client = storage.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT ts, who, hr_sensor, hr_value, fqts, value, reason, received_at FROM sensor_writes
             WHERE device_id = $1 AND ($2::TEXT IS NULL OR fqts = $2) ORDER BY ts DESC, fqts LIMIT $3",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&device_id, &fqts, &limit_of(limit)])
        .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(SensorWrite {
                timestamp_ms: r.try_get(0)?,
                who: r.try_get(1)?,
                hr_sensor: r.try_get(2)?,
                hr_value: stored_scalar(&r.try_get::<_, String>(3)?),
                fqts: r.try_get(4)?,
                value: stored_scalar(&r.try_get::<_, String>(5)?),
                reason: r.try_get(6)?,
                received_at_ms: r.try_get(7)?,
            })
        })
        .collect::<Result<Vec<_>, StorageError>>()?;
    out.reverse();
    Ok(out)
}
