//! `ngtt sensor-write`: the sensor write log devices upload (`PUT /v1/device/sensor/write_log`),
//! through a server's admin API.

use std::io::Write;

use clap::Subcommand;
use reqwest::Method;

use crate::admin_json::request;
use crate::error::CliError;
use crate::order_cmd::AdminArgs;

/// Examples shown by `ngtt sensor-write --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt sensor-write list --device dev1
  ngtt sensor-write list --device dev1 --fqts 'boiler temp' --limit 10

Records are printed oldest first, one JSON object per line: "timestamp" (ms), "who",
"hr_sensor", "hr_value", "fqts", "value", "reason", "received_at" (ms)."#;

/// `ngtt sensor-write ...`.
#[derive(Debug, Subcommand)]
pub enum SensorWriteCommand {
    /// Print the most recent write records of a device.
    #[command(after_help = "Example:\n  ngtt sensor-write list --device dev1 --limit 10")]
    List {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// Only records of this tag set.
        #[arg(long, value_name = "TAGS")]
        fqts: Option<String>,
        /// At most this many records (1..=10000, default 100).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
}

/// Runs `ngtt sensor-write ...`.
pub fn run(command: &SensorWriteCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let SensorWriteCommand::List {
        admin,
        device,
        fqts,
        limit,
    } = command;
    let mut query = Vec::new();
    if let Some(fqts) = fqts {
        query.push(("fqts", fqts.clone()));
    }
    if let Some(limit) = limit {
        query.push(("limit", limit.to_string()));
    }
    let runtime = crate::runtime::runtime(false)?;
    runtime.block_on(request(
        admin,
        Method::GET,
        device,
        &["sensor-writes"],
        &query,
        None,
        out,
    ))
}
