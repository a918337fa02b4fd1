//! Events (alarms) in PostgreSQL (`events`): idempotent creation by identity, updates by uuid
//! (see [`crate::storage::events`]).

use tokio_postgres::Row;

use super::bridge::PostgresStorage;
use super::{limit_of, lock_device, now_ms, Tx};
use crate::storage::events::{metadata_of, EventQuery, EventRecord, EventReport};
use crate::storage::StorageError;

const COLUMNS: &str = "uuid, started_on, ended_on, color, alarm_type, token, group_name, message, metadata,
    handled_by, closed_by, created_at, updated_at";

fn small(r: &Row, i: usize) -> Result<u8, StorageError> {
    let v: i64 = r.try_get(i)?;
    u8::try_from(v).map_err(|_| StorageError::Corrupt(format!("event column {i} holds {v}")))
}

fn from_row(r: &Row) -> Result<EventRecord, StorageError> {
    let uuid: String = r.try_get(0)?;
    let metadata: String = r.try_get(8)?;
    let metadata = metadata_of(&uuid, &metadata)?;
    Ok(EventRecord {
        report: EventReport {
            uuid: Some(uuid.clone()),
            started_on: r.try_get(1)?,
            ended_on: r.try_get(2)?,
            color: small(r, 3)?,
            alarm_type: small(r, 4)?,
            token: r.try_get(5)?,
            group: r.try_get(6)?,
            message: r.try_get(7)?,
            metadata,
            handled_by: r.try_get(9)?,
        },
        uuid,
        closed_by: r.try_get(10)?,
        created_at_ms: r.try_get(11)?,
        updated_at_ms: r.try_get(12)?,
    })
}

/// The uuid of the stored event `e` describes, if any: by its uuid when the identity agrees,
/// else by identity alone.
async fn find(
    tx: &Tx<'_>,
    device_id: &str,
    e: &EventReport,
    metadata: &str,
) -> Result<Option<String>, StorageError> {
    let identity = (i64::from(e.alarm_type), &e.token, &e.message);
    if let Some(uuid) = &e.uuid {
        let stmt = tx
            .prepare_cached(
                "SELECT 1 FROM events WHERE device_id = $1 AND uuid = $2 AND started_on = $3
                   AND alarm_type = $4 AND token = $5 AND message = $6 AND metadata = $7",
            )
            .await?;
        let same = tx
            .query_opt(
                &stmt,
                &[
                    &device_id,
                    uuid,
                    &e.started_on,
                    &identity.0,
                    identity.1,
                    identity.2,
                    &metadata,
                ],
            )
            .await?;
        if same.is_some() {
            return Ok(Some(uuid.clone()));
        }
    }
    let stmt = tx
        .prepare_cached(
            "SELECT uuid FROM events WHERE device_id = $1 AND started_on = $2 AND alarm_type = $3
               AND token = $4 AND message = $5 AND metadata = $6 ORDER BY created_at, uuid LIMIT 1",
        )
        .await?;
    let row = tx
        .query_opt(
            &stmt,
            &[
                &device_id,
                &e.started_on,
                &identity.0,
                identity.1,
                identity.2,
                &metadata,
            ],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// A uuid for a new event: the device's when it has one not in use (e.g. from a database
/// restored from backup), a fresh random (version 4) one otherwise.
async fn new_uuid(tx: &Tx<'_>, device_id: &str, given: Option<&String>) -> Result<String, StorageError> {
    if let Some(uuid) = given {
        let stmt = tx
            .prepare_cached("SELECT 1 FROM events WHERE device_id = $1 AND uuid = $2")
            .await?;
        if tx.query_opt(&stmt, &[&device_id, uuid]).await?.is_none() {
            return Ok(uuid.clone());
        }
    }
    Ok(tx
        .query_one("SELECT gen_random_uuid()::TEXT", &[])
        .await?
        .try_get(0)?)
}

pub(super) async fn report(
    tx: &Tx<'_>,
    device_id: &str,
    events: &[EventReport],
) -> Result<Vec<String>, StorageError> {
    lock_device(tx, device_id).await?;
    let now = now_ms();
    let update = tx
        .prepare_cached(
            "UPDATE events SET
                 closed_by = CASE WHEN ended_on IS NULL AND $3::FLOAT8 IS NOT NULL THEN 'device' ELSE closed_by END,
                 ended_on = COALESCE(ended_on, $3), color = $4, group_name = $5,
                 handled_by = COALESCE($6, handled_by), updated_at = $7
             WHERE device_id = $1 AND uuid = $2",
        )
        .await?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO events (device_id, uuid, started_on, ended_on, color, alarm_type, token, group_name,
                 message, metadata, handled_by, closed_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .await?;
    let mut uuids = Vec::with_capacity(events.len());
    for e in events {
        let metadata = e.metadata_json();
        let color = i64::from(e.color);
        let uuid = match find(tx, device_id, e, &metadata).await? {
            Some(uuid) => {
                tx.execute(
                    &update,
                    &[
                        &device_id,
                        &uuid,
                        &e.ended_on,
                        &color,
                        &e.group,
                        &e.handled_by,
                        &now,
                    ],
                )
                .await?;
                uuid
            }
            None => {
                let uuid = new_uuid(tx, device_id, e.uuid.as_ref()).await?;
                tx.execute(
                    &insert,
                    &[
                        &device_id,
                        &uuid,
                        &e.started_on,
                        &e.ended_on,
                        &color,
                        &i64::from(e.alarm_type),
                        &e.token,
                        &e.group,
                        &e.message,
                        &metadata,
                        &e.handled_by,
                        &e.ended_on.map(|_| "device"),
                        &now,
                    ],
                )
                .await?;
                uuid
            }
        };
        uuids.push(uuid);
    }
    Ok(uuids)
}

pub(super) async fn list(
    storage: &PostgresStorage,
    device_id: &str,
    query: EventQuery,
) -> Result<Vec<EventRecord>, StorageError> {
    let client = storage.client().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE device_id = $1
               AND ($2::BOOLEAN IS NULL OR ($2 AND ended_on IS NULL) OR (NOT $2 AND ended_on IS NOT NULL))
             ORDER BY created_at DESC, started_on DESC, uuid LIMIT $3"
        ))
        .await?;
    let rows = client
        .query(&stmt, &[&device_id, &query.open, &limit_of(query.limit)])
        .await?;
    rows.iter().map(from_row).collect()
}

pub(super) async fn one(
    storage: &PostgresStorage,
    device_id: &str,
    uuid: &str,
) -> Result<Option<EventRecord>, StorageError> {
    let client = storage.client().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE device_id = $1 AND uuid = $2"
        ))
        .await?;
    client
        .query_opt(&stmt, &[&device_id, &uuid])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub(super) async fn close(
    tx: &Tx<'_>,
    device_id: &str,
    uuid: &str,
    ended_on: f64,
    handled_by: Option<&str>,
) -> Result<Option<EventRecord>, StorageError> {
    let stmt = tx
        .prepare_cached(&format!(
            "UPDATE events SET
                 closed_by = CASE WHEN ended_on IS NULL THEN 'admin' ELSE closed_by END,
                 ended_on = COALESCE(ended_on, GREATEST($3::FLOAT8, started_on::FLOAT8)),
                 handled_by = COALESCE($4, handled_by), updated_at = $5
             WHERE device_id = $1 AND uuid = $2
             RETURNING {COLUMNS}"
        ))
        .await?;
    tx.query_opt(&stmt, &[&device_id, &uuid, &ended_on, &handled_by, &now_ms()])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}
