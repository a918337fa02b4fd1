//! [`DeviceTarget`]: the options every device-resource command shares (`--admin`,
//! `--admin-token-file`, `--device`), and its requests to `/v1/devices/{device}/...`.

use std::io::Write;

use clap::Args;
use reqwest::{Method, Url};
use serde_json::Value;

use crate::error::CliError;
use crate::order_cmd::{call, endpoint, line, AdminArgs};

/// A device on a server's admin API.
#[derive(Debug, Args)]
pub struct DeviceTarget {
    #[command(flatten)]
    pub(crate) admin: AdminArgs,
    /// The device id.
    #[arg(long, value_name = "ID")]
    pub(crate) device: String,
}

impl DeviceTarget {
    /// The URL of `/v1/devices/{device}/` followed by `segments`, each percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, CliError> {
        let mut all = vec!["v1", "devices", self.device.as_str()];
        all.extend_from_slice(segments);
        endpoint(&self.admin.admin, &all)
    }

    /// One request with a JSON body (or none); its JSON answer.
    pub(crate) async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
    ) -> Result<Value, CliError> {
        let body = body.map(|b| b.to_string().into_bytes());
        call(&self.admin, method, self.url(segments)?, body).await
    }

    /// Prints a `GET` answer that is a list one JSON object per line, else as one line.
    pub(crate) async fn print(&self, segments: &[&str], out: &mut dyn Write) -> Result<(), CliError> {
        match self.call(Method::GET, segments, None).await? {
            Value::Array(items) => items.iter().try_for_each(|item| line(out, &item.to_string())),
            other => line(out, &other.to_string()),
        }
    }
}
