//! `ngtt device-info`: the device information `GET /v1/device` serves (verbose name, facets,
//! culture context, slave devices), through a server's admin API.

use std::io::{Read, Write};

use clap::Subcommand;
use reqwest::Method;

use crate::admin_json::{request, JsonBody};
use crate::error::CliError;
use crate::order_cmd::AdminArgs;

/// Examples shown by `ngtt device-info --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt device-info get --device dev1
  ngtt device-info set --device dev1 --json '{"verbose_name": "Boiler room", "facets": ["heating"],
      "culture_context": {"language": "pl", "timezone": "Europe/Warsaw", "units": "metric"},
      "slave_devices": [{"device_id": "7", "responsible_service": "rapid", "configuration": "modbus 9600 8n1"}]}'
  ngtt device-info patch --device dev1 --json '{"culture_context": {"units": "imperial"}}'

`set` replaces everything (fields not given take their defaults); `patch` changes the fields
given. The answer is the document the device receives. The token comes from --admin-token-file,
NGTT_ADMIN_TOKEN_FILE, NGTT_ADMIN_TOKEN or ./ngtt.db.admin-token; a non-2xx answer exits with status 1 and the server's reason on stderr."#;

/// `ngtt device-info ...`.
#[derive(Debug, Subcommand)]
pub enum DeviceInfoCommand {
    /// Print the document the device receives from `GET /v1/device`.
    #[command(after_help = "Example:\n  ngtt device-info get --device dev1")]
    Get {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
    },
    /// Replace the device information with a JSON object.
    #[command(
        after_help = "Example:\n  ngtt device-info set --device dev1 --json '{\"verbose_name\": \"Boiler room\"}'"
    )]
    Set {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        #[command(flatten)]
        body: JsonBody,
    },
    /// Change the fields a JSON object gives.
    #[command(
        after_help = "Example:\n  ngtt device-info patch --device dev1 --json '{\"facets\": [\"smoke\"]}'"
    )]
    Patch {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        #[command(flatten)]
        body: JsonBody,
    },
}

/// Runs `ngtt device-info ...`; `input` is read for `--file -`.
pub fn run(command: &DeviceInfoCommand, input: &mut dyn Read, out: &mut dyn Write) -> Result<(), CliError> {
    let (admin, device, method, body) = match command {
        DeviceInfoCommand::Get { admin, device } => (admin, device, Method::GET, None),
        DeviceInfoCommand::Set { admin, device, body } => {
            (admin, device, Method::PUT, Some(body.read(input)?))
        }
        DeviceInfoCommand::Patch { admin, device, body } => {
            (admin, device, Method::PATCH, Some(body.read(input)?))
        }
    };
    let runtime = crate::runtime::runtime(false)?;
    runtime.block_on(request(admin, method, device, &["info"], &[], body, out))
}
