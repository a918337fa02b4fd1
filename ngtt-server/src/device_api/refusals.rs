//! Every refused device request logged once, in one place: the device (when it could be told),
//! the peer, the route, the status and the reason, each peer-supplied string escaped.
//!
//! A [`Fault`](super::wire::Fault) answered as a 4xx carries its reason in a response extension
//! ([`Refused`]); this layer, around every route and the fallbacks, logs it at info level. The
//! device is what the [`Device`](super::auth::Device) extractor identified, passed back through
//! a [`DeviceSlot`] the layer puts in the request. 5xx answers were logged where they arose (a
//! storage failure, at error level).

use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use ngtt_proto::Escaped;

use super::auth::ConnInfo;

/// The reason of a refusal, on its response.
#[derive(Clone, Debug)]
pub(crate) struct Refused(pub(crate) String);

/// Where the [`Device`](super::auth::Device) extractor leaves the id of the device it
/// identified, for the log line of a refusal (a request extension).
#[derive(Clone, Debug, Default)]
pub(crate) struct DeviceSlot(Arc<OnceLock<String>>);

impl DeviceSlot {
    /// Records the device the request is from.
    pub(crate) fn set(&self, device_id: &str) {
        let _ = self.0.set(device_id.to_owned());
    }
}

/// The layer: runs the request, then logs its refusal, if it was refused.
pub(super) async fn log_refusals(mut request: Request, next: Next) -> Response {
    let slot = DeviceSlot::default();
    request.extensions_mut().insert(slot.clone());
    // Kept as the request has them (reference-counted clones); written out only on a refusal.
    let method = request.method().clone();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let uri = request.uri().clone();
    let peer = request.extensions().get::<ConnInfo>().map(|c| c.peer);
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() {
        if let Some(Refused(reason)) = response.extensions().get::<Refused>() {
            let device = slot.0.get().map_or("", String::as_str);
            let route = matched.as_ref().map_or(uri.path(), MatchedPath::as_str);
            tracing::info!(
                device = %Escaped(device),
                ?peer,
                route = %format_args!("{method} {}", Escaped(route)),
                status = status.as_u16(),
                reason = %Escaped(reason),
                "device HTTP request refused"
            );
        }
    }
    response
}
