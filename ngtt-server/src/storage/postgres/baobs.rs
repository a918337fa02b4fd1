//! BAOBs in PostgreSQL: records in `baobs`, contents in chunks (`baob_chunks`) of a content
//! (`baob_contents`), exactly as in SQLite: an upload stages its chunks in a content of its own
//! and is swapped in by `commit_baob`, which checks the version rule under the device's lock.

use tokio_postgres::Row;

use super::bridge::PostgresStorage;
use super::{ensure_device, lock_device, now_ms, Tx};
use crate::storage::baob::{
    new_version, not_staged, refusal, BaobCommit, BaobRecord, BaobStore, BaobWrite, ContentId, Writer,
};
use crate::storage::StorageError;

/// Staged contents older than this are abandoned uploads, removed when the storage connects.
const STALE_UPLOAD_MS: i64 = 3_600_000;

const COLUMNS: &str = "key, version, size, content_id, updated_at, updated_by";

fn record(row: &Row) -> Result<BaobRecord, StorageError> {
    Ok(BaobRecord::from_stored((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
    )))
}

async fn drop_content(tx: &Tx<'_>, content: ContentId) -> Result<(), StorageError> {
    let chunks = tx
        .prepare_cached("DELETE FROM baob_chunks WHERE content_id = $1")
        .await?;
    tx.execute(&chunks, &[&content]).await?;
    let contents = tx
        .prepare_cached("DELETE FROM baob_contents WHERE id = $1")
        .await?;
    tx.execute(&contents, &[&content]).await?;
    Ok(())
}

async fn append_chunk(tx: &Tx<'_>, content: ContentId, data: &[u8]) -> Result<(), StorageError> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO baob_chunks (content_id, seq, data)
             VALUES ($1, (SELECT COUNT(*) FROM baob_chunks WHERE content_id = $1), $2)",
        )
        .await?;
    tx.execute(&insert, &[&content, &data]).await?;
    let grow = tx
        .prepare_cached("UPDATE baob_contents SET size = size + $2 WHERE id = $1")
        .await?;
    let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
    tx.execute(&grow, &[&content, &len]).await?;
    Ok(())
}

async fn new_content(tx: &Tx<'_>, device_id: &str) -> Result<ContentId, StorageError> {
    let stmt = tx
        .prepare_cached("INSERT INTO baob_contents (device_id, created_at) VALUES ($1, $2) RETURNING id")
        .await?;
    Ok(tx.query_one(&stmt, &[&device_id, &now_ms()]).await?.try_get(0)?)
}

/// Whether `content` is an upload of `device_id` still staged (locked until the end of `tx`).
async fn is_staged(tx: &Tx<'_>, device_id: &str, content: ContentId) -> Result<bool, StorageError> {
    let stmt = tx
        .prepare_cached(
            "SELECT id FROM baob_contents WHERE id = $1 AND device_id = $2 AND NOT committed FOR UPDATE",
        )
        .await?;
    Ok(tx.query_opt(&stmt, &[&content, &device_id]).await?.is_some())
}

/// `content` if it is an upload of `device_id` still staged, else an error (a caller's bug).
async fn staged_of(tx: &Tx<'_>, device_id: &str, content: ContentId) -> Result<ContentId, StorageError> {
    if is_staged(tx, device_id, content).await? {
        Ok(content)
    } else {
        Err(not_staged(device_id, content))
    }
}

/// The version and contents of a key (`None` contents: a tombstone).
async fn current(
    tx: &Tx<'_>,
    device_id: &str,
    key: &str,
) -> Result<Option<(i64, Option<ContentId>)>, StorageError> {
    let stmt = tx
        .prepare_cached("SELECT version, content_id FROM baobs WHERE device_id = $1 AND key = $2")
        .await?;
    let row = tx.query_opt(&stmt, &[&device_id, &key]).await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    })
}

/// Removes the contents of uploads abandoned (by a crash) more than an hour ago.
pub(super) async fn remove_stale_uploads(storage: &PostgresStorage) -> Result<u64, StorageError> {
    let client = storage.client().await?;
    let cutoff = now_ms() - STALE_UPLOAD_MS;
    client
        .execute(
            "DELETE FROM baob_chunks WHERE content_id IN
                 (SELECT id FROM baob_contents WHERE NOT committed AND created_at < $1)",
            &[&cutoff],
        )
        .await?;
    Ok(client
        .execute(
            "DELETE FROM baob_contents WHERE NOT committed AND created_at < $1",
            &[&cutoff],
        )
        .await?)
}

async fn commit(tx: &Tx<'_>, device_id: &str, commit: &BaobCommit<'_>) -> Result<BaobWrite, StorageError> {
    let BaobCommit {
        key,
        rule,
        by,
        staged,
        tail,
        max_keys,
    } = *commit;
    lock_device(tx, device_id).await?;
    if let Some(id) = staged {
        staged_of(tx, device_id, id).await?;
    }
    let current = current(tx, device_id, key).await?;
    let keys: i64 = match current {
        None => tx
            .query_one("SELECT COUNT(*) FROM baobs WHERE device_id = $1", &[&device_id])
            .await?
            .try_get(0)?,
        Some(_) => 0,
    };
    let keys = usize::try_from(keys).unwrap_or(usize::MAX);
    if let Some(refusal) = refusal(current, rule, keys, max_keys) {
        if let Some(staged) = staged {
            drop_content(tx, staged).await?;
        }
        return Ok(refusal);
    }
    let version = new_version(current.map(|(v, _)| v), rule);
    let content = match staged {
        Some(id) => id,
        None => new_content(tx, device_id).await?,
    };
    if !tail.is_empty() || staged.is_none() {
        append_chunk(tx, content, tail).await?;
    }
    let size: i64 = tx
        .query_one(
            "UPDATE baob_contents SET committed = TRUE WHERE id = $1 RETURNING size",
            &[&content],
        )
        .await?
        .try_get(0)?;
    if let Some((_, Some(old))) = current {
        drop_content(tx, old).await?;
    }
    ensure_device(tx, device_id).await?;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO baobs (device_id, key, version, content_id, size, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (device_id, key) DO UPDATE SET version = excluded.version,
                 content_id = excluded.content_id, size = excluded.size,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .await?;
    tx.execute(
        &upsert,
        &[
            &device_id,
            &key,
            &version,
            &content,
            &size,
            &now_ms(),
            &by.as_str(),
        ],
    )
    .await?;
    Ok(BaobWrite::Stored(version))
}

async fn delete(tx: &Tx<'_>, device_id: &str, key: &str, by: Writer) -> Result<Option<i64>, StorageError> {
    lock_device(tx, device_id).await?;
    let Some((version, Some(content))) = current(tx, device_id, key).await? else {
        return Ok(None);
    };
    drop_content(tx, content).await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE baobs SET content_id = NULL, size = 0, updated_at = $3, updated_by = $4
             WHERE device_id = $1 AND key = $2",
        )
        .await?;
    tx.execute(&stmt, &[&device_id, &key, &now_ms(), &by.as_str()])
        .await?;
    Ok(Some(version))
}

impl BaobStore for PostgresStorage {
    fn list_baobs(&self, device_id: &str) -> Result<Vec<BaobRecord>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let sql = format!("SELECT {COLUMNS} FROM baobs WHERE device_id = $1 ORDER BY key");
            let stmt = client.prepare_cached(&sql).await?;
            client
                .query(&stmt, &[&device_id])
                .await?
                .iter()
                .map(record)
                .collect()
        })
    }

    fn baob(&self, device_id: &str, key: &str) -> Result<Option<BaobRecord>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let sql = format!("SELECT {COLUMNS} FROM baobs WHERE device_id = $1 AND key = $2");
            let stmt = client.prepare_cached(&sql).await?;
            client
                .query_opt(&stmt, &[&device_id, &key])
                .await?
                .as_ref()
                .map(record)
                .transpose()
        })
    }

    fn stage_baob_chunk(
        &self,
        device_id: &str,
        content: Option<ContentId>,
        data: &[u8],
    ) -> Result<ContentId, StorageError> {
        in_tx!(self, tx => async {
            let content = match content {
                Some(id) => staged_of(tx, device_id, id).await?,
                None => new_content(tx, device_id).await?,
            };
            append_chunk(tx, content, data).await?;
            Ok::<_, StorageError>(content)
        })
    }

    fn commit_baob(&self, device_id: &str, baob: &BaobCommit<'_>) -> Result<BaobWrite, StorageError> {
        in_tx!(self, tx => commit(tx, device_id, baob))
    }

    fn discard_baob_upload(&self, device_id: &str, content: ContentId) -> Result<(), StorageError> {
        in_tx!(self, tx => async {
            if is_staged(tx, device_id, content).await? {
                drop_content(tx, content).await?;
            }
            Ok::<_, StorageError>(())
        })
    }

    fn read_baob_chunk(
        &self,
        device_id: &str,
        content: ContentId,
        seq: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.block(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT c.data FROM baob_chunks c JOIN baob_contents b ON b.id = c.content_id
                     WHERE b.id = $1 AND b.device_id = $2 AND b.committed AND c.seq = $3",
                )
                .await?;
            let seq = i64::try_from(seq).unwrap_or(i64::MAX);
            let row = client.query_opt(&stmt, &[&content, &device_id, &seq]).await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn delete_baob(&self, device_id: &str, key: &str, by: Writer) -> Result<Option<i64>, StorageError> {
        in_tx!(self, tx => delete(tx, device_id, key, by))
    }
}
