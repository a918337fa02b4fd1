//! The device HTTP API's message reports and pathpoint registrations in PostgreSQL.

use super::bridge::PostgresStorage;
use super::{limit_of, now_ms, Tx};
use crate::storage::types::{MessageReport, RegisteredPathpoint, StorageLevel};
use crate::storage::StorageError;

pub(super) async fn record_message(tx: &Tx<'_>, device_id: &str, uuid: &str) -> Result<bool, StorageError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO messages (device_id, uuid, reported_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .await?;
    Ok(tx.execute(&stmt, &[&device_id, &uuid, &now_ms()]).await? == 1)
}

pub(super) async fn list_messages(
    storage: &PostgresStorage,
    device_id: &str,
    limit: usize,
) -> Result<Vec<MessageReport>, StorageError> {
    let client = storage.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT uuid, reported_at FROM messages WHERE device_id = $1
             ORDER BY reported_at DESC, id DESC LIMIT $2",
        )
        .await?;
    let rows = client.query(&stmt, &[&device_id, &limit_of(limit)]).await?;
    let mut reports = rows
        .iter()
        .map(|r| {
            Ok(MessageReport {
                uuid: r.try_get(0)?,
                reported_at_ms: r.try_get(1)?,
            })
        })
        .collect::<Result<Vec<_>, StorageError>>()?;
    reports.reverse();
    Ok(reports)
}

pub(super) async fn register_pathpoints(
    tx: &Tx<'_>,
    device_id: &str,
    pathpoints: &[RegisteredPathpoint],
) -> Result<Vec<RegisteredPathpoint>, StorageError> {
    if !pathpoints.is_empty() {
        let now = now_ms();
        let upsert = tx
            .prepare_cached(
                "INSERT INTO pathpoints (device_id, path, storage_level, registered_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (device_id, path) DO UPDATE SET
                     storage_level = excluded.storage_level, registered_at = excluded.registered_at",
            )
            .await?;
        for p in pathpoints {
            let level = i64::from(p.storage_level.code());
            tx.execute(&upsert, &[&device_id, &p.path, &level, &now]).await?;
        }
    }
    let select = tx
        .prepare_cached("SELECT path, storage_level FROM pathpoints WHERE device_id = $1 ORDER BY path")
        .await?;
    let mut all = Vec::new();
    for row in tx.query(&select, &[&device_id]).await? {
        let path: String = row.try_get(0)?;
        let code: i64 = row.try_get(1)?;
        let storage_level = StorageLevel::from_code(code)
            .ok_or_else(|| StorageError::Corrupt(format!("pathpoint {path:?} has storage level {code}")))?;
        all.push(RegisteredPathpoint { path, storage_level });
    }
    Ok(all)
}
