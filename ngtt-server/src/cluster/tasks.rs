//! The background tasks of a [`Cluster`]: listening on the notification channel (reconnecting
//! when the connection drops, then waking every local connection), sending queued wake-ups in
//! batches, renewing this node's liveness while sweeping its leases, and looking again at the
//! leases waiting for other nodes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::book::RECHECK;
use super::message::Message;
use super::sql::db_error;
use super::Cluster;
use crate::error::ServerError;

/// Wake-ups sent in one round trip, at most.
const WAKE_BATCH: usize = 512;
/// Devices whose leases are read in one query, at most.
const OBSERVE_CHUNK: usize = 1000;
/// Pause before listening again after the listening connection failed.
const RELISTEN_PAUSE: Duration = Duration::from_secs(1);

/// Starts listening (returns once the channel is listened to, so that no notification sent
/// after the start is missed) and spawns the tasks, which end with `shutdown`.
pub(super) async fn spawn(
    cluster: Arc<Cluster>,
    wakes: mpsc::Receiver<String>,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let first = listen(&cluster).await?;
    tokio::spawn(keep_listening(Arc::clone(&cluster), first, shutdown.clone()));
    tokio::spawn(send_wakes(Arc::clone(&cluster), wakes, shutdown.clone()));
    tokio::spawn(recheck_waiting(Arc::clone(&cluster), shutdown.clone()));
    tokio::spawn(renew_and_sweep(cluster, shutdown));
    Ok(())
}

/// A connection listening on the channel, and the task that reads its notifications (it ends
/// when the connection does).
async fn listen(cluster: &Arc<Cluster>) -> Result<(tokio_postgres::Client, JoinHandle<()>), ServerError> {
    let pg = cluster.pg.driver_config().map_err(ServerError::Config)?;
    let (client, mut connection) = pg
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| db_error("cluster listening connection", e))?;
    let me = Arc::clone(cluster);
    let reader = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => match Message::decode(n.payload()) {
                    Some(m) => me.on_message(m),
                    None => tracing::debug!(
                        payload = %ngtt_proto::Escaped(n.payload()),
                        "not a cluster message on the channel: ignored"
                    ),
                },
                Ok(_) => {}
                Err(e) => {
                    warn!("cluster listening connection failed: {e}");
                    break;
                }
            }
        }
    });
    let listening = format!("LISTEN \"{}\"", cluster.sql.channel);
    if let Err(e) = client.batch_execute(&listening).await {
        reader.abort();
        return Err(db_error("listening for cluster notifications", e));
    }
    Ok((client, reader))
}

/// Listens until `shutdown`; after each reconnection every local connection is woken (a
/// wake-up may have been missed meanwhile).
async fn keep_listening(
    cluster: Arc<Cluster>,
    first: (tokio_postgres::Client, JoinHandle<()>),
    shutdown: CancellationToken,
) {
    let mut current = Some(first);
    loop {
        let (client, reader) = match current.take() {
            Some(listening) => listening,
            None => match listen(&cluster).await {
                Ok(listening) => {
                    info!("listening for cluster notifications again: waking every connection");
                    sweep(&cluster).await;
                    listening
                }
                Err(e) => {
                    warn!("{e}; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(RELISTEN_PAUSE) => continue,
                        () = shutdown.cancelled() => return,
                    }
                }
            },
        };
        tokio::select! {
            _ = reader => {}
            () = shutdown.cancelled() => return,
        }
        drop(client);
    }
}

/// Sends the wake-ups of orders queued here to every node, in batches.
async fn send_wakes(cluster: Arc<Cluster>, mut wakes: mpsc::Receiver<String>, shutdown: CancellationToken) {
    let mut failing = false;
    loop {
        let first = tokio::select! {
            wake = wakes.recv() => match wake {
                Some(device) => device,
                None => return,
            },
            () = shutdown.cancelled() => return,
        };
        let mut batch = vec![Message::Order { device: first }.encode()];
        while batch.len() < WAKE_BATCH {
            match wakes.try_recv() {
                Ok(device) => batch.push(Message::Order { device }.encode()),
                Err(_) => break,
            }
        }
        batch.dedup();
        let sent = async {
            let client = cluster.client().await?;
            cluster.sql.notify(&client, &batch).await
        };
        match sent.await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                warn!("sending order wake-ups to the other nodes failed (their sweep finds the orders): {e}");
            }
            Err(_) => {}
        }
    }
}

/// Looks at the leases waiting for other nodes when they are due ([`super::book::LeaseBook::due`]:
/// at once after being taken, then every [`RECHECK`]), in batches.
async fn recheck_waiting(cluster: Arc<Cluster>, shutdown: CancellationToken) {
    let mut failing = false;
    loop {
        tokio::select! {
            () = cluster.recheck.notified() => {}
            () = tokio::time::sleep(RECHECK) => {}
            () = shutdown.cancelled() => return,
        }
        let due = cluster.book().due(Instant::now());
        for chunk in due.chunks(OBSERVE_CHUNK) {
            match cluster.recheck_leases(chunk).await {
                Ok(()) => failing = false,
                Err(e) => {
                    if !failing {
                        warn!("looking at the leases waiting for other nodes (retried): {e}");
                    }
                    failing = true;
                    break;
                }
            }
        }
    }
}

/// Renews this node's liveness every fifth of the lease ttl and sweeps every lease on
/// [`super::ClusterConfig::sweep_every`].
async fn renew_and_sweep(cluster: Arc<Cluster>, shutdown: CancellationToken) {
    let every = cluster.config.lease_ttl / 5;
    let mut last_sweep = Instant::now();
    let mut failing = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
        let was_alive = cluster.book().alive(Instant::now());
        match cluster.renew().await {
            Ok(()) => {
                if failing {
                    info!("node liveness renewed again");
                }
                failing = false;
                if !was_alive {
                    // Claims were fenced: look at every lease again.
                    sweep(&cluster).await;
                    last_sweep = Instant::now();
                }
            }
            Err(e) => {
                if !failing {
                    warn!("cannot renew this node's liveness; orders stop before its leases expire: {e}");
                }
                failing = true;
                continue;
            }
        }
        if last_sweep.elapsed() >= cluster.config.sweep_every {
            sweep(&cluster).await;
            last_sweep = Instant::now();
        }
    }
}

/// Re-reads every local lease (stopping connections that lost theirs) and wakes the local
/// connections of the devices with queued orders (a wake-up may have been lost).
pub(super) async fn sweep(cluster: &Arc<Cluster>) {
    forget_released(cluster).await;
    let held = cluster.book().held();
    observe_all(cluster, &held).await;
    let held = cluster.book().held();
    for chunk in held.chunks(OBSERVE_CHUNK) {
        let queued = async {
            let client = cluster.client().await?;
            cluster.sql.queued(&client, chunk).await
        };
        match queued.await {
            Ok(devices) => {
                for device in devices {
                    cluster.registry.notify_local(&device);
                }
            }
            Err(e) => {
                warn!("sweep: {e}");
                return;
            }
        }
    }
}

/// Stops this node counting as releasing devices it has no connection of (it missed the
/// takeover's announcement), and tells the nodes waiting for them. A device whose connection is
/// being registered right now is not in the book yet, but this node cannot be releasing it:
/// the takeover that listed this node came before that connection.
async fn forget_released(cluster: &Arc<Cluster>) {
    let mut local = cluster.book().local();
    local.extend(cluster.registry.connected());
    let forgotten = async {
        let client = cluster.client().await?;
        let devices = cluster.sql.forget(&client, cluster.node_id(), &local).await?;
        let released: Vec<String> = devices
            .into_iter()
            .map(|device| {
                Message::Released {
                    node: cluster.node_id().to_owned(),
                    device,
                }
                .encode()
            })
            .collect();
        if !released.is_empty() {
            cluster.sql.notify(&client, &released).await?;
        }
        Ok::<usize, ServerError>(released.len())
    };
    match forgotten.await {
        Ok(0) => {}
        Ok(n) => info!(
            devices = n,
            "stopped counting as releasing devices not connected here"
        ),
        Err(e) => warn!("sweep: {e}"),
    }
}

async fn observe_all(cluster: &Arc<Cluster>, devices: &[String]) {
    for chunk in devices.chunks(OBSERVE_CHUNK) {
        if let Err(e) = cluster.observe(chunk).await {
            warn!("reading device leases: {e}");
            return;
        }
    }
}
