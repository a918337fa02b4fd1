//! [`pipelined_uploads`]: many uploads in flight at once on one transport, as the benchmarks
//! measure confirmed uploads per second.

use ngtt_proto::payload::PathpointSeries;
use ngtt_transport::Transport;

/// Makes `count` uploads with `next` and sends them through `transport` all at once, then
/// waits until the server confirmed every one. Panics on an upload that fails (a benchmark or
/// test has nothing better to do with it).
pub async fn pipelined_uploads(
    transport: &Transport,
    count: usize,
    mut next: impl FnMut() -> Vec<PathpointSeries>,
) {
    let batch: Vec<_> = (0..count).map(|_| transport.sync_pathpoints(next())).collect();
    for upload in futures::future::join_all(batch).await {
        upload.expect("upload confirmed");
    }
}
