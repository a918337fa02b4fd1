//! The coordination tables and statements of [`super::Cluster`], in the configured schema:
//! `ngtt_nodes` (each node's liveness, renewed by its heartbeat, and the key of its node lock)
//! and `ngtt_leases` (each device's lease: epoch, holder, and the nodes still releasing earlier
//! connections). Times are the database's (`now()`), never a node's clock.
//!
//! The node lock: each node holds a session-level advisory lock on [`node_lock_key`] on a
//! connection of its own for its whole life. PostgreSQL releases it the moment that session
//! ends — at once when the node's process dies, since its socket closes — so a node that finds
//! the lock of a node it waits for free ([`Sql::bury`]) knows it is dead without waiting for
//! its liveness to expire.

use std::time::Duration;

use tokio_postgres::Client;

use super::book::{Epoch, Observed};
use crate::error::ServerError;

/// The statements, with the schema filled in.
#[derive(Debug)]
pub(crate) struct Sql {
    /// The notification channel (one per schema, so that several deployments or tests share a
    /// database without hearing each other).
    pub(crate) channel: String,
    create: String,
    take: String,
    observe: String,
    release: String,
    heartbeat: String,
    leave: String,
    bury: String,
    queued: String,
    forget: String,
}

/// The key of the node lock of `node` in `schema`: the 64-bit FNV-1a hash of both (stable
/// across versions and machines; advisory locks are per database, so the schema is part of it).
/// A collision with a live node only makes a node wait for the ttl rule (never a false death:
/// a lock found held means "alive").
pub(crate) fn node_lock_key(schema: &str, node: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schema.bytes().chain([b'\t']).chain(node.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// A database error as the server reports it.
pub(crate) fn db_error(what: &str, e: impl std::fmt::Display) -> ServerError {
    ServerError::Cluster(format!("{what}: {e}"))
}

impl Sql {
    /// The statements for `schema` (checked by `PostgresUrl`: letters, digits and `_`, as
    /// the engine writes it, unquoted).
    pub(crate) fn new(schema: &str) -> Sql {
        let s = schema;
        // Channel names are identifiers: at most 63 bytes (all ASCII here).
        let mut channel = format!("ngtt_cluster_{schema}");
        channel.truncate(63);
        Sql {
            channel,
            // Under the engine's schema-change lock (nodes starting together create once),
            // in one transaction.
            create: format!(
                "BEGIN;
                 SELECT pg_advisory_xact_lock({lock}, hashtext('{s}'));
                 CREATE SCHEMA IF NOT EXISTS {s};
                 CREATE TABLE IF NOT EXISTS {s}.ngtt_nodes (
                     node_id text PRIMARY KEY,
                     expires_at timestamptz NOT NULL);
                 CREATE TABLE IF NOT EXISTS {s}.ngtt_leases (
                     device_id text PRIMARY KEY,
                     epoch bigint NOT NULL,
                     node_id text,
                     draining text[] NOT NULL DEFAULT '{{}}');
                 CREATE INDEX IF NOT EXISTS ngtt_leases_draining ON {s}.ngtt_leases
                     USING gin (draining);
                 ALTER TABLE {s}.ngtt_nodes ADD COLUMN IF NOT EXISTS lock_key bigint;
                 DELETE FROM {s}.ngtt_nodes WHERE expires_at < now() - interval '1 day';
                 COMMIT;",
                lock = crate::storage::postgres::LOCK_CLASS_SCHEMA
            ),
            // The row lock of the upsert orders concurrent takers; the previous holder, when it
            // is another live node, joins the nodes that must release the device first.
            take: format!(
                "INSERT INTO {s}.ngtt_leases AS l (device_id, epoch, node_id, draining)
                 VALUES ($1, 1, $2, '{{}}')
                 ON CONFLICT (device_id) DO UPDATE SET
                     epoch = l.epoch + 1,
                     node_id = $2,
                     draining = ARRAY(
                         SELECT DISTINCT d FROM unnest(l.draining || l.node_id) AS d
                         WHERE d IS NOT NULL AND d <> $2 AND EXISTS (
                             SELECT 1 FROM {s}.ngtt_nodes n
                             WHERE n.node_id = d AND n.expires_at > now()))
                 RETURNING epoch, draining"
            ),
            observe: format!(
                "SELECT l.device_id, l.epoch, COALESCE(l.node_id = $2, false),
                     EXISTS (SELECT 1 FROM unnest(l.draining) AS d
                             JOIN {s}.ngtt_nodes n ON n.node_id = d
                             WHERE n.expires_at > now())
                 FROM {s}.ngtt_leases l WHERE l.device_id = ANY($1)"
            ),
            release: format!(
                "UPDATE {s}.ngtt_leases SET
                     node_id = CASE WHEN epoch = $3 AND node_id = $2 THEN NULL ELSE node_id END,
                     draining = array_remove(draining, $2)
                 WHERE device_id = $1"
            ),
            heartbeat: format!(
                "INSERT INTO {s}.ngtt_nodes (node_id, expires_at, lock_key)
                 VALUES ($1, now() + make_interval(secs => $2), $3)
                 ON CONFLICT (node_id) DO UPDATE SET
                     expires_at = EXCLUDED.expires_at, lock_key = EXCLUDED.lock_key"
            ),
            // A live node that the given leases wait for, whose node lock is free (its
            // session ended: the process died, or its lock connection was lost, upon which it
            // fenced itself), expires now. The transaction-level probe conflicts with the
            // holder's session-level lock and ends with the statement: it never holds it.
            // Nodes without a key (an older version) keep the ttl rule.
            bury: format!(
                "UPDATE {s}.ngtt_nodes n SET expires_at = now()
                 WHERE n.expires_at > now() AND n.node_id <> $2 AND n.lock_key IS NOT NULL
                   AND n.node_id IN (SELECT d FROM {s}.ngtt_leases l, unnest(l.draining) AS d
                                     WHERE l.device_id = ANY($1))
                   AND pg_try_advisory_xact_lock(n.lock_key)
                 RETURNING n.node_id"
            ),
            leave: format!("DELETE FROM {s}.ngtt_nodes WHERE node_id = $1"),
            forget: format!(
                "UPDATE {s}.ngtt_leases SET draining = array_remove(draining, $1)
                 WHERE draining @> ARRAY[$1] AND NOT (device_id = ANY($2))
                 RETURNING device_id"
            ),
            // The engine's `orders` table (storage/postgres/schema.rs): state 0 is queued; its
            // partial index `orders_pending` serves this.
            queued: format!(
                "SELECT DISTINCT device_id FROM {s}.orders WHERE state = 0 AND device_id = ANY($1)"
            ),
        }
    }

    /// Creates the schema and tables when missing, and forgets nodes dead for a day (killed
    /// nodes never delete their row).
    pub(crate) async fn create(&self, client: &Client) -> Result<(), ServerError> {
        client
            .batch_execute(&self.create)
            .await
            .map_err(|e| db_error("creating the cluster tables", e))
    }

    /// Takes `device`'s lease for `node`: its new epoch, and the other live nodes that must
    /// release the device first.
    pub(crate) async fn take(
        &self,
        client: &Client,
        device: &str,
        node: &str,
    ) -> Result<(Epoch, Vec<String>), ServerError> {
        let row = client
            .query_one(&self.take, &[&device, &node])
            .await
            .map_err(|e| db_error("taking a device lease", e))?;
        Ok((row.get(0), row.get(1)))
    }

    /// The leases of `devices` as `node` sees them (devices without a lease row are absent).
    pub(crate) async fn observe(
        &self,
        client: &Client,
        devices: &[String],
        node: &str,
    ) -> Result<Vec<(String, Observed)>, ServerError> {
        let rows = client
            .query(&self.observe, &[&devices, &node])
            .await
            .map_err(|e| db_error("reading device leases", e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let observed = Observed {
                    epoch: r.get(1),
                    mine: r.get(2),
                    draining: r.get(3),
                };
                (r.get(0), observed)
            })
            .collect())
    }

    /// `node` no longer delivers to `device`: gives up the lease if it still holds `epoch`
    /// (`None`: only stop counting as releasing).
    pub(crate) async fn release(
        &self,
        client: &Client,
        device: &str,
        node: &str,
        epoch: Option<Epoch>,
    ) -> Result<(), ServerError> {
        client
            .execute(&self.release, &[&device, &node, &epoch.unwrap_or(0)])
            .await
            .map(drop)
            .map_err(|e| db_error("releasing a device lease", e))
    }

    /// Which of `devices` have orders queued (never handed to a device yet).
    pub(crate) async fn queued(
        &self,
        client: &Client,
        devices: &[String],
    ) -> Result<Vec<String>, ServerError> {
        let rows = client
            .query(&self.queued, &[&devices])
            .await
            .map_err(|e| db_error("looking for queued orders", e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Stops counting `node` as releasing the devices other than `local` (it has no connection
    /// of them, so nothing to release: an announcement it missed); returns those devices.
    pub(crate) async fn forget(
        &self,
        client: &Client,
        node: &str,
        local: &[String],
    ) -> Result<Vec<String>, ServerError> {
        let rows = client
            .query(&self.forget, &[&node, &local])
            .await
            .map_err(|e| db_error("forgetting devices released long ago", e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Renews `node`'s liveness for `ttl`, recording the key of its node lock.
    pub(crate) async fn heartbeat(
        &self,
        client: &Client,
        node: &str,
        ttl: Duration,
        lock_key: i64,
    ) -> Result<(), ServerError> {
        client
            .execute(&self.heartbeat, &[&node, &ttl.as_secs_f64(), &lock_key])
            .await
            .map(drop)
            .map_err(|e| db_error("renewing the node's liveness", e))
    }

    /// Takes the node lock `key` for the session of `client` (never waits): whether it got it.
    pub(crate) async fn lock(&self, client: &Client, key: i64) -> Result<bool, ServerError> {
        client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map(|row| row.get(0))
            .map_err(|e| db_error("taking the node lock", e))
    }

    /// Ends the liveness of the nodes that the leases of `devices` wait for and whose node
    /// locks are free (dead nodes); returns them. `node` (this one) is never among them.
    pub(crate) async fn bury(
        &self,
        client: &Client,
        devices: &[String],
        node: &str,
    ) -> Result<Vec<String>, ServerError> {
        let rows = client
            .query(&self.bury, &[&devices, &node])
            .await
            .map_err(|e| db_error("looking for dead nodes", e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Removes `node`'s liveness (clean shutdown): devices it held are taken without waiting.
    pub(crate) async fn leave(&self, client: &Client, node: &str) -> Result<(), ServerError> {
        client
            .execute(&self.leave, &[&node])
            .await
            .map(drop)
            .map_err(|e| db_error("leaving the cluster", e))
    }

    /// Sends `messages` on the channel, in order, in one round trip.
    pub(crate) async fn notify(&self, client: &Client, messages: &[String]) -> Result<(), ServerError> {
        client
            .execute(
                "SELECT pg_notify($1, m) FROM unnest($2::text[]) WITH ORDINALITY AS t(m, i) ORDER BY i",
                &[&self.channel, &messages],
            )
            .await
            .map(drop)
            .map_err(|e| db_error("sending cluster notifications", e))
    }
}

#[cfg(test)]
mod tests {
    use super::node_lock_key;

    #[test]
    fn node_lock_keys_are_stable_and_tell_schemas_and_nodes_apart() {
        // FNV-1a of "\t" for two empty names: fixed, so that nodes of different builds agree.
        assert_eq!(node_lock_key("s", "n"), node_lock_key("s", "n"));
        assert_eq!(
            node_lock_key("", ""),
            i64::from_ne_bytes(0xaf63_c44c_8601_c3c4_u64.to_ne_bytes())
        );
        assert_ne!(node_lock_key("s", "n1"), node_lock_key("s", "n2"));
        assert_ne!(node_lock_key("a", "n"), node_lock_key("b", "n"));
        assert_ne!(
            node_lock_key("ab", "c"),
            node_lock_key("a", "bc"),
            "the separator counts"
        );
    }
}
