//! Several nodes on one PostgreSQL database: [`Cluster`] coordinates which node delivers a
//! device's orders, apart from the storage engine (docs/architecture.md, "Several nodes").
//!
//! * **Wake-ups.** After an order is queued (admin API of any node), the node sends a
//!   notification with the device id; every node listens and wakes its local connection of
//!   that device. A sweep wakes the local connections of devices with queued orders
//!   periodically and after the listening connection was re-established: the safety net for
//!   lost notifications.
//! * **Leases.** A node that accepts a device's connection takes the device's lease (epoch + 1,
//!   holder). The node that held it before hears of it and closes its connection; the new
//!   holder claims no order until the previous holder released the device (its connection
//!   ended) or stopped being alive, and checks before every claim that it still holds the
//!   current epoch: two nodes never deliver the same orders at once. A lease waiting so is
//!   looked at again at once, then every [`book::RECHECK`] (250 ms).
//! * **Node death.** Each node holds its node lock ([`lock`]), a session-level advisory lock
//!   that PostgreSQL releases the moment the node's process dies; a node waiting for another
//!   that finds its lock free ends its liveness at once ([`sql::Sql::bury`]), so the devices of
//!   a killed node, reconnecting elsewhere, get their orders within about [`book::RECHECK`]
//!   of their reconnection. A node that lost its lock connection claims nothing
//!   ([`book::ClaimCheck::Fenced`]) until it holds the lock again. The fallback for a node
//!   alive but cut off from the database: each node renews its liveness every fifth of the
//!   lease ttl, stops claiming a fifth of the ttl before the others may consider it dead, and
//!   counts as dead after at most the ttl.
//!
//! With SQLite (one node) there is no `Cluster`: the in-process [`Registry`] is all.

pub(crate) mod book;
mod lock;
mod message;
mod sql;
mod tasks;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::error::ServerError;
use crate::registry::Registry;
use crate::storage::PostgresUrl;
use book::{Action, ClaimCheck, LeaseBook};
use message::Message;
use sql::{db_error, node_lock_key, Sql};

/// Default of [`ClusterConfig::lease_ttl`]: 5 s, one liveness write per node and second. A
/// killed node's devices do not wait for it (its node lock tells its death at once); it bounds
/// the wait for a node alive but cut off from the database (issue 11, docs/benchmarks.md).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);
/// Default of [`ClusterConfig::sweep_every`]: 10 s.
pub const DEFAULT_SWEEP: Duration = Duration::from_secs(10);
/// Wake-ups waiting to be sent to the other nodes, at most.
const WAKE_QUEUE: usize = 8192;

/// How a node joins the others on its PostgreSQL database (the coordination tables live in
/// the database's schema, beside the engine's). Used whenever the server runs on PostgreSQL.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// This node's id (no tab nor comma): unique among the nodes alive at a time. The default (host, process,
    /// start time) is new at each start, so that a restarted node never inherits the leases of
    /// its previous life.
    pub node_id: String,
    /// How long a node counts as alive after renewing (default [`DEFAULT_LEASE_TTL`]): the
    /// longest the devices of a node cut off from the database (but not dead: a dead node's
    /// lock tells at once) wait for their orders on another node.
    pub lease_ttl: Duration,
    /// How often the local connections of devices with queued orders are woken, in case their
    /// notification was lost (default [`DEFAULT_SWEEP`]).
    pub sweep_every: Duration,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        ClusterConfig {
            node_id: format!("{host}-{}-{started}", std::process::id()),
            lease_ttl: DEFAULT_LEASE_TTL,
            sweep_every: DEFAULT_SWEEP,
        }
    }
}

impl ClusterConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), ServerError> {
        if self.node_id.is_empty() || self.node_id.len() > 200 || self.node_id.contains(['\t', ',']) {
            return Err(ServerError::Config(
                "node id: 1 to 200 bytes, no tab nor comma".to_owned(),
            ));
        }
        if self.lease_ttl < Duration::from_secs(2) || self.sweep_every < Duration::from_millis(100) {
            return Err(ServerError::Config(
                "lease ttl at least 2 s, sweep at least 100 ms".to_owned(),
            ));
        }
        Ok(())
    }
}

/// One node's part in the coordination (see the module documentation).
pub(crate) struct Cluster {
    config: ClusterConfig,
    pg: PostgresUrl,
    pool: Pool,
    sql: Sql,
    book: Mutex<LeaseBook>,
    registry: Registry,
    /// The key of this node's lock.
    lock_key: i64,
    /// Poked when a lease waiting for another node is due for a look at once.
    recheck: tokio::sync::Notify,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.config.node_id)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects, creates the tables, announces this node alive and starts listening and
    /// renewing, until `shutdown`.
    pub(crate) async fn start(
        database: &PostgresUrl,
        config: ClusterConfig,
        registry: Registry,
        shutdown: &CancellationToken,
    ) -> Result<Arc<Cluster>, ServerError> {
        config.validate()?;
        let pg = database.driver_config().map_err(ServerError::Config)?;
        let manager = Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(4)
            .build()
            .map_err(|e| db_error("cluster connection pool", e))?;
        let cluster = Arc::new(Cluster {
            sql: Sql::new(database.schema()),
            lock_key: node_lock_key(database.schema(), &config.node_id),
            recheck: tokio::sync::Notify::new(),
            pg: database.clone(),
            book: Mutex::new(LeaseBook::new(config.lease_ttl)),
            config,
            pool,
            registry,
        });
        {
            let client = cluster.client().await?;
            cluster.sql.create(&client).await?;
        }
        let locked = lock::take_at_start(&cluster).await?;
        cluster.renew().await?;
        tokio::spawn(lock::hold(Arc::clone(&cluster), locked, shutdown.clone()));
        let (tx, rx) = mpsc::channel(WAKE_QUEUE);
        cluster.registry.set_remote(tx);
        tasks::spawn(Arc::clone(&cluster), rx, shutdown.clone()).await?;
        Ok(cluster)
    }

    /// This node's id.
    pub(crate) fn node_id(&self) -> &str {
        &self.config.node_id
    }

    fn book(&self) -> MutexGuard<'_, LeaseBook> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, ServerError> {
        self.pool
            .get()
            .await
            .map_err(|e| db_error("cluster database connection", e))
    }

    /// Renews this node's liveness.
    async fn renew(&self) -> Result<(), ServerError> {
        let sent = Instant::now();
        let client = self.client().await?;
        self.sql
            .heartbeat(&client, self.node_id(), self.config.lease_ttl, self.lock_key)
            .await?;
        self.book().renewed(sent);
        Ok(())
    }

    /// Connection `conn` of `device` takes the device's lease (after the local registry
    /// stopped any earlier local connection of it); the node holding it before is told to
    /// close its connection.
    pub(crate) async fn acquire(&self, device: &str, conn: u64) -> Result<(), ServerError> {
        let client = self.client().await?;
        let (epoch, draining) = self.sql.take(&client, device, self.node_id()).await?;
        self.book()
            .taken(device, conn, epoch, !draining.is_empty(), Instant::now());
        if !draining.is_empty() {
            // Are they still alive? Looked at at once, with the others taken meanwhile.
            self.recheck.notify_one();
        }
        debug!(epoch, ?draining, "device lease taken");
        let taken = Message::Taken {
            epoch,
            node: self.node_id().to_owned(),
            draining,
            device: device.to_owned(),
        };
        if let Err(e) = self.sql.notify(&client, &[taken.encode()]).await {
            // The previous holder finds out at its next sweep instead.
            warn!("announcing the device lease: {e}");
        }
        Ok(())
    }

    /// Whether connection `conn` of `device` may claim orders now: it holds the current epoch
    /// and no other node still delivers to the device. When not, it is woken once it may, or
    /// stopped when the device was taken over.
    pub(crate) async fn may_claim(&self, device: &str, conn: u64) -> bool {
        let check = self.book().check(device, conn, Instant::now());
        match check {
            ClaimCheck::Ready(_) => {}
            ClaimCheck::Draining | ClaimCheck::Fenced => return false,
            ClaimCheck::Lost => {
                self.registry.stop(device, conn);
                return false;
            }
        }
        match self.observe(&[device.to_owned()]).await {
            Ok(()) => matches!(
                self.book().check(device, conn, Instant::now()),
                ClaimCheck::Ready(_)
            ),
            Err(e) => {
                // Not a warning per claim: the liveness renewal reports a database that fails.
                debug!("cannot confirm the device lease before claiming orders (retried by the sweep): {e}");
                false
            }
        }
    }

    /// Reads the leases of `devices` and carries out what the book decides: wake those that
    /// became ready, stop those that were lost.
    async fn observe(&self, devices: &[String]) -> Result<(), ServerError> {
        if devices.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let rows = self.sql.observe(&client, devices, self.node_id()).await?;
        drop(client);
        let mut book = self.book();
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        found.extend(rows);
        for device in devices {
            let action = book.observe(device, found.get(device).copied());
            self.act(device, action);
        }
        Ok(())
    }

    /// Looks again at the leases of `devices`, waiting for other nodes: first ends the liveness
    /// of those of the nodes whose locks are free (dead), then reads the leases.
    async fn recheck_leases(&self, devices: &[String]) -> Result<(), ServerError> {
        if devices.is_empty() {
            return Ok(());
        }
        let buried = {
            let client = self.client().await?;
            self.sql.bury(&client, devices, self.node_id()).await?
        };
        for node in &buried {
            info!(node = %ngtt_proto::Escaped(node), "node lock free: the node is dead, its devices are served here without waiting for its lease ttl");
        }
        self.observe(devices).await
    }

    fn act(&self, device: &str, action: Action) {
        match action {
            Action::None => {}
            Action::Wake(_) => self.registry.notify_local(device),
            Action::Stop(conn) => {
                debug!(device = %ngtt_proto::Escaped(device), conn, "device taken over on another node: closing its connection here");
                self.registry.stop(device, conn);
            }
        }
    }

    /// Connection `conn` of `device` ended: releases the lease (when still its own) and tells
    /// the nodes waiting for it.
    pub(crate) async fn ended(&self, device: &str, conn: u64) {
        let Some(epoch) = self.book().ended(device, conn) else {
            return;
        };
        if let Err(e) = self.release(device, Some(epoch)).await {
            warn!("releasing the device lease (others take it when this node expires): {e}");
        }
    }

    async fn release(&self, device: &str, epoch: Option<book::Epoch>) -> Result<(), ServerError> {
        let client = self.client().await?;
        self.sql.release(&client, device, self.node_id(), epoch).await?;
        let released = Message::Released {
            node: self.node_id().to_owned(),
            device: device.to_owned(),
        };
        self.sql.notify(&client, &[released.encode()]).await
    }

    /// Carries out a notification from the channel.
    fn on_message(self: &Arc<Self>, message: Message) {
        match message {
            Message::Order { device } => self.registry.notify_local(&device),
            Message::Taken { node, .. } if node == self.node_id() => {}
            Message::Taken {
                epoch,
                device,
                draining,
                ..
            } => {
                let action = self.book().superseded(&device, epoch);
                let waited_for = draining.iter().any(|n| n == self.node_id());
                if action == Action::None && waited_for && !self.registry.is_connected(&device) {
                    // Nothing of ours delivers to it: stop counting as releasing it (a release
                    // that failed, or one that crossed this takeover).
                    let me = Arc::clone(self);
                    tokio::spawn(async move {
                        if let Err(e) = me.release(&device, None).await {
                            debug!("releasing a device not held here: {e}");
                        }
                    });
                    return;
                }
                self.act(&device, action);
            }
            Message::Released { device, .. } => {
                if self.book().draining().contains(&device) {
                    let me = Arc::clone(self);
                    tokio::spawn(async move {
                        if let Err(e) = me.observe(&[device]).await {
                            debug!("re-reading a device lease after a release: {e}");
                        }
                    });
                }
            }
        }
    }

    /// Leaves the cluster on a clean shutdown, after the connections released their devices.
    pub(crate) async fn leave(&self) {
        let left = async {
            let client = self.client().await?;
            self.sql.leave(&client, self.node_id()).await
        };
        if let Err(e) = left.await {
            warn!("leaving the cluster (the others wait for this node to expire): {e}");
        }
    }
}
