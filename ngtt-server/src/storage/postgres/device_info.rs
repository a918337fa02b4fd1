//! Device information and slave-device instrumentation in PostgreSQL (`device_info`,
//! `slave_devices`).

use serde_json::Value;
use tokio_postgres::Row;

use super::bridge::PostgresStorage;
use super::{ensure_device, lock_device, now_ms, Tx};
use crate::storage::device_info::{
    CultureContext, DeviceInfo, Instrumentation, InstrumentationPatch, SlaveDevice,
};
use crate::storage::StorageError;

fn corrupt(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("{what}: {e}"))
}

fn instrumentation_of(row: &Row) -> Result<Instrumentation, StorageError> {
    Ok(Instrumentation {
        linkstate: row.try_get(0)?,
        instrumentation: row.try_get(1)?,
    })
}

pub(super) async fn read(storage: &PostgresStorage, device_id: &str) -> Result<DeviceInfo, StorageError> {
    let client = storage.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT verbose_name, facets, language, timezone, units FROM device_info WHERE device_id = $1",
        )
        .await?;
    let mut info = DeviceInfo::default();
    if let Some(row) = client.query_opt(&stmt, &[&device_id]).await? {
        info.verbose_name = row.try_get(0)?;
        let facets: String = row.try_get(1)?;
        info.facets = serde_json::from_str(&facets).map_err(|e| corrupt("facets", e))?;
        info.culture_context = CultureContext {
            language: row.try_get(2)?,
            timezone: row.try_get(3)?,
            units: row.try_get(4)?,
        };
    }
    let stmt = client
        .prepare_cached(
            "SELECT slave_id, master_controller, responsible_service, configuration
             FROM slave_devices WHERE device_id = $1 ORDER BY position",
        )
        .await?;
    for row in client.query(&stmt, &[&device_id]).await? {
        let configuration: String = row.try_get(3)?;
        let configuration: Value =
            serde_json::from_str(&configuration).map_err(|e| corrupt("slave configuration", e))?;
        info.slave_devices.push(SlaveDevice {
            device_id: row.try_get(0)?,
            master_controller: row.try_get(1)?,
            responsible_service: row.try_get(2)?,
            configuration,
        });
    }
    Ok(info)
}

pub(super) async fn write(tx: &Tx<'_>, device_id: &str, info: &DeviceInfo) -> Result<(), StorageError> {
    lock_device(tx, device_id).await?;
    ensure_device(tx, device_id).await?;
    let facets = serde_json::to_string(&info.facets).map_err(|e| corrupt("facets", e))?;
    let ctx = &info.culture_context;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO device_info (device_id, verbose_name, facets, language, timezone, units, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (device_id) DO UPDATE SET verbose_name = excluded.verbose_name,
                 facets = excluded.facets, language = excluded.language, timezone = excluded.timezone,
                 units = excluded.units, updated_at = excluded.updated_at",
        )
        .await?;
    tx.execute(
        &upsert,
        &[
            &device_id,
            &info.verbose_name,
            &facets,
            &ctx.language,
            &ctx.timezone,
            &ctx.units,
            &now_ms(),
        ],
    )
    .await?;
    // Slaves that stay keep their instrumentation; the others go.
    let keep: Vec<&str> = info.slave_devices.iter().map(|s| s.device_id.as_str()).collect();
    let remove = tx
        .prepare_cached("DELETE FROM slave_devices WHERE device_id = $1 AND NOT (slave_id = ANY($2))")
        .await?;
    tx.execute(&remove, &[&device_id, &keep]).await?;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO slave_devices (device_id, slave_id, position, master_controller,
                 responsible_service, configuration)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (device_id, slave_id) DO UPDATE SET position = excluded.position,
                 master_controller = excluded.master_controller,
                 responsible_service = excluded.responsible_service,
                 configuration = excluded.configuration",
        )
        .await?;
    for (position, slave) in info.slave_devices.iter().enumerate() {
        tx.execute(
            &upsert,
            &[
                &device_id,
                &slave.device_id,
                &i64::try_from(position).unwrap_or(i64::MAX),
                &slave.master_controller,
                &slave.responsible_service,
                &slave.configuration.to_string(),
            ],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn instrumentation(
    storage: &PostgresStorage,
    device_id: &str,
    slave_id: &str,
) -> Result<Option<Instrumentation>, StorageError> {
    let client = storage.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT linkstate, instrumentation FROM slave_devices WHERE device_id = $1 AND slave_id = $2",
        )
        .await?;
    client
        .query_opt(&stmt, &[&device_id, &slave_id])
        .await?
        .as_ref()
        .map(instrumentation_of)
        .transpose()
}

pub(super) async fn patch_instrumentation(
    tx: &Tx<'_>,
    device_id: &str,
    slave_id: &str,
    patch: &InstrumentationPatch,
) -> Result<Option<Instrumentation>, StorageError> {
    let stmt = tx
        .prepare_cached(
            "UPDATE slave_devices SET linkstate = COALESCE($3, linkstate),
                 instrumentation = COALESCE($4, instrumentation), instrumented_at = $5
             WHERE device_id = $1 AND slave_id = $2
             RETURNING linkstate, instrumentation",
        )
        .await?;
    tx.query_opt(
        &stmt,
        &[
            &device_id,
            &slave_id,
            &patch.linkstate,
            &patch.instrumentation,
            &now_ms(),
        ],
    )
    .await?
    .as_ref()
    .map(instrumentation_of)
    .transpose()
}
