//! [`SqliteStore`]: the store in an SQLite file (rusqlite, bundled), so that a device restarted
//! — even after `kill -9` — resumes with everything it had not uploaded.
//!
//! The file is opened in WAL mode with `synchronous=NORMAL` by default: every committed
//! transaction survives a crash of the process; on a power cut the last transactions before it
//! may be lost. [`SqliteOptions::full_sync`] makes every commit wait for the disk instead.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use ngtt_proto::payload::{LogRecord, PathpointValue, ReadError, Sample};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use smok_http::SensorWriteRecord;

mod alarms;

use super::{
    LogStore, Pending, SampleStore, SensorWriteStore, StateStore, Store, StoreError, StoreLimits,
    StoreResult, StoreStats, StoredSample,
};

/// The schema, one migration per entry, applied in order and recorded in `PRAGMA
/// user_version`. Later resources append theirs; existing entries never change.
pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE samples (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, ts INTEGER NOT NULL,
         kind INTEGER NOT NULL, value);
     CREATE TABLE last_values (path TEXT PRIMARY KEY, ts INTEGER NOT NULL, kind INTEGER NOT NULL, value);
     CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, record BLOB NOT NULL);
     CREATE TABLE sensor_writes (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL,
         fqts TEXT NOT NULL, who TEXT NOT NULL, hr_sensor TEXT NOT NULL, hr_value TEXT NOT NULL,
         value TEXT NOT NULL, reason TEXT NOT NULL, UNIQUE (timestamp, fqts));
     CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
     CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    alarms::MIGRATION,
    // BAOBs (store/baob.rs).
    "CREATE TABLE baobs (key TEXT PRIMARY KEY, version INTEGER NOT NULL, data BLOB NOT NULL);",
];

/// How the SQLite store is opened.
#[derive(Clone, Copy, Debug, Default)]
pub struct SqliteOptions {
    /// Queue bounds.
    pub limits: StoreLimits,
    /// `synchronous=FULL`: every commit reaches the disk before it returns (slower; survives
    /// power cuts too).
    pub full_sync: bool,
}

/// A store in an SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    limits: StoreLimits,
    db: Mutex<Connection>,
}

// Sample kinds in the `kind` column.
const INT: i64 = 0;
const FLOAT: i64 = 1;
const TEXT: i64 = 2;
const ERROR: i64 = 3;

fn encode(sample: &Sample) -> (u64, i64, SqlValue) {
    match sample {
        Sample::Value { ts, value } => match value {
            PathpointValue::Int(v) => (*ts, INT, SqlValue::Integer(*v)),
            PathpointValue::Float(v) => (*ts, FLOAT, SqlValue::Real(*v)),
            PathpointValue::Text(s) => (*ts, TEXT, SqlValue::Text(s.clone())),
        },
        Sample::Error { ts, error } => (*ts, ERROR, SqlValue::Text(error.as_str().to_owned())),
    }
}

fn decode(ts: i64, kind: i64, value: SqlValue) -> StoreResult<Sample> {
    let ts = u64::try_from(ts).map_err(|_| StoreError::Corrupt(format!("timestamp {ts}")))?;
    Ok(match (kind, value) {
        (INT, SqlValue::Integer(v)) => Sample::value(ts, v),
        (FLOAT, SqlValue::Real(v)) => Sample::value(ts, v),
        (FLOAT, SqlValue::Integer(v)) => Sample::value(ts, v as f64),
        (TEXT, SqlValue::Text(s)) => Sample::value(ts, PathpointValue::Text(s)),
        (ERROR, SqlValue::Text(s)) => Sample::error(ts, ReadError::from(s.as_str())),
        (kind, value) => return Err(StoreError::Corrupt(format!("sample of kind {kind}: {value:?}"))),
    })
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_i64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Drops the oldest rows of `table` beyond `limit` and adds them to counter `counter`.
fn trim(tx: &Transaction<'_>, table: &str, counter: &str, limit: u64) -> StoreResult<u64> {
    let count: i64 = tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
    let excess = from_i64(count).saturating_sub(limit);
    if excess > 0 {
        tx.execute(
            &format!("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT ?1)"),
            [to_i64(excess)],
        )?;
        tx.execute(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            params![counter, to_i64(excess)],
        )?;
    }
    Ok(excess)
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` with the default options.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// Opens (creating if needed) the store at `path`.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> StoreResult<SqliteStore> {
        let mut db = Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(
            None,
            "synchronous",
            if options.full_sync { "FULL" } else { "NORMAL" },
        )?;
        let version: i64 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let applied = usize::try_from(version).unwrap_or(usize::MAX);
        if applied > MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "the store is at schema version {version}, newer than this program's {}",
                MIGRATIONS.len()
            )));
        }
        for (k, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
            let tx = db.transaction()?;
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", k as i64 + 1)?;
            tx.commit()?;
        }
        Ok(SqliteStore {
            limits: options.limits,
            db: Mutex::new(db),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn counter(db: &Connection, name: &str) -> StoreResult<u64> {
        let v: Option<i64> = db
            .query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        Ok(from_i64(v.unwrap_or(0)))
    }

    fn count(db: &Connection, table: &str) -> StoreResult<u64> {
        let n: i64 = db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(from_i64(n))
    }
}

impl SampleStore for SqliteStore {
    fn push_samples(&self, path: &str, samples: &[Sample]) -> StoreResult<u64> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO samples (path, ts, kind, value) VALUES (?1, ?2, ?3, ?4)")?;
            for sample in samples {
                let (ts, kind, value) = encode(sample);
                insert.execute(params![path, to_i64(ts), kind, value])?;
            }
        }
        if let Some(newest) = samples.iter().max_by_key(|s| s.ts()) {
            let (ts, kind, value) = encode(newest);
            tx.execute(
                "INSERT INTO last_values (path, ts, kind, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (path) DO UPDATE SET ts = excluded.ts, kind = excluded.kind, value = excluded.value
                 WHERE excluded.ts >= last_values.ts",
                params![path, to_i64(ts), kind, value],
            )?;
        }
        let dropped = trim(&tx, "samples", "samples_dropped", self.limits.samples)?;
        tx.commit()?;
        Ok(dropped)
    }

    fn pending_samples(&self, max: usize) -> StoreResult<Vec<Pending<StoredSample>>> {
        let db = self.lock();
        let mut query =
            db.prepare_cached("SELECT id, path, ts, kind, value FROM samples ORDER BY id LIMIT ?1")?;
        let rows = query.query_map([to_i64(max as u64)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, SqlValue>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, path, ts, kind, value) = row?;
            out.push(Pending {
                id: from_i64(id),
                item: StoredSample {
                    path,
                    sample: decode(ts, kind, value)?,
                },
            });
        }
        Ok(out)
    }

    fn ack_samples_through(&self, id: u64) -> StoreResult<()> {
        self.lock()
            .execute("DELETE FROM samples WHERE id <= ?1", [to_i64(id)])?;
        Ok(())
    }

    fn last_values(&self) -> StoreResult<Vec<StoredSample>> {
        let db = self.lock();
        let mut query = db.prepare_cached("SELECT path, ts, kind, value FROM last_values ORDER BY path")?;
        let rows = query.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, SqlValue>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (path, ts, kind, value) = row?;
            out.push(StoredSample {
                path,
                sample: decode(ts, kind, value)?,
            });
        }
        Ok(out)
    }
}

impl LogStore for SqliteStore {
    fn push_logs(&self, records: &[LogRecord]) -> StoreResult<u64> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO logs (record) VALUES (?1)")?;
            for record in records {
                let blob = minijson::to_vec(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                insert.execute([blob])?;
            }
        }
        let dropped = trim(&tx, "logs", "logs_dropped", self.limits.logs)?;
        tx.commit()?;
        Ok(dropped)
    }

    fn pending_logs(&self, max: usize) -> StoreResult<Vec<Pending<LogRecord>>> {
        let db = self.lock();
        let mut query = db.prepare_cached("SELECT id, record FROM logs ORDER BY id LIMIT ?1")?;
        let rows = query.query_map([to_i64(max as u64)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, blob) = row?;
            let item = minijson::from_slice(&blob)
                .map_err(|e| StoreError::Corrupt(format!("log record {id}: {e}")))?;
            out.push(Pending {
                id: from_i64(id),
                item,
            });
        }
        Ok(out)
    }

    fn ack_logs_through(&self, id: u64) -> StoreResult<()> {
        self.lock()
            .execute("DELETE FROM logs WHERE id <= ?1", [to_i64(id)])?;
        Ok(())
    }
}

impl SensorWriteStore for SqliteStore {
    fn push_sensor_write(&self, r: &SensorWriteRecord) -> StoreResult<bool> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO sensor_writes (timestamp, fqts, who, hr_sensor, hr_value, value, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                to_i64(r.timestamp),
                r.fqts,
                r.who,
                r.hr_sensor,
                r.hr_value,
                r.value,
                r.reason
            ],
        )? > 0;
        trim(
            &tx,
            "sensor_writes",
            "sensor_writes_dropped",
            self.limits.sensor_writes,
        )?;
        tx.commit()?;
        Ok(added)
    }

    fn pending_sensor_writes(&self, max: usize) -> StoreResult<Vec<Pending<SensorWriteRecord>>> {
        let db = self.lock();
        let mut query = db.prepare_cached(
            "SELECT id, timestamp, fqts, who, hr_sensor, hr_value, value, reason FROM sensor_writes
             ORDER BY id LIMIT ?1",
        )?;
        let rows = query.query_map([to_i64(max as u64)], |r| {
            Ok(Pending {
                id: from_i64(r.get(0)?),
                item: SensorWriteRecord {
                    timestamp: from_i64(r.get(1)?),
                    fqts: r.get(2)?,
                    who: r.get(3)?,
                    hr_sensor: r.get(4)?,
                    hr_value: r.get(5)?,
                    value: r.get(6)?,
                    reason: r.get(7)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn ack_sensor_writes_through(&self, id: u64) -> StoreResult<()> {
        self.lock()
            .execute("DELETE FROM sensor_writes WHERE id <= ?1", [to_i64(id)])?;
        Ok(())
    }
}

impl StateStore for SqliteStore {
    fn put_state(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.lock().execute(
            "INSERT INTO state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn get_state(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .lock()
            .query_row("SELECT value FROM state WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }
}

impl Store for SqliteStore {
    fn stats(&self) -> StoreResult<StoreStats> {
        let db = self.lock();
        Ok(StoreStats {
            samples_pending: SqliteStore::count(&db, "samples")?,
            samples_dropped: SqliteStore::counter(&db, "samples_dropped")?,
            logs_pending: SqliteStore::count(&db, "logs")?,
            logs_dropped: SqliteStore::counter(&db, "logs_dropped")?,
            sensor_writes_pending: SqliteStore::count(&db, "sensor_writes")?,
            sensor_writes_dropped: SqliteStore::counter(&db, "sensor_writes_dropped")?,
        })
    }
}
