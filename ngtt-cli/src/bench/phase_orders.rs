//! The order phases of `ngtt bench fleet`: paced orders one at a time (their latency, same node
//! and, with several nodes, cross node), and the fan-out of one order to each device.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use super::admin::Admin;
use super::device::{now_nanos, Jitter};
use super::proc::{steal_since, HostCpu};
use super::report::{Fanout, Latency};
use super::workers::Fleet;
use super::FleetArgs;
use crate::error::CliError;

/// Admin requests in flight during the fan-out and before a kill.
pub const ADMIN_CONCURRENCY: usize = 64;

/// The `q` quantile (nearest rank) of sorted `values`, 0 when empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Latency figures of `orders` paced orders, from the delays of those that arrived (ms), and
/// the host's steal over the phase.
fn latency(
    mut delays: Vec<f64>,
    orders: usize,
    rate_per_sec: f64,
    host_steal_percent: Option<f64>,
) -> Latency {
    delays.sort_by(f64::total_cmp);
    Latency {
        orders,
        rate_per_sec,
        p50_ms: quantile(&delays, 0.50),
        p99_ms: quantile(&delays, 0.99),
        max_ms: delays.last().copied().unwrap_or(0.0),
        lost: orders - delays.len(),
        host_steal_percent,
    }
}

/// Orders one at a time at `args.rate`, each to another device: admin request → device. With
/// several nodes, every other order goes through the admin API of the node after the device's
/// (cross node), the others through its own node's: (same node, cross node).
pub async fn paced(
    fleet: &mut Fleet,
    admins: &[Admin],
    args: &FleetArgs,
    seq: &mut u64,
) -> Result<(Latency, Option<Latency>), CliError> {
    let nodes = admins.len().max(1);
    let interval = Duration::from_secs_f64(1.0 / args.rate.clamp(0.01, 100_000.0));
    let start = tokio::time::Instant::now();
    let (mut same, mut cross) = (Vec::new(), Vec::new());
    let (mut same_sent, mut cross_sent) = (0, 0);
    // Kept in memory and written at the end: no file I/O between the orders measured.
    let mut log = String::new();
    let host_before = HostCpu::read();
    // Each order at a random instant of its slot: the mean rate stays `rate`, and the orders do
    // not keep one phase against the server's periodic work — at 100/s every 20th order fell
    // on the same instant of its 200 ms timer grid, all of them slow or none (docs/benchmarks.md,
    // "Orders ahead of the fsync").
    let mut jitter = Jitter::new(0x0DE5);
    for i in 0..args.orders as usize {
        tokio::time::sleep_until(start + interval * i as u32 + jitter.below(interval)).await;
        fleet.poll();
        let device = (i * 7919) % fleet.size;
        let node = fleet.node[device] % nodes;
        let is_cross = nodes > 1 && i % 2 == 1;
        let via = if is_cross { (node + 1) % nodes } else { node };
        *seq += 1;
        let this = *seq;
        let sent = now_nanos();
        admins[via].queue(&fleet.device_id(device), this).await?;
        let answered = now_nanos();
        let arrived = fleet
            .wait(Duration::from_secs(10), |f| f.receipts.contains_key(&this))
            .await;
        let delay = arrived.then(|| fleet.receipts[&this][0].1.saturating_sub(sent) as f64 / 1e6);
        if args.paced_log.is_some() {
            let admin_ms = answered.saturating_sub(sent) as f64 / 1e6;
            let device_ms = delay.map(|d| format!("{d:.3}")).unwrap_or_default();
            log.push_str(&format!("{sent},{admin_ms:.3},{device_ms}\n"));
        }
        if is_cross {
            cross_sent += 1;
            cross.extend(delay);
        } else {
            same_sent += 1;
            same.extend(delay);
        }
    }
    let host_steal_percent = steal_since(host_before);
    if let Some(path) = &args.paced_log {
        std::fs::write(path, format!("sent_unix_ns,admin_ms,device_ms\n{log}")).map_err(CliError::write)?;
    }
    let cross = (nodes > 1).then(|| latency(cross, cross_sent, args.rate / 2.0, host_steal_percent));
    let rate = if nodes > 1 { args.rate / 2.0 } else { args.rate };
    Ok((latency(same, same_sent, rate, host_steal_percent), cross))
}

/// Carries out `call` for each of `jobs`, `concurrency` at once, through `admins` in turn (the
/// i-th job through admin i mod n); the first error, if any.
async fn through_admins<T, F, Fut>(
    admins: &[Admin],
    jobs: impl IntoIterator<Item = T>,
    concurrency: usize,
    call: F,
) -> Result<(), CliError>
where
    F: Fn(Admin, T) -> Fut,
    Fut: Future<Output = Result<(), CliError>>,
{
    if admins.is_empty() {
        return Err(CliError::Bench("no node to queue orders through".into()));
    }
    let results: Vec<Result<(), CliError>> = stream::iter(jobs.into_iter().enumerate())
        .map(|(i, job)| call(admins[i % admins.len()].clone(), job))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Queues one order for each device of `ids` (sequence numbers from `first`, in order),
/// [`ADMIN_CONCURRENCY`] requests at once, spread over `admins` in turn.
pub async fn queue_many(admins: &[Admin], ids: Vec<String>, first: u64) -> Result<(), CliError> {
    let jobs = ids.into_iter().zip(first..);
    through_admins(admins, jobs, ADMIN_CONCURRENCY, |admin, (id, seq)| async move {
        admin.queue(&id, seq).await
    })
    .await
}

/// Queues one order for each device of `ids` (sequence numbers from `first`) in requests of
/// `batch` orders (`POST /v1/orders`), [`BATCH_CONCURRENCY`] requests at once, spread over
/// `admins` in turn.
pub async fn queue_batches(
    admins: &[Admin],
    ids: Vec<String>,
    first: u64,
    batch: usize,
) -> Result<(), CliError> {
    let orders: Vec<(String, u64)> = ids.into_iter().zip(first..).collect();
    let chunks = orders.chunks(batch.max(1));
    through_admins(admins, chunks, BATCH_CONCURRENCY, |admin, chunk| async move {
        admin.queue_batch(chunk).await
    })
    .await
}

/// Batch requests in flight during a batched fan-out: enough to keep the server's writer fed
/// while it commits the previous batch.
pub const BATCH_CONCURRENCY: usize = 4;

/// One order to each device at once, through every node's admin API in turn: one request per
/// order (`batch` 1) or `batch` orders per request.
pub async fn fanout(
    fleet: &mut Fleet,
    admins: &[Admin],
    seq: &mut u64,
    batch: usize,
    timeout: Duration,
) -> Result<Fanout, CliError> {
    let n = fleet.size;
    let first = *seq + 1;
    *seq += n as u64;
    let started_ns = now_nanos();
    let started = Instant::now();
    let host_before = HostCpu::read();
    let ids = (0..n).map(|i| fleet.device_id(i)).collect();
    if batch > 1 {
        queue_batches(admins, ids, first, batch).await?;
    } else {
        queue_many(admins, ids, first).await?;
    }
    let queue_secs = started.elapsed().as_secs_f64();
    let all = |f: &Fleet| (first..first + n as u64).all(|s| f.receipts.contains_key(&s));
    fleet.wait(timeout, all).await;
    let host_steal_percent = steal_since(host_before);
    let arrived: Vec<u128> = (first..first + n as u64)
        .filter_map(|s| fleet.receipts.get(&s).map(|r| r[0].1))
        .collect();
    let last = arrived.iter().copied().max().unwrap_or(started_ns);
    let secs = last.saturating_sub(started_ns) as f64 / 1e9;
    Ok(Fanout {
        orders: n,
        batch,
        queue_secs,
        secs,
        orders_per_sec: arrived.len() as f64 / secs.max(1e-9),
        lost: n - arrived.len(),
        host_steal_percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_counts_what_did_not_arrive_as_lost() {
        let l = latency((1..=100).rev().map(f64::from).collect(), 103, 50.0, None);
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms, l.lost), (50.0, 99.0, 100.0, 3));
        let none = latency(Vec::new(), 2, 50.0, None);
        assert_eq!((none.p50_ms, none.lost), (0.0, 2));
    }
}
