//! `ngtt instrumentation`: a slave device's link state and instrumentation
//! (`/v1/device/instrumentation/{slave}` on the device side), through a server's admin API.

use std::io::Write;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value};

use crate::admin_json::request;
use crate::error::CliError;
use crate::order_cmd::AdminArgs;

/// Examples shown by `ngtt instrumentation --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt instrumentation get --device dev1 --slave 7
  ngtt instrumentation set --device dev1 --slave 7 --linkstate '{"status": false, "failed_devices": [3]}'
  ngtt instrumentation set --device dev1 --slave 7 --instrumentation 'CRC errors: 4'

Slave devices are listed in the device information (`ngtt device-info`). The answer holds
"linkstate" (the JSON text the device reads), "linkstate_parsed" and "instrumentation"."#;

/// `ngtt instrumentation ...`.
#[derive(Debug, Subcommand)]
pub enum InstrumentationCommand {
    /// Print a slave device's link state and instrumentation.
    #[command(after_help = "Example:\n  ngtt instrumentation get --device dev1 --slave 7")]
    Get {
        #[command(flatten)]
        admin: AdminArgs,
        /// The master device's id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// The slave device's id.
        #[arg(long, value_name = "ID")]
        slave: String,
    },
    /// Change a slave device's link state and/or instrumentation.
    #[command(
        after_help = "Example:\n  ngtt instrumentation set --device dev1 --slave 7 --linkstate '{\"status\": true}'"
    )]
    Set {
        #[command(flatten)]
        admin: AdminArgs,
        /// The master device's id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// The slave device's id.
        #[arg(long, value_name = "ID")]
        slave: String,
        /// The link state, a JSON object such as {"status": true}.
        #[arg(long, value_name = "JSON", required_unless_present = "instrumentation")]
        linkstate: Option<String>,
        /// Free text describing the slave's condition.
        #[arg(long, value_name = "TEXT")]
        instrumentation: Option<String>,
    },
}

/// Runs `ngtt instrumentation ...`.
pub fn run(command: &InstrumentationCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    match command {
        InstrumentationCommand::Get { admin, device, slave } => runtime.block_on(request(
            admin,
            Method::GET,
            device,
            &["slaves", slave, "instrumentation"],
            &[],
            None,
            out,
        )),
        InstrumentationCommand::Set {
            admin,
            device,
            slave,
            linkstate,
            instrumentation,
        } => {
            let mut body = Map::new();
            if let Some(ls) = linkstate {
                let parsed: Value = serde_json::from_str(ls)
                    .map_err(|e| CliError::Admin(format!("--linkstate is not JSON: {e}")))?;
                body.insert("linkstate".into(), parsed);
            }
            if let Some(text) = instrumentation {
                body.insert("instrumentation".into(), Value::String(text.clone()));
            }
            runtime.block_on(request(
                admin,
                Method::PATCH,
                device,
                &["slaves", slave, "instrumentation"],
                &[],
                Some(Value::Object(body)),
                out,
            ))
        }
    }
}
