//! Macros and their occurrences, archive settings and plain metadata in PostgreSQL
//! (`macros`, `macro_occurrences`, `archives`, `metadata`).

use tokio_postgres::Row;

use super::bridge::PostgresStorage;
use super::{ensure_device, lock_device, now_ms, Tx};
use crate::storage::archives::{group_rows, ArchiveEntry, ArchiveStore};
use crate::storage::macros::{
    commands_json, completion, completions, limit_reached, MacroRecord, MacroStore, Occurrence,
};
use crate::storage::metadata::{may_replace, MetadataEntry, MetadataStore, MetadataWrite};
use crate::storage::StorageError;

/// The occurrences of `macro_id`, oldest first, those in `window` only when given.
async fn occurrences(
    client: &tokio_postgres::Client,
    device_id: &str,
    macro_id: &str,
    window: Option<(f64, f64)>,
) -> Result<Vec<Occurrence>, StorageError> {
    let (from, to) = window.unwrap_or((f64::MIN, f64::MAX));
    let rows = client
        .query(
            "SELECT ts, completed_at FROM macro_occurrences
             WHERE device_id = $1 AND macro_id = $2 AND ts >= $3 AND ts <= $4 ORDER BY ts",
            &[&device_id, &macro_id, &from, &to],
        )
        .await?;
    rows.iter()
        .map(|r| Ok(Occurrence::stored(r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

async fn put_macro(
    tx: &Tx<'_>,
    device_id: &str,
    record: &MacroRecord,
    max_macros: usize,
) -> Result<Option<bool>, StorageError> {
    let commands = commands_json(record)?;
    lock_device(tx, device_id).await?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM macros WHERE device_id = $1 AND macro_id = $2",
            &[&device_id, &record.macro_id],
        )
        .await?
        .is_some();
    if !exists {
        let count: i64 = tx
            .query_one("SELECT COUNT(*) FROM macros WHERE device_id = $1", &[&device_id])
            .await?
            .try_get(0)?;
        if limit_reached(count, max_macros) {
            return Ok(None);
        }
    }
    ensure_device(tx, device_id).await?;
    tx.execute(
        "INSERT INTO macros (device_id, macro_id, commands, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (device_id, macro_id) DO UPDATE SET commands = excluded.commands,
             updated_at = excluded.updated_at",
        &[&device_id, &record.macro_id, &commands, &now_ms()],
    )
    .await?;
    // The occurrences become exactly those given; one already known keeps its completion.
    let done = completions(&occurrences(tx.client(), device_id, &record.macro_id, None).await?);
    tx.execute(
        "DELETE FROM macro_occurrences WHERE device_id = $1 AND macro_id = $2",
        &[&device_id, &record.macro_id],
    )
    .await?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO macro_occurrences (device_id, macro_id, ts, completed_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .await?;
    for o in &record.occurrences {
        let completed = done.get(&o.timestamp.to_bits()).copied();
        tx.execute(&insert, &[&device_id, &record.macro_id, &o.timestamp, &completed])
            .await?;
    }
    Ok(Some(!exists))
}

async fn complete(
    tx: &Tx<'_>,
    device_id: &str,
    macro_id: &str,
    timestamp: f64,
) -> Result<Option<bool>, StorageError> {
    let row = tx
        .query_opt(
            "SELECT completed_at FROM macro_occurrences
             WHERE device_id = $1 AND macro_id = $2 AND ts = $3 FOR UPDATE",
            &[&device_id, &macro_id, &timestamp],
        )
        .await?;
    let outcome = completion(row.map(|r| r.try_get(0)).transpose()?);
    if outcome == Some(true) {
        tx.execute(
            "UPDATE macro_occurrences SET completed_at = $4
             WHERE device_id = $1 AND macro_id = $2 AND ts = $3",
            &[&device_id, &macro_id, &timestamp, &now_ms()],
        )
        .await?;
    }
    Ok(outcome)
}

impl MacroStore for PostgresStorage {
    fn put_macro(
        &self,
        device_id: &str,
        record: &MacroRecord,
        max_macros: usize,
    ) -> Result<Option<bool>, StorageError> {
        in_tx!(self, tx => put_macro(tx, device_id, record, max_macros))
    }

    fn macros(&self, device_id: &str, window: Option<(f64, f64)>) -> Result<Vec<MacroRecord>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT macro_id, commands FROM macros WHERE device_id = $1 ORDER BY macro_id",
                    &[&device_id],
                )
                .await?;
            let mut out = Vec::new();
            for row in rows {
                let macro_id: String = row.try_get(0)?;
                let occurrences = occurrences(&client, device_id, &macro_id, window).await?;
                let text: String = row.try_get(1)?;
                out.extend(MacroRecord::from_stored(macro_id, &text, occurrences, window)?);
            }
            Ok(out)
        })
    }

    fn macro_record(&self, device_id: &str, macro_id: &str) -> Result<Option<MacroRecord>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT commands FROM macros WHERE device_id = $1 AND macro_id = $2",
                    &[&device_id, &macro_id],
                )
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let occurrences = occurrences(&client, device_id, macro_id, None).await?;
            MacroRecord::from_stored(
                macro_id.to_owned(),
                &row.try_get::<_, String>(0)?,
                occurrences,
                None,
            )
        })
    }

    fn delete_macro(&self, device_id: &str, macro_id: &str) -> Result<bool, StorageError> {
        in_tx!(self, tx => async {
            tx.execute(
                "DELETE FROM macro_occurrences WHERE device_id = $1 AND macro_id = $2",
                &[&device_id, &macro_id],
            )
            .await?;
            let removed = tx
                .execute("DELETE FROM macros WHERE device_id = $1 AND macro_id = $2", &[&device_id, &macro_id])
                .await?;
            Ok::<_, StorageError>(removed == 1)
        })
    }

    fn complete_occurrence(
        &self,
        device_id: &str,
        macro_id: &str,
        timestamp: f64,
    ) -> Result<Option<bool>, StorageError> {
        in_tx!(self, tx => complete(tx, device_id, macro_id, timestamp))
    }
}

impl ArchiveStore for PostgresStorage {
    fn archives(&self, device_id: &str) -> Result<Vec<ArchiveEntry>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT interval_s, path FROM archives WHERE device_id = $1 ORDER BY interval_s, path",
                    &[&device_id],
                )
                .await?;
            let rows = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, StorageError>>()?;
            group_rows(rows)
        })
    }

    fn set_archives(&self, device_id: &str, entries: &[ArchiveEntry]) -> Result<(), StorageError> {
        in_tx!(self, tx => async {
            lock_device(tx, device_id).await?;
            ensure_device(tx, device_id).await?;
            tx.execute("DELETE FROM archives WHERE device_id = $1", &[&device_id]).await?;
            let insert = tx
                .prepare_cached("INSERT INTO archives (device_id, path, interval_s) VALUES ($1, $2, $3)")
                .await?;
            for entry in entries {
                let interval = i64::try_from(entry.interval).unwrap_or(i64::MAX);
                for path in &entry.pathpoints {
                    tx.execute(&insert, &[&device_id, path, &interval]).await?;
                }
            }
            Ok::<_, StorageError>(())
        })
    }
}

fn entry(row: &Row) -> Result<MetadataEntry, StorageError> {
    Ok(MetadataEntry::from_stored((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
    )))
}

async fn put_metadata(tx: &Tx<'_>, device_id: &str, write: &MetadataWrite<'_>) -> Result<bool, StorageError> {
    let MetadataWrite {
        key,
        value,
        timestamp,
        unless_higher,
        by,
    } = *write;
    lock_device(tx, device_id).await?;
    if unless_higher {
        let stored = tx
            .query_opt(
                "SELECT timestamp FROM metadata WHERE device_id = $1 AND key = $2",
                &[&device_id, &key],
            )
            .await?;
        let stored: Option<f64> = stored.map(|r| r.try_get(0)).transpose()?;
        if stored.is_some_and(|s| !may_replace(s, timestamp)) {
            return Ok(false);
        }
    }
    ensure_device(tx, device_id).await?;
    tx.execute(
        "INSERT INTO metadata (device_id, key, value, timestamp, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (device_id, key) DO UPDATE SET value = excluded.value,
             timestamp = excluded.timestamp, updated_at = excluded.updated_at,
             updated_by = excluded.updated_by",
        &[&device_id, &key, &value, &timestamp, &now_ms(), &by.as_str()],
    )
    .await?;
    Ok(true)
}

impl MetadataStore for PostgresStorage {
    fn metadata(&self, device_id: &str, key: &str) -> Result<Option<MetadataEntry>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT key, value, timestamp, updated_at, updated_by FROM metadata
                     WHERE device_id = $1 AND key = $2",
                    &[&device_id, &key],
                )
                .await?;
            row.as_ref().map(entry).transpose()
        })
    }

    fn list_metadata(&self, device_id: &str) -> Result<Vec<MetadataEntry>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT key, value, timestamp, updated_at, updated_by FROM metadata
                     WHERE device_id = $1 ORDER BY key",
                    &[&device_id],
                )
                .await?;
            rows.iter().map(entry).collect()
        })
    }

    fn put_metadata(&self, device_id: &str, write: &MetadataWrite<'_>) -> Result<bool, StorageError> {
        in_tx!(self, tx => put_metadata(tx, device_id, write))
    }

    fn delete_metadata(&self, device_id: &str, key: &str) -> Result<bool, StorageError> {
        in_tx!(self, tx => async {
            let n = tx
                .execute("DELETE FROM metadata WHERE device_id = $1 AND key = $2", &[&device_id, &key])
                .await?;
            Ok::<_, StorageError>(n == 1)
        })
    }
}
