//! The bench's admin API client: queue an order for a device, or a batch of them.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Url};

use crate::error::CliError;

/// An admin API client for one server.
#[derive(Clone)]
pub struct Admin {
    client: Client,
    base: String,
    token: Option<String>,
}

/// Adds the bearer token, when one is configured, to an admin request. The one place where
/// the bench authenticates.
pub fn authorize(request: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

impl Admin {
    /// A client for the admin API at `base`, with `token` when given.
    pub fn new(base: &str, token: Option<String>) -> Result<Admin, CliError> {
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| CliError::Bench(format!("admin client: {e}")))?;
        Ok(Admin {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// Queues a read order whose path carries `seq` for `device`; returns when the server
    /// answered 201 (the order is committed).
    pub async fn queue(&self, device: &str, seq: u64) -> Result<(), CliError> {
        self.post(&format!("/v1/devices/{device}/orders"), sections(seq))
            .await
    }

    /// Queues the read order of [`Admin::queue`] for each `(device, seq)` in one request
    /// (`POST /v1/orders`, one commit); returns when the server answered 201.
    pub async fn queue_batch(&self, orders: &[(String, u64)]) -> Result<(), CliError> {
        let entries: Vec<String> = orders
            .iter()
            .map(|(device, seq)| {
                let device = serde_json::Value::from(device.as_str());
                format!(r#"{{"device": {device}, "sections": {}}}"#, sections(*seq))
            })
            .collect();
        self.post("/v1/orders", format!("[{}]", entries.join(","))).await
    }

    /// Posts a JSON `body` to `path`; `Ok` on a 2xx.
    async fn post(&self, path: &str, body: String) -> Result<(), CliError> {
        let url: Url = format!("{}{path}", self.base)
            .parse()
            .map_err(|e| CliError::Bench(format!("admin URL: {e}")))?;
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let response = authorize(request, self.token.as_deref())
            .send()
            .await
            .map_err(|e| CliError::Bench(format!("queueing an order: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(crate::order_cmd::refused(status, &text));
        }
        Ok(())
    }
}

/// The sections of the bench's order number `seq`: a read whose path carries it, which the
/// simulated device reports back.
fn sections(seq: u64) -> String {
    format!(r#"[{{"orders": [{{"type": "read", "path": "fleet#{seq:012}"}}]}}]"#)
}
