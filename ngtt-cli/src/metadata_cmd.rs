//! `ngtt metadata`: a device's plain metadata through a server's admin API.

use std::io::Write;

use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use crate::device_target::DeviceTarget;
use crate::error::CliError;
use crate::order_cmd::line;

/// Examples shown by `ngtt metadata --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt metadata set --device dev1 --key "site/name" --value "Boiler room 2"
  ngtt metadata get --device dev1 --key "site/name"   # {"key", "value", "timestamp", ...}
  ngtt metadata list --device dev1                    # one JSON object per line
  ngtt metadata delete --device dev1 --key "site/name"

Keys may hold spaces and slashes. A value set here is stored with the server's time (or
--timestamp); a device's later write wins unless its timestamp is older. --admin defaults to
http://127.0.0.1:2406; the token comes from --admin-token-file, NGTT_ADMIN_TOKEN_FILE, NGTT_ADMIN_TOKEN or ./ngtt.db.admin-token."#;

/// `ngtt metadata ...`.
#[derive(Debug, Subcommand)]
pub enum MetadataCommand {
    /// Print a device's metadata, one JSON object per line.
    #[command(after_help = "Example:\n  ngtt metadata list --device dev1")]
    List {
        #[command(flatten)]
        to: DeviceTarget,
    },

    /// Print one entry (exit status 1 when the key does not exist).
    #[command(after_help = "Example:\n  ngtt metadata get --device dev1 --key owner")]
    Get {
        #[command(flatten)]
        to: DeviceTarget,
        /// The key.
        #[arg(long, value_name = "KEY")]
        key: String,
    },

    /// Set a value; prints the entry as stored.
    #[command(after_help = "Example:\n  ngtt metadata set --device dev1 --key owner --value \"ACME\"")]
    Set {
        #[command(flatten)]
        to: DeviceTarget,
        /// The key.
        #[arg(long, value_name = "KEY")]
        key: String,
        /// The value.
        #[arg(long, value_name = "TEXT")]
        value: String,
        /// The time of the write, epoch seconds (default: now).
        #[arg(long, value_name = "SECONDS")]
        timestamp: Option<f64>,
    },

    /// Delete an entry (succeeds when it does not exist).
    #[command(after_help = "Example:\n  ngtt metadata delete --device dev1 --key owner")]
    Delete {
        #[command(flatten)]
        to: DeviceTarget,
        /// The key.
        #[arg(long, value_name = "KEY")]
        key: String,
    },
}

async fn run_async(command: &MetadataCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let answer = match command {
        MetadataCommand::List { to } => return to.print(&["metadata"], out).await,
        MetadataCommand::Get { to, key } => to.call(Method::GET, &["metadata", key], None).await?,
        MetadataCommand::Set {
            to,
            key,
            value,
            timestamp,
        } => {
            let mut body = json!({"value": value});
            if let Some(t) = timestamp {
                body["timestamp"] = json!(t);
            }
            to.call(Method::PUT, &["metadata", key], Some(body)).await?
        }
        MetadataCommand::Delete { to, key } => to.call(Method::DELETE, &["metadata", key], None).await?,
    };
    line(out, &answer.to_string())
}

/// Runs `ngtt metadata ...`.
pub fn run(command: &MetadataCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    runtime.block_on(run_async(command, out))
}
