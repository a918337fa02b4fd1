//! The confirmed-uploads phase of `ngtt bench fleet`: every device sends its uploads
//! (DATA_STREAM), several in flight, and the server's DATA_STREAM_CONFIRMs are counted.

use std::time::Duration;

use super::device::now_nanos;
use super::proc::{steal_since, HostCpu};
use super::report::UploadRate;
use super::upload::SAMPLES_PER_UPLOAD;
use super::workers::Fleet;
use crate::error::CliError;

/// Asks each device for `per_device` uploads, `in_flight` at once, and waits until every
/// device had them all answered (or `timeout`): uploads confirmed per second.
pub async fn uploads(
    fleet: &mut Fleet,
    per_device: u32,
    in_flight: u32,
    timeout: Duration,
) -> Result<UploadRate, CliError> {
    fleet.poll();
    let (confirmed0, rejected0) = fleet.upload_totals();
    let started = now_nanos();
    let host_before = HostCpu::read();
    fleet.upload(per_device, in_flight, None).await?;
    fleet
        .wait(timeout, |f| f.uploaded.iter().all(Option::is_some))
        .await;
    let host_steal_percent = steal_since(host_before);
    let (confirmed1, rejected1) = fleet.upload_totals();
    let last = fleet.uploaded.iter().flatten().copied().max().unwrap_or(started);
    let secs = last.saturating_sub(started) as f64 / 1e9;
    let confirmed = confirmed1 - confirmed0;
    Ok(UploadRate {
        devices: fleet.size,
        per_device,
        in_flight,
        samples_per_upload: SAMPLES_PER_UPLOAD,
        confirmed,
        rejected: rejected1 - rejected0,
        secs,
        per_sec: confirmed as f64 / secs.max(1e-9),
        devices_incomplete: fleet.uploaded.iter().filter(|u| u.is_none()).count(),
        host_steal_percent,
    })
}
