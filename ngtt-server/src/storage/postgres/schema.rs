//! The PostgreSQL schema and its migrations, versioned in the table `ngtt_schema`.
//!
//! Migration `n` (1-based) brings a schema from version `n - 1` to `n`. All pending migrations
//! run in one transaction (PostgreSQL's DDL is transactional) under an advisory lock, so nodes
//! starting together migrate once and a crash leaves the schema at the old version. A schema
//! newer than this build knows is refused. The first migration is the whole schema of the
//! SQLite engine's version 5, in PostgreSQL's types.

use super::bridge::PostgresStorage;
use crate::storage::StorageError;

/// The migrations, in order.
const MIGRATIONS: &[&str] = &[r#"
    CREATE TABLE devices (
        device_id          TEXT PRIMARY KEY,
        environment        BIGINT,
        first_connected_at BIGINT,
        last_connected_at  BIGINT,
        next_order_tid     BIGINT NOT NULL DEFAULT 1
    );

    CREATE TABLE orders (
        id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        device_id    TEXT NOT NULL REFERENCES devices(device_id),
        sections     BYTEA NOT NULL,
        state        BIGINT NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3)),
        deliveries   BIGINT NOT NULL DEFAULT 0,
        queued_at    BIGINT NOT NULL,
        sent_at      BIGINT,
        answered_at  BIGINT,
        answered_via TEXT CHECK (answered_via IN ('ngtt', 'http'))
    );
    CREATE INDEX orders_pending ON orders(device_id, id) WHERE state IN (0, 1);
    CREATE INDEX orders_by_device ON orders(device_id, id);

    CREATE TABLE samples (
        device_id   TEXT NOT NULL,
        path        TEXT NOT NULL,
        ts          BIGINT NOT NULL,
        value_int   BIGINT,
        value_real  DOUBLE PRECISION,
        value_text  TEXT,
        error       TEXT,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (device_id, path, ts)
    );

    CREATE TABLE logs (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        device_id   TEXT NOT NULL,
        service     TEXT NOT NULL,
        when_us     BIGINT NOT NULL,
        level       BIGINT NOT NULL,
        message     TEXT NOT NULL,
        exception   TEXT,
        traceback   TEXT,
        received_at BIGINT NOT NULL
    );
    CREATE INDEX logs_by_device ON logs(device_id, id);

    CREATE TABLE messages (
        id          BIGINT GENERATED ALWAYS AS IDENTITY,
        device_id   TEXT NOT NULL,
        uuid        TEXT NOT NULL,
        reported_at BIGINT NOT NULL,
        PRIMARY KEY (device_id, uuid)
    );
    CREATE INDEX messages_by_time ON messages(device_id, reported_at, id);

    CREATE TABLE pathpoints (
        device_id     TEXT NOT NULL,
        path          TEXT NOT NULL,
        storage_level BIGINT NOT NULL CHECK (storage_level IN (0, 1)),
        registered_at BIGINT NOT NULL,
        PRIMARY KEY (device_id, path)
    );

    CREATE TABLE device_info (
        device_id    TEXT PRIMARY KEY,
        verbose_name TEXT,
        facets       TEXT NOT NULL DEFAULT '[]',
        language     TEXT NOT NULL DEFAULT 'en',
        timezone     TEXT NOT NULL DEFAULT 'UTC',
        units        TEXT NOT NULL DEFAULT 'metric',
        updated_at   BIGINT NOT NULL
    );

    CREATE TABLE slave_devices (
        device_id           TEXT NOT NULL,
        slave_id            TEXT NOT NULL,
        position            BIGINT NOT NULL,
        master_controller   TEXT NOT NULL,
        responsible_service TEXT NOT NULL,
        configuration       TEXT NOT NULL,
        linkstate           TEXT NOT NULL DEFAULT '{}',
        instrumentation     TEXT NOT NULL DEFAULT '',
        instrumented_at     BIGINT,
        PRIMARY KEY (device_id, slave_id)
    );

    CREATE TABLE sensors (
        device_id   TEXT NOT NULL,
        fqts        TEXT NOT NULL,
        path        TEXT NOT NULL,
        sensor_type TEXT NOT NULL,
        updated_at  BIGINT NOT NULL,
        PRIMARY KEY (device_id, fqts)
    );

    CREATE TABLE predicates (
        device_id     TEXT NOT NULL,
        predicate_id  TEXT NOT NULL,
        online        BOOLEAN NOT NULL,
        statistic     TEXT NOT NULL,
        configuration TEXT NOT NULL,
        verbose_name  TEXT NOT NULL,
        group_name    TEXT NOT NULL,
        silencing     TEXT NOT NULL DEFAULT '[]',
        updated_at    BIGINT NOT NULL,
        PRIMARY KEY (device_id, predicate_id)
    );

    CREATE TABLE events (
        device_id   TEXT NOT NULL,
        uuid        TEXT NOT NULL,
        started_on  BIGINT NOT NULL,
        ended_on    DOUBLE PRECISION,
        color       BIGINT NOT NULL CHECK (color IN (0, 1, 2)),
        alarm_type  BIGINT NOT NULL CHECK (alarm_type IN (0, 1)),
        token       TEXT NOT NULL,
        group_name  TEXT NOT NULL,
        message     TEXT NOT NULL,
        metadata    TEXT NOT NULL,
        handled_by  TEXT,
        closed_by   TEXT CHECK (closed_by IN ('device', 'admin')),
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL,
        PRIMARY KEY (device_id, uuid)
    );
    CREATE INDEX events_identity ON events(device_id, started_on, token);
    CREATE INDEX events_by_time ON events(device_id, created_at);

    CREATE TABLE sensor_writes (
        device_id   TEXT NOT NULL,
        ts          BIGINT NOT NULL,
        fqts        TEXT NOT NULL,
        who         TEXT NOT NULL,
        hr_sensor   TEXT NOT NULL,
        hr_value    TEXT NOT NULL,
        value       TEXT NOT NULL,
        reason      TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (device_id, ts, fqts)
    );

    CREATE TABLE baobs (
        device_id  TEXT NOT NULL,
        key        TEXT NOT NULL,
        version    BIGINT NOT NULL,
        content_id BIGINT,
        size       BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        updated_by TEXT NOT NULL CHECK (updated_by IN ('device', 'admin')),
        PRIMARY KEY (device_id, key)
    );
    CREATE TABLE baob_contents (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        device_id  TEXT NOT NULL,
        size       BIGINT NOT NULL DEFAULT 0,
        committed  BOOLEAN NOT NULL DEFAULT FALSE,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE baob_chunks (
        content_id BIGINT NOT NULL,
        seq        BIGINT NOT NULL,
        data       BYTEA NOT NULL,
        PRIMARY KEY (content_id, seq)
    );

    CREATE TABLE macros (
        device_id  TEXT NOT NULL,
        macro_id   TEXT NOT NULL,
        commands   TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (device_id, macro_id)
    );
    CREATE TABLE macro_occurrences (
        device_id    TEXT NOT NULL,
        macro_id     TEXT NOT NULL,
        ts           DOUBLE PRECISION NOT NULL,
        completed_at BIGINT,
        PRIMARY KEY (device_id, macro_id, ts)
    );

    CREATE TABLE archives (
        device_id  TEXT NOT NULL,
        path       TEXT NOT NULL,
        interval_s BIGINT NOT NULL,
        PRIMARY KEY (device_id, path)
    );

    CREATE TABLE metadata (
        device_id  TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        timestamp  DOUBLE PRECISION NOT NULL,
        updated_at BIGINT NOT NULL,
        updated_by TEXT NOT NULL CHECK (updated_by IN ('device', 'admin')),
        PRIMARY KEY (device_id, key)
    );
"#];

/// The schema version this build writes.
pub const POSTGRES_SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Creates `schema` if needed and brings it to [`POSTGRES_SCHEMA_VERSION`].
pub(super) async fn migrate(storage: &PostgresStorage, schema: &str) -> Result<(), StorageError> {
    let mut client = storage.client().await?;
    let tx = client.transaction().await?;
    // One migration at a time per schema, whichever node starts it.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&super::LOCK_CLASS_SCHEMA, &schema],
    )
    .await?;
    // `schema` was checked to be letters, digits and '_' (PostgresUrl).
    // Checked first: `IF NOT EXISTS` would log a notice at every start.
    let exists = tx
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
        .await?
        .is_some();
    if !exists {
        tx.batch_execute(&format!("CREATE SCHEMA {schema}")).await?;
    }
    let versioned = tx
        .query_opt(
            "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'ngtt_schema'",
            &[&schema],
        )
        .await?
        .is_some();
    if !versioned {
        tx.batch_execute(&format!(
            "CREATE TABLE {schema}.ngtt_schema (version BIGINT NOT NULL)"
        ))
        .await?;
    }
    let found: Option<i64> = tx
        .query_opt(&format!("SELECT version FROM {schema}.ngtt_schema"), &[])
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let version = found.unwrap_or(0);
    if version > POSTGRES_SCHEMA_VERSION {
        return Err(StorageError::TooNew {
            found: version,
            supported: POSTGRES_SCHEMA_VERSION,
        });
    }
    for (done, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.batch_execute(&format!("SET LOCAL search_path TO {schema};\n{sql}"))
            .await?;
        tracing::info!(version = done + 1, schema, "PostgreSQL schema migrated");
    }
    if found.is_none() {
        tx.execute(
            &format!("INSERT INTO {schema}.ngtt_schema (version) VALUES ($1)"),
            &[&POSTGRES_SCHEMA_VERSION],
        )
        .await?;
    } else if version < POSTGRES_SCHEMA_VERSION {
        tx.execute(
            &format!("UPDATE {schema}.ngtt_schema SET version = $1"),
            &[&POSTGRES_SCHEMA_VERSION],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
