//! The node lock of a [`Cluster`]: a session-level PostgreSQL advisory lock on
//! [`super::sql::node_lock_key`], held on a connection of its own for the node's whole life.
//! PostgreSQL releases it the moment that session ends, so the death of the node's process is
//! visible to the other nodes at once (they probe the lock, `Sql::bury`), without waiting for
//! its liveness to expire. The other side of that rule: while this node does not hold its lock
//! (the lock connection ended), it claims no order ([`super::book::ClaimCheck::Fenced`]) and
//! takes the lock again every [`RECHECK`]; once it holds it, it renews its liveness and
//! re-reads every lease (some may have been taken meanwhile).

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::book::RECHECK;
use super::sql::db_error;
use super::Cluster;
use crate::error::ServerError;

/// A session holding the node lock: the lock lasts as long as `connection` runs (dropping the
/// client ends it, and so releases the lock).
pub(super) struct LockSession {
    _client: Client,
    connection: JoinHandle<()>,
}

/// Opens a connection and takes the node lock on it (never waits for it).
async fn take(cluster: &Cluster) -> Result<LockSession, ServerError> {
    let mut pg = cluster.pg.driver_config().map_err(ServerError::Config)?;
    pg.application_name("ngtt node lock");
    let (client, connection) = pg
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| db_error("node lock connection", e))?;
    let connection = tokio::spawn(async move {
        if let Err(e) = connection.await {
            debug!("node lock connection: {e}");
        }
    });
    match cluster.sql.lock(&client, cluster.lock_key).await {
        Ok(true) => Ok(LockSession {
            _client: client,
            connection,
        }),
        Ok(false) => {
            connection.abort();
            Err(ServerError::Cluster(
                "the node lock is held by another session (a node with the same id still running?)"
                    .to_owned(),
            ))
        }
        Err(e) => {
            connection.abort();
            Err(e)
        }
    }
}

/// Takes the node lock at start, trying every [`RECHECK`] for up to the lease ttl (the session
/// of a previous life of this node id may take a moment to end).
pub(super) async fn take_at_start(cluster: &Cluster) -> Result<LockSession, ServerError> {
    let until = Instant::now() + cluster.config.lease_ttl;
    loop {
        match take(cluster).await {
            Ok(session) => {
                cluster.book().lock_held(true);
                return Ok(session);
            }
            Err(e) if Instant::now() >= until => return Err(e),
            Err(e) => debug!("{e}; retrying"),
        }
        tokio::time::sleep(RECHECK).await;
    }
}

/// Holds the node lock until `shutdown`: when its connection ends, fences this node at once
/// and takes the lock again as soon as it can.
pub(super) async fn hold(cluster: Arc<Cluster>, first: LockSession, shutdown: CancellationToken) {
    let mut session = first;
    loop {
        tokio::select! {
            _ = &mut session.connection => {}
            () = shutdown.cancelled() => return,
        }
        cluster.book().lock_held(false);
        warn!("node lock connection lost: no order is claimed here until the lock is held again");
        session = loop {
            tokio::select! {
                () = tokio::time::sleep(RECHECK) => {}
                () = shutdown.cancelled() => return,
            }
            match take(&cluster).await {
                Ok(session) => break session,
                Err(e) => debug!("{e}; retrying"),
            }
        };
        // Another node may have counted this one dead meanwhile: alive again first, then
        // every lease re-read (those taken meanwhile are stopped) before claiming.
        if let Err(e) = cluster.renew().await {
            warn!("renewing the node's liveness after taking its lock again: {e}");
        }
        cluster.book().lock_held(true);
        info!("node lock held again: re-reading every lease");
        super::tasks::sweep(&cluster).await;
    }
}
