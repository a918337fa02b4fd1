//! Predicates in PostgreSQL (`predicates`).

use serde_json::Value;
use tokio_postgres::Row;

use super::bridge::PostgresStorage;
use super::{ensure_device, now_ms, Tx};
use crate::storage::predicates::{Predicate, Silencing};
use crate::storage::StorageError;

fn from_row(r: &Row) -> Result<Predicate, StorageError> {
    let predicate_id: String = r.try_get(0)?;
    let bad = |e: String| StorageError::Corrupt(format!("predicate {predicate_id:?}: {e}"));
    let configuration: Value =
        serde_json::from_str(&r.try_get::<_, String>(3)?).map_err(|e| bad(e.to_string()))?;
    let silencing: Value =
        serde_json::from_str(&r.try_get::<_, String>(6)?).map_err(|e| bad(e.to_string()))?;
    let silencing = Silencing::list_from_json(&silencing).map_err(bad)?;
    Ok(Predicate {
        online: r.try_get(1)?,
        statistic: r.try_get(2)?,
        configuration,
        verbose_name: r.try_get(4)?,
        group: r.try_get(5)?,
        silencing,
        predicate_id,
    })
}

/// A device's predicates by id, or only `only`.
pub(super) async fn list(
    storage: &PostgresStorage,
    device_id: &str,
    only: Option<&str>,
) -> Result<Vec<Predicate>, StorageError> {
    let client = storage.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT predicate_id, online, statistic, configuration, verbose_name, group_name, silencing
             FROM predicates WHERE device_id = $1 AND ($2::TEXT IS NULL OR predicate_id = $2)
             ORDER BY predicate_id",
        )
        .await?;
    client
        .query(&stmt, &[&device_id, &only])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

pub(super) async fn put(tx: &Tx<'_>, device_id: &str, p: &Predicate) -> Result<bool, StorageError> {
    ensure_device(tx, device_id).await?;
    let silencing = Value::Array(p.silencing.iter().map(Silencing::to_json).collect());
    let upsert = tx
        .prepare_cached(
            "INSERT INTO predicates (device_id, predicate_id, online, statistic, configuration, verbose_name,
                 group_name, silencing, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (device_id, predicate_id) DO UPDATE SET online = excluded.online,
                 statistic = excluded.statistic, configuration = excluded.configuration,
                 verbose_name = excluded.verbose_name, group_name = excluded.group_name,
                 silencing = excluded.silencing, updated_at = excluded.updated_at
             RETURNING (xmax = 0)",
        )
        .await?;
    let row = tx
        .query_one(
            &upsert,
            &[
                &device_id,
                &p.predicate_id,
                &p.online,
                &p.statistic,
                &p.configuration.to_string(),
                &p.verbose_name,
                &p.group,
                &silencing.to_string(),
                &now_ms(),
            ],
        )
        .await?;
    Ok(row.try_get(0)?)
}

pub(super) async fn delete(tx: &Tx<'_>, device_id: &str, predicate_id: &str) -> Result<bool, StorageError> {
    let stmt = tx
        .prepare_cached("DELETE FROM predicates WHERE device_id = $1 AND predicate_id = $2")
        .await?;
    Ok(tx.execute(&stmt, &[&device_id, &predicate_id]).await? == 1)
}
