//! BAOBs in SQLite: records in `baobs`, contents in chunks (`baob_chunks`) of a content
//! (`baob_contents`). An upload stages its chunks in a content of its own and is swapped in by
//! [`SqliteStorage::commit_baob_tx`], which also checks the version rule: until then nothing of
//! it is visible, and a refused or abandoned upload leaves nothing behind.

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{ensure_device, now_ms, SqliteStorage};
use crate::storage::baob::BaobStore;
use crate::storage::baob::{
    new_version, not_staged, refusal, BaobCommit, BaobRecord, BaobWrite, ContentId, Writer,
};
use crate::storage::StorageError;

/// Staged contents older than this are abandoned uploads, removed when the database opens.
const STALE_UPLOAD_MS: i64 = 3_600_000;

const COLUMNS: &str = "key, version, size, content_id, updated_at, updated_by";

fn record(row: &Row<'_>) -> rusqlite::Result<BaobRecord> {
    Ok(BaobRecord::from_stored((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    )))
}

fn drop_content(conn: &Connection, content: ContentId) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM baob_chunks WHERE content_id = ?1")?
        .execute([content])?;
    conn.prepare_cached("DELETE FROM baob_contents WHERE id = ?1")?
        .execute([content])?;
    Ok(())
}

fn append_chunk(conn: &Connection, content: ContentId, data: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO baob_chunks (content_id, seq, data)
         VALUES (?1, (SELECT COUNT(*) FROM baob_chunks WHERE content_id = ?1), ?2)",
    )?
    .execute(params![content, data])?;
    conn.prepare_cached("UPDATE baob_contents SET size = size + ?2 WHERE id = ?1")?
        .execute(params![content, i64::try_from(data.len()).unwrap_or(i64::MAX)])?;
    Ok(())
}

fn new_content(conn: &Connection, device_id: &str) -> rusqlite::Result<ContentId> {
    conn.prepare_cached("INSERT INTO baob_contents (device_id, created_at) VALUES (?1, ?2)")?
        .execute(params![device_id, now_ms()])?;
    Ok(conn.last_insert_rowid())
}

/// `content` if it is an upload of `device_id` still staged, else an error (a caller's bug).
fn staged_of(conn: &Connection, device_id: &str, content: ContentId) -> Result<ContentId, StorageError> {
    conn.prepare_cached("SELECT id FROM baob_contents WHERE id = ?1 AND device_id = ?2 AND committed = 0")?
        .query_row(params![content, device_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| not_staged(device_id, content))
}

/// The version and contents of a key (`None` contents: a tombstone).
fn current(
    conn: &Connection,
    device_id: &str,
    key: &str,
) -> rusqlite::Result<Option<(i64, Option<ContentId>)>> {
    conn.prepare_cached("SELECT version, content_id FROM baobs WHERE device_id = ?1 AND key = ?2")?
        .query_row(params![device_id, key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// Removes the contents of uploads abandoned (by a crash) more than an hour ago.
pub(super) fn remove_stale_uploads(conn: &Connection) -> rusqlite::Result<usize> {
    let cutoff = now_ms() - STALE_UPLOAD_MS;
    conn.execute(
        "DELETE FROM baob_chunks WHERE content_id IN
             (SELECT id FROM baob_contents WHERE committed = 0 AND created_at < ?1)",
        [cutoff],
    )?;
    conn.execute(
        "DELETE FROM baob_contents WHERE committed = 0 AND created_at < ?1",
        [cutoff],
    )
}

impl BaobStore for SqliteStorage {
    fn list_baobs(&self, device_id: &str) -> Result<Vec<BaobRecord>, StorageError> {
        let conn = self.lock();
        let sql = format!("SELECT {COLUMNS} FROM baobs WHERE device_id = ?1 ORDER BY key");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([device_id], record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn baob(&self, device_id: &str, key: &str) -> Result<Option<BaobRecord>, StorageError> {
        let conn = self.lock();
        let sql = format!("SELECT {COLUMNS} FROM baobs WHERE device_id = ?1 AND key = ?2");
        Ok(conn.query_row(&sql, params![device_id, key], record).optional()?)
    }

    fn stage_baob_chunk(
        &self,
        device_id: &str,
        content: Option<ContentId>,
        data: &[u8],
    ) -> Result<ContentId, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let content = match content {
            Some(id) => staged_of(&tx, device_id, id)?,
            None => new_content(&tx, device_id)?,
        };
        append_chunk(&tx, content, data)?;
        tx.commit()?;
        Ok(content)
    }

    fn commit_baob(&self, device_id: &str, commit: &BaobCommit<'_>) -> Result<BaobWrite, StorageError> {
        let BaobCommit {
            key,
            rule,
            by,
            staged,
            tail,
            max_keys,
        } = *commit;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(id) = staged {
            staged_of(&tx, device_id, id)?;
        }
        let current = current(&tx, device_id, key)?;
        let keys: i64 = match current {
            None => tx.query_row(
                "SELECT COUNT(*) FROM baobs WHERE device_id = ?1",
                [device_id],
                |r| r.get(0),
            )?,
            Some(_) => 0,
        };
        let keys = usize::try_from(keys).unwrap_or(usize::MAX);
        if let Some(refusal) = refusal(current, rule, keys, max_keys) {
            if let Some(staged) = staged {
                drop_content(&tx, staged)?;
            }
            tx.commit()?;
            return Ok(refusal);
        }
        let version = new_version(current.map(|(v, _)| v), rule);
        let content = match staged {
            Some(id) => id,
            None => new_content(&tx, device_id)?,
        };
        if !tail.is_empty() || staged.is_none() {
            append_chunk(&tx, content, tail)?;
        }
        tx.prepare_cached("UPDATE baob_contents SET committed = 1 WHERE id = ?1")?
            .execute([content])?;
        let size: i64 = tx.query_row("SELECT size FROM baob_contents WHERE id = ?1", [content], |r| {
            r.get(0)
        })?;
        if let Some((_, Some(old))) = current {
            drop_content(&tx, old)?;
        }
        ensure_device(&tx, device_id)?;
        tx.prepare_cached(
            "INSERT INTO baobs (device_id, key, version, content_id, size, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(device_id, key) DO UPDATE SET version = excluded.version,
                 content_id = excluded.content_id, size = excluded.size,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )?
        .execute(params![
            device_id,
            key,
            version,
            content,
            size,
            now_ms(),
            by.as_str()
        ])?;
        tx.commit()?;
        Ok(BaobWrite::Stored(version))
    }

    fn discard_baob_upload(&self, device_id: &str, content: ContentId) -> Result<(), StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let staged: Option<i64> = tx
            .query_row(
                "SELECT id FROM baob_contents WHERE id = ?1 AND device_id = ?2 AND committed = 0",
                params![content, device_id],
                |r| r.get(0),
            )
            .optional()?;
        if staged.is_some() {
            drop_content(&tx, content)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn read_baob_chunk(
        &self,
        device_id: &str,
        content: ContentId,
        seq: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let conn = self.lock();
        let chunk = conn
            .prepare_cached(
                "SELECT c.data FROM baob_chunks c JOIN baob_contents b ON b.id = c.content_id
                 WHERE b.id = ?1 AND b.device_id = ?2 AND b.committed = 1 AND c.seq = ?3",
            )?
            .query_row(
                params![content, device_id, i64::try_from(seq).unwrap_or(i64::MAX)],
                |r| r.get(0),
            )
            .optional()?;
        Ok(chunk)
    }

    fn delete_baob(&self, device_id: &str, key: &str, by: Writer) -> Result<Option<i64>, StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = current(&tx, device_id, key)?;
        let Some((version, Some(content))) = current else {
            return Ok(None);
        };
        drop_content(&tx, content)?;
        tx.prepare_cached(
            "UPDATE baobs SET content_id = NULL, size = 0, updated_at = ?3, updated_by = ?4
             WHERE device_id = ?1 AND key = ?2",
        )?
        .execute(params![device_id, key, now_ms(), by.as_str()])?;
        tx.commit()?;
        Ok(Some(version))
    }
}
