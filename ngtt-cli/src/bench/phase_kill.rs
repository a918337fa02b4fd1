//! The phases of `ngtt bench fleet` that kill a server with SIGKILL: the reconnect storm (one
//! node, killed and restarted) and the killed node (one of several, whose devices the others
//! must serve again).

use std::time::{Duration, Instant};

use super::admin::Admin;
use super::device::{now_nanos, BACKOFF_FIRST, BACKOFF_MAX};
use super::nodes::Nodes;
use super::phase_orders::queue_many;
use super::proc::{steal_since, HostCpu, ListenDrops};
use super::report::{KilledNode, Storm};
use super::server::LocalServer;
use super::workers::Fleet;
use crate::error::CliError;

/// Orders queued, the server killed with SIGKILL and restarted: how long until every device is
/// back, and whether the orders arrive.
pub async fn storm(
    fleet: &mut Fleet,
    admin: &Admin,
    server: &mut LocalServer,
    storm_orders: usize,
    seq: &mut u64,
    timeout: Duration,
) -> Result<Storm, CliError> {
    let n = fleet.size;
    let k = storm_orders.min(n);
    let first = *seq + 1;
    *seq += k as u64;
    let ids = (0..k).map(|i| fleet.device_id(i)).collect();
    queue_many(std::slice::from_ref(admin), ids, first).await?;
    let drops_before = ListenDrops::read();
    fleet.poll();
    fleet.mark();
    server.kill9().await?;
    server.restart().await?;
    let restarted = Instant::now();
    let host_before = HostCpu::read();
    fleet.wait(timeout, |f| f.distinct_up_since_mark == n).await;
    let back_secs = restarted.elapsed().as_secs_f64();
    let host_steal_percent = steal_since(host_before);
    let back = fleet.distinct_up_since_mark;
    let all = |f: &Fleet| (first..first + k as u64).all(|s| f.receipts.contains_key(&s));
    fleet.wait(Duration::from_secs(30), all).await;
    let drops = drops_before.zip(ListenDrops::read()).map(|(b, a)| a.since(b));
    let lost = (first..first + k as u64)
        .filter(|s| !fleet.receipts.contains_key(s))
        .count();
    Ok(Storm {
        orders: k,
        back_secs,
        back,
        connections: fleet.ups_since_mark,
        lost,
        listen_overflows: drops.map(|d| d.overflows),
        listen_drops: drops.map(|d| d.drops),
        host_steal_percent,
    })
}

/// When one device was served again after the kill (ns since the epoch), as far as it was.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Served {
    reconnected: Option<u128>,
    uploaded: Option<u128>,
    ordered: Option<u128>,
}

impl Served {
    /// When all three had happened.
    fn all(&self) -> Option<u128> {
        Some(self.reconnected?.max(self.uploaded?).max(self.ordered?))
    }
}

/// The figures of a killed node's devices, times from `killed_at`.
fn figures(served: &[Served], killed_at: u128, duplicated: u64) -> KilledNode {
    let secs = |at: u128| at.saturating_sub(killed_at) as f64 / 1e9;
    let slowest = |pick: fn(&Served) -> Option<u128>| -> (usize, f64) {
        let times: Vec<u128> = served.iter().filter_map(pick).collect();
        (times.len(), times.iter().copied().max().map_or(0.0, secs))
    };
    let (reconnected, reconnected_secs) = slowest(|s| s.reconnected);
    let (uploads_confirmed, uploads_secs) = slowest(|s| s.uploaded);
    let (delivered, orders_secs) = slowest(|s| s.ordered);
    let (served_count, served_secs) = slowest(Served::all);
    let mut all: Vec<u128> = served.iter().filter_map(Served::all).collect();
    all.sort_unstable();
    // Half of the devices, counting those never served as the slowest.
    let half = served.len().div_ceil(2);
    let served_p50_secs = all.get(half.saturating_sub(1)).map_or(0.0, |at| secs(*at));
    let after_reconnect = served
        .iter()
        .filter_map(|s| Some(s.all()?.saturating_sub(s.reconnected?)))
        .max()
        .map_or(0.0, |ns| ns as f64 / 1e9);
    KilledNode {
        node: 0,
        devices: served.len(),
        backoff_first_ms: BACKOFF_FIRST.as_millis() as u64,
        backoff_max_ms: BACKOFF_MAX.as_millis() as u64,
        lease_ttl_secs: ngtt_server::DEFAULT_LEASE_TTL.as_secs_f64(),
        reconnected,
        reconnected_secs,
        uploads_confirmed,
        uploads_secs,
        orders: served.len(),
        queue_secs: 0.0,
        orders_secs,
        served: served_count,
        served_secs,
        served_p50_secs,
        served_after_reconnect_secs: after_reconnect,
        lost: served.len() - delivered,
        duplicated,
    }
}

/// Node `victim` of several is killed with SIGKILL; right after, one order for each device
/// connected to it is queued through the others and each of them asked for one upload: how
/// long until every one of them is connected to another node, has its upload confirmed and its
/// order delivered.
pub async fn killed_node(
    fleet: &mut Fleet,
    nodes: &mut Nodes,
    victim: usize,
    seq: &mut u64,
    timeout: Duration,
) -> Result<KilledNode, CliError> {
    let count = nodes.count();
    fleet.poll();
    let devices: Vec<usize> = (0..fleet.size)
        .filter(|d| fleet.up[*d] && fleet.node[*d] == victim)
        .collect();
    let survivors: Vec<Admin> = (0..count)
        .filter(|n| *n != victim)
        .map(|n| nodes.admins[n].clone())
        .collect();
    let first = *seq + 1;
    *seq += devices.len() as u64;
    let ids: Vec<String> = devices.iter().map(|d| fleet.device_id(*d)).collect();
    fleet.poll();
    fleet.mark();
    let killed_at = now_nanos();
    nodes.kill(victim).await?;
    fleet.upload(1, 1, Some(&devices)).await?;
    queue_many(&survivors, ids, first).await?;
    let queue_secs = now_nanos().saturating_sub(killed_at) as f64 / 1e9;
    let served_of = |f: &Fleet| -> Vec<Served> {
        devices
            .iter()
            .enumerate()
            .map(|(j, d)| Served {
                reconnected: f.first_up_since_mark[*d].map(|(_, at)| at),
                uploaded: f.uploaded[*d],
                ordered: f.receipts.get(&(first + j as u64)).map(|r| r[0].1),
            })
            .collect()
    };
    fleet
        .wait(timeout, |f| served_of(f).iter().all(|s| s.all().is_some()))
        .await;
    let duplicated = (first..first + devices.len() as u64)
        .filter_map(|s| fleet.receipts.get(&s))
        .map(|r| r.len() as u64 - 1)
        .sum();
    Ok(KilledNode {
        node: victim,
        queue_secs,
        ..figures(&served_of(fleet), killed_at, duplicated)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u128 = 1_000_000_000;

    #[test]
    fn a_device_is_served_once_reconnected_uploaded_and_ordered() {
        let served = [
            Served {
                reconnected: Some(10 * S + S / 10),
                uploaded: Some(10 * S + S / 2),
                ordered: Some(14 * S),
            },
            Served {
                reconnected: Some(12 * S),
                uploaded: Some(13 * S),
                ordered: Some(13 * S),
            },
            Served {
                reconnected: Some(11 * S),
                uploaded: None,
                ordered: None,
            },
        ];
        let k = figures(&served, 10 * S, 1);
        assert_eq!(
            (k.devices, k.reconnected, k.uploads_confirmed, k.served),
            (3, 3, 2, 2)
        );
        assert_eq!(k.reconnected_secs, 2.0);
        assert_eq!(k.uploads_secs, 3.0);
        assert_eq!(k.orders_secs, 4.0);
        assert_eq!(k.served_secs, 4.0);
        assert_eq!(
            k.served_p50_secs, 4.0,
            "the second of three, the unserved one counted slowest"
        );
        assert!((k.served_after_reconnect_secs - 3.9).abs() < 1e-9);
        assert_eq!((k.orders, k.lost, k.duplicated), (3, 1, 1));
        assert_eq!(k.backoff_max_ms, BACKOFF_MAX.as_millis() as u64);
    }
}
