//! Device information and slave-device instrumentation in SQLite (`device_info`,
//! `slave_devices`).

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use super::{ensure_device, now_ms, SqliteStorage};
use crate::storage::device_info::{
    CultureContext, DeviceInfo, Instrumentation, InstrumentationPatch, SlaveDevice,
};
use crate::storage::StorageError;

fn corrupt(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("{what}: {e}"))
}

impl SqliteStorage {
    pub(super) fn device_info_tx(&self, device_id: &str) -> Result<DeviceInfo, StorageError> {
        let conn = self.lock();
        let row = conn
            .prepare_cached(
                "SELECT verbose_name, facets, language, timezone, units FROM device_info
                 WHERE device_id = ?1",
            )?
            .query_row([device_id], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .optional()?;
        let mut info = DeviceInfo::default();
        if let Some((verbose_name, facets, language, timezone, units)) = row {
            info.verbose_name = verbose_name;
            info.facets = serde_json::from_str(&facets).map_err(|e| corrupt("facets", e))?;
            info.culture_context = CultureContext {
                language,
                timezone,
                units,
            };
        }
        let mut stmt = conn.prepare_cached(
            "SELECT slave_id, master_controller, responsible_service, configuration
             FROM slave_devices WHERE device_id = ?1 ORDER BY position",
        )?;
        let rows = stmt.query_map([device_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (slave_id, master_controller, responsible_service, configuration) = row?;
            let configuration: Value =
                serde_json::from_str(&configuration).map_err(|e| corrupt("slave configuration", e))?;
            info.slave_devices.push(SlaveDevice {
                device_id: slave_id,
                master_controller,
                responsible_service,
                configuration,
            });
        }
        Ok(info)
    }

    pub(super) fn set_device_info_tx(&self, device_id: &str, info: &DeviceInfo) -> Result<(), StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_device(&tx, device_id)?;
        let facets = serde_json::to_string(&info.facets).map_err(|e| corrupt("facets", e))?;
        let ctx = &info.culture_context;
        tx.prepare_cached(
            "INSERT INTO device_info (device_id, verbose_name, facets, language, timezone, units, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(device_id) DO UPDATE SET verbose_name = excluded.verbose_name,
                 facets = excluded.facets, language = excluded.language, timezone = excluded.timezone,
                 units = excluded.units, updated_at = excluded.updated_at",
        )?
        .execute(params![
            device_id,
            info.verbose_name,
            facets,
            ctx.language,
            ctx.timezone,
            ctx.units,
            now_ms()
        ])?;
        // Slaves that stay keep their instrumentation; the others go.
        let keep: Vec<&str> = info.slave_devices.iter().map(|s| s.device_id.as_str()).collect();
        let existing: Vec<String> = {
            let mut stmt = tx.prepare_cached("SELECT slave_id FROM slave_devices WHERE device_id = ?1")?;
            let rows = stmt.query_map([device_id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for gone in existing.iter().filter(|id| !keep.contains(&id.as_str())) {
            tx.prepare_cached("DELETE FROM slave_devices WHERE device_id = ?1 AND slave_id = ?2")?
                .execute(params![device_id, gone])?;
        }
        for (position, slave) in info.slave_devices.iter().enumerate() {
            tx.prepare_cached(
                "INSERT INTO slave_devices (device_id, slave_id, position, master_controller,
                     responsible_service, configuration)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(device_id, slave_id) DO UPDATE SET position = excluded.position,
                     master_controller = excluded.master_controller,
                     responsible_service = excluded.responsible_service,
                     configuration = excluded.configuration",
            )?
            .execute(params![
                device_id,
                slave.device_id,
                i64::try_from(position).unwrap_or(i64::MAX),
                slave.master_controller,
                slave.responsible_service,
                slave.configuration.to_string()
            ])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn instrumentation_tx(
        &self,
        device_id: &str,
        slave_id: &str,
    ) -> Result<Option<Instrumentation>, StorageError> {
        let conn = self.lock();
        let found = conn
            .prepare_cached(
                "SELECT linkstate, instrumentation FROM slave_devices
                 WHERE device_id = ?1 AND slave_id = ?2",
            )?
            .query_row(params![device_id, slave_id], |r| {
                Ok(Instrumentation {
                    linkstate: r.get(0)?,
                    instrumentation: r.get(1)?,
                })
            })
            .optional()?;
        Ok(found)
    }

    pub(super) fn patch_instrumentation_tx(
        &self,
        device_id: &str,
        slave_id: &str,
        patch: &InstrumentationPatch,
    ) -> Result<Option<Instrumentation>, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx
            .prepare_cached(
                "UPDATE slave_devices SET linkstate = COALESCE(?3, linkstate),
                     instrumentation = COALESCE(?4, instrumentation), instrumented_at = ?5
                 WHERE device_id = ?1 AND slave_id = ?2",
            )?
            .execute(params![
                device_id,
                slave_id,
                patch.linkstate,
                patch.instrumentation,
                now_ms()
            ])?;
        if changed == 0 {
            return Ok(None);
        }
        let now = tx
            .prepare_cached(
                "SELECT linkstate, instrumentation FROM slave_devices WHERE device_id = ?1 AND slave_id = ?2",
            )?
            .query_row(params![device_id, slave_id], |r| {
                Ok(Instrumentation {
                    linkstate: r.get(0)?,
                    instrumentation: r.get(1)?,
                })
            })?;
        tx.commit()?;
        Ok(Some(now))
    }
}
