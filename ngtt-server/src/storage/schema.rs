//! The SQLite schema and its migrations, versioned by `PRAGMA user_version`.
//!
//! Migration `n` (1-based) brings a database from version `n - 1` to `n`; each runs in its own
//! transaction together with the `user_version` update, so a crash leaves the database at one
//! version or the next, never in between. A database newer than [`SCHEMA_VERSION`] is refused.

use rusqlite::{Connection, TransactionBehavior};

use super::StorageError;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The migrations, in order.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: devices, orders, samples, logs.
    r#"
    CREATE TABLE devices (
        device_id          TEXT PRIMARY KEY NOT NULL,
        environment        INTEGER,            -- from the last certificate: 0, 1, 2
        first_connected_at INTEGER,            -- ms since the epoch
        last_connected_at  INTEGER,
        settings           TEXT                -- JSON object served by GET /v1/device (HTTP API)
    );

    CREATE TABLE orders (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order; never reused
        device_id    TEXT NOT NULL REFERENCES devices(device_id),
        sections     BLOB NOT NULL,                      -- the ORDER payload (MiniJSON)
        state        INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3)),
                                                         -- queued, sent, confirmed, rejected
        deliveries   INTEGER NOT NULL DEFAULT 0,
        queued_at    INTEGER NOT NULL,
        sent_at      INTEGER,
        answered_at  INTEGER,
        answered_via TEXT CHECK (answered_via IN ('ngtt', 'http'))
    );
    CREATE INDEX orders_pending ON orders(device_id, state, id);
    CREATE INDEX orders_by_device ON orders(device_id, id);

    -- One row per (device, path, timestamp): a re-sent upload is stored once.
    CREATE TABLE samples (
        device_id   TEXT NOT NULL,
        path        TEXT NOT NULL,
        ts          INTEGER NOT NULL,  -- ms since the epoch
        value,                         -- INTEGER, REAL or TEXT as sent; NULL for a failed read
        error       TEXT,              -- error code of a failed read
        received_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, path, ts)
    ) WITHOUT ROWID;

    CREATE TABLE logs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id   TEXT NOT NULL,
        service     TEXT NOT NULL,
        when_us     INTEGER NOT NULL,
        level       INTEGER NOT NULL,
        message     TEXT NOT NULL,     -- decompressed
        exception   TEXT,
        traceback   TEXT,
        received_at INTEGER NOT NULL
    );
    CREATE INDEX logs_by_device ON logs(device_id, id);
    "#,
    // 2: the device HTTP API's message reports and pathpoint registrations.
    r#"
    -- One row per reported message order; a repeated report keeps the first time.
    CREATE TABLE messages (
        device_id   TEXT NOT NULL,
        uuid        TEXT NOT NULL,
        reported_at INTEGER NOT NULL,  -- ms since the epoch
        PRIMARY KEY (device_id, uuid)
    );
    CREATE INDEX messages_by_time ON messages(device_id, reported_at);

    -- The pathpoints each device registered (PUT /v1/device/pathpoints).
    CREATE TABLE pathpoints (
        device_id     TEXT NOT NULL,
        path          TEXT NOT NULL,
        storage_level INTEGER NOT NULL CHECK (storage_level IN (0, 1)),  -- permanent, trend
        registered_at INTEGER NOT NULL,  -- ms since the epoch, latest registration
        PRIMARY KEY (device_id, path)
    ) WITHOUT ROWID;
    "#,
    // Device information, sensors, predicates, events, the sensor write log and slave-device
    // instrumentation (issue 8, part A). The settings JSON of `devices.settings` is carried
    // over into `device_info` and `slave_devices`; the column stays, unused.
    r#"
    CREATE TABLE device_info (
        device_id    TEXT PRIMARY KEY NOT NULL,
        verbose_name TEXT,                              -- NULL: the device id
        facets       TEXT NOT NULL DEFAULT '[]',        -- JSON list of strings
        language     TEXT NOT NULL DEFAULT 'en',
        timezone     TEXT NOT NULL DEFAULT 'UTC',
        units        TEXT NOT NULL DEFAULT 'metric',
        updated_at   INTEGER NOT NULL                   -- ms since the epoch
    ) WITHOUT ROWID;

    CREATE TABLE slave_devices (
        device_id           TEXT NOT NULL,              -- the master
        slave_id            TEXT NOT NULL,
        position            INTEGER NOT NULL,           -- order in slave_devices
        master_controller   TEXT NOT NULL,
        responsible_service TEXT NOT NULL,
        configuration       TEXT NOT NULL,              -- JSON value (a string per the spec)
        linkstate           TEXT NOT NULL DEFAULT '{}', -- JSON text, as the device sent it
        instrumentation     TEXT NOT NULL DEFAULT '',
        instrumented_at     INTEGER,                    -- ms since the epoch, last PATCH
        PRIMARY KEY (device_id, slave_id)
    ) WITHOUT ROWID;

    INSERT INTO device_info (device_id, verbose_name, facets, language, timezone, units, updated_at)
    SELECT device_id,
        CASE json_type(settings, '$.verbose_name') WHEN 'text' THEN settings ->> '$.verbose_name' END,
        CASE json_type(settings, '$.facets') WHEN 'array' THEN settings -> '$.facets' ELSE '[]' END,
        COALESCE(CASE json_type(settings, '$.culture_context.language')
                 WHEN 'text' THEN settings ->> '$.culture_context.language' END, 'en'),
        COALESCE(CASE json_type(settings, '$.culture_context.timezone')
                 WHEN 'text' THEN settings ->> '$.culture_context.timezone' END, 'UTC'),
        COALESCE(CASE json_type(settings, '$.culture_context.units')
                 WHEN 'text' THEN settings ->> '$.culture_context.units' END, 'metric'),
        CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM devices WHERE settings IS NOT NULL AND json_valid(settings);

    INSERT OR IGNORE INTO slave_devices (device_id, slave_id, position, master_controller,
                                         responsible_service, configuration)
    SELECT d.device_id, s.value ->> '$.device_id', s.key,
        COALESCE(s.value ->> '$.master_controller', d.device_id),
        COALESCE(s.value ->> '$.responsible_service', 'rapid'),
        COALESCE(s.value -> '$.configuration', '""')
    FROM devices AS d, json_each(d.settings, '$.slave_devices') AS s
    WHERE d.settings IS NOT NULL AND json_valid(d.settings)
      AND json_type(d.settings, '$.slave_devices') = 'array'
      AND json_type(s.value, '$.device_id') = 'text';

    CREATE TABLE sensors (
        device_id   TEXT NOT NULL,
        fqts        TEXT NOT NULL,                      -- canonical: sorted words
        path        TEXT NOT NULL,
        sensor_type TEXT NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (device_id, fqts)
    ) WITHOUT ROWID;

    CREATE TABLE predicates (
        device_id     TEXT NOT NULL,
        predicate_id  TEXT NOT NULL,
        online        INTEGER NOT NULL CHECK (online IN (0, 1)),
        statistic     TEXT NOT NULL,
        configuration TEXT NOT NULL,                    -- JSON
        verbose_name  TEXT NOT NULL,
        group_name    TEXT NOT NULL,
        silencing     TEXT NOT NULL DEFAULT '[]',       -- JSON list of periods
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (device_id, predicate_id)
    ) WITHOUT ROWID;

    CREATE TABLE events (
        device_id   TEXT NOT NULL,
        uuid        TEXT NOT NULL,                      -- assigned by the server
        started_on  INTEGER NOT NULL,                   -- seconds since the epoch
        ended_on    REAL,                               -- seconds; NULL while open
        color       INTEGER NOT NULL CHECK (color IN (0, 1, 2)),
        alarm_type  INTEGER NOT NULL CHECK (alarm_type IN (0, 1)),
        token       TEXT NOT NULL,
        group_name  TEXT NOT NULL,
        message     TEXT NOT NULL,
        metadata    TEXT NOT NULL,                      -- JSON object, keys sorted
        handled_by  TEXT,
        closed_by   TEXT CHECK (closed_by IN ('device', 'admin')),
        created_at  INTEGER NOT NULL,                   -- ms since the epoch
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (device_id, uuid)
    );
    CREATE INDEX events_identity ON events(device_id, started_on, token);
    CREATE INDEX events_by_time ON events(device_id, created_at);

    -- One row per (device, timestamp, fqts): the pair the client de-duplicates on.
    CREATE TABLE sensor_writes (
        device_id   TEXT NOT NULL,
        ts          INTEGER NOT NULL,                   -- ms since the epoch
        fqts        TEXT NOT NULL,
        who         TEXT NOT NULL,
        hr_sensor   TEXT NOT NULL,
        hr_value    TEXT NOT NULL,                      -- JSON scalar as sent
        value       TEXT NOT NULL,                      -- JSON scalar as sent
        reason      TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, ts, fqts)
    ) WITHOUT ROWID;
    "#,
];

/// Brings `conn` to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let mut version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StorageError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    while version < SCHEMA_VERSION {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        // Re-read inside the transaction: another process may have migrated meanwhile.
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current == version {
            let sql = MIGRATIONS[usize::try_from(version).unwrap_or(0)];
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version + 1)?;
        }
        tx.commit()?;
        version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}
