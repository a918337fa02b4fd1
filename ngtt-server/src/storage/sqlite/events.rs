//! Events (alarms) in SQLite (`events`): idempotent creation by identity, updates by uuid
//! (see [`crate::storage::events`]).

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::{now_ms, SqliteStorage};
use crate::storage::events::{metadata_of, EventQuery, EventRecord, EventReport};
use crate::storage::StorageError;

const COLUMNS: &str = "uuid, started_on, ended_on, color, alarm_type, token, group_name, message, metadata,
    handled_by, closed_by, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(EventRecord, String)> {
    Ok((
        EventRecord {
            uuid: r.get(0)?,
            report: EventReport {
                uuid: Some(r.get(0)?),
                started_on: r.get(1)?,
                ended_on: r.get(2)?,
                color: r.get(3)?,
                alarm_type: r.get(4)?,
                token: r.get(5)?,
                group: r.get(6)?,
                message: r.get(7)?,
                metadata: BTreeMap::new(),
                handled_by: r.get(9)?,
            },
            closed_by: r.get(10)?,
            created_at_ms: r.get(11)?,
            updated_at_ms: r.get(12)?,
        },
        r.get(8)?,
    ))
}

fn finish((mut e, metadata): (EventRecord, String)) -> Result<EventRecord, StorageError> {
    e.report.metadata = metadata_of(&e.uuid, &metadata)?;
    Ok(e)
}

/// A random (version 4) uuid from SQLite's generator.
fn new_uuid(tx: &Transaction<'_>) -> Result<String, StorageError> {
    let mut b: Vec<u8> = tx.query_row("SELECT randomblob(16)", [], |r| r.get(0))?;
    if b.len() != 16 {
        return Err(StorageError::Corrupt(
            "randomblob(16) returned another length".into(),
        ));
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// The uuid of the stored event `e` describes, if any: by its uuid when the identity agrees,
/// else by identity alone.
fn find(
    tx: &Transaction<'_>,
    device_id: &str,
    e: &EventReport,
    metadata: &str,
) -> Result<Option<String>, StorageError> {
    if let Some(uuid) = &e.uuid {
        let same = tx
            .prepare_cached(
                "SELECT 1 FROM events WHERE device_id = ?1 AND uuid = ?2 AND started_on = ?3 AND alarm_type = ?4
                   AND token = ?5 AND message = ?6 AND metadata = ?7",
            )?
            .exists(params![device_id, uuid, e.started_on, e.alarm_type, e.token, e.message, metadata])?;
        if same {
            return Ok(Some(uuid.clone()));
        }
    }
    Ok(tx
        .prepare_cached(
            "SELECT uuid FROM events WHERE device_id = ?1 AND started_on = ?2 AND alarm_type = ?3 AND token = ?4
               AND message = ?5 AND metadata = ?6 ORDER BY created_at, uuid LIMIT 1",
        )?
        .query_row(params![device_id, e.started_on, e.alarm_type, e.token, e.message, metadata], |r| r.get(0))
        .optional()?)
}

impl SqliteStorage {
    pub(super) fn report_events_tx(
        &self,
        device_id: &str,
        events: &[EventReport],
    ) -> Result<Vec<String>, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        let mut uuids = Vec::with_capacity(events.len());
        for e in events {
            let metadata = e.metadata_json();
            let uuid = match find(&tx, device_id, e, &metadata)? {
                Some(uuid) => {
                    tx.prepare_cached(
                        "UPDATE events SET
                             closed_by = CASE WHEN ended_on IS NULL AND ?3 IS NOT NULL THEN 'device' ELSE closed_by END,
                             ended_on = COALESCE(ended_on, ?3), color = ?4, group_name = ?5,
                             handled_by = COALESCE(?6, handled_by), updated_at = ?7
                         WHERE device_id = ?1 AND uuid = ?2",
                    )?
                    .execute(params![device_id, uuid, e.ended_on, e.color, e.group, e.handled_by, now])?;
                    uuid
                }
                None => {
                    // Keep the device's uuid when it has one we do not know (e.g. from a
                    // database restored from backup); a fresh one otherwise.
                    let uuid = match &e.uuid {
                        Some(u)
                            if !tx
                                .prepare_cached("SELECT 1 FROM events WHERE device_id = ?1 AND uuid = ?2")?
                                .exists(params![device_id, u])? =>
                        {
                            u.clone()
                        }
                        _ => new_uuid(&tx)?,
                    };
                    tx.prepare_cached(
                        "INSERT INTO events (device_id, uuid, started_on, ended_on, color, alarm_type, token, group_name,
                             message, metadata, handled_by, closed_by, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
                    )?
                    .execute(params![
                        device_id,
                        uuid,
                        e.started_on,
                        e.ended_on,
                        e.color,
                        e.alarm_type,
                        e.token,
                        e.group,
                        e.message,
                        metadata,
                        e.handled_by,
                        e.ended_on.map(|_| "device"),
                        now
                    ])?;
                    uuid
                }
            };
            uuids.push(uuid);
        }
        tx.commit()?;
        Ok(uuids)
    }

    pub(super) fn list_events_tx(
        &self,
        device_id: &str,
        query: EventQuery,
    ) -> Result<Vec<EventRecord>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE device_id = ?1
               AND (?2 IS NULL OR (?2 = 1 AND ended_on IS NULL) OR (?2 = 0 AND ended_on IS NOT NULL))
             ORDER BY created_at DESC, started_on DESC, uuid LIMIT ?3"
        ))?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![device_id, query.open, limit], from_row)?;
        rows.map(|r| finish(r?)).collect()
    }

    pub(super) fn event_tx(&self, device_id: &str, uuid: &str) -> Result<Option<EventRecord>, StorageError> {
        let conn = self.lock();
        let row = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE device_id = ?1 AND uuid = ?2"
            ))?
            .query_row(params![device_id, uuid], from_row)
            .optional()?;
        row.map(finish).transpose()
    }

    pub(super) fn close_event_tx(
        &self,
        device_id: &str,
        uuid: &str,
        ended_on: f64,
        handled_by: Option<&str>,
    ) -> Result<Option<EventRecord>, StorageError> {
        {
            let conn = self.lock();
            let n = conn
                .prepare_cached(
                    "UPDATE events SET
                         closed_by = CASE WHEN ended_on IS NULL THEN 'admin' ELSE closed_by END,
                         ended_on = COALESCE(ended_on, MAX(?3, started_on)),
                         handled_by = COALESCE(?4, handled_by), updated_at = ?5
                     WHERE device_id = ?1 AND uuid = ?2",
                )?
                .execute(params![device_id, uuid, ended_on, handled_by, now_ms()])?;
            if n == 0 {
                return Ok(None);
            }
        }
        self.event_tx(device_id, uuid)
    }
}
