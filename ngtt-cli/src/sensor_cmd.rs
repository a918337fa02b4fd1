//! `ngtt sensor`: a device's sensors (`GET /v1/device/sensors` on the device side), through a
//! server's admin API.

use std::io::{Read, Write};

use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use crate::admin_json::{request, JsonBody};
use crate::error::CliError;
use crate::order_cmd::AdminArgs;

/// Examples shown by `ngtt sensor --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt sensor list --device dev1
  ngtt sensor set --device dev1 --fqts 'temp boiler' --path W1 --type std.Number10
  ngtt sensor set --device dev1 --fqts 'pressure' --path 'W2~W3' --type 'bar(precision=1, multiplier=0.01)'
  ngtt sensor replace --device dev1 --json '[{"fqts": "temp", "path": "W1", "type": "std.Number10"}]'
  ngtt sensor delete --device dev1 --fqts 'boiler temp'

A tag set (fqts) is stored canonical: its words sorted. Sensor types with arguments accept only
numeric precision=, multiplier= and offset= (the published client evaluates them)."#;

/// `ngtt sensor ...`.
#[derive(Debug, Subcommand)]
pub enum SensorCommand {
    /// Print a device's sensors, one JSON object per line.
    #[command(after_help = "Example:\n  ngtt sensor list --device dev1")]
    List {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
    },
    /// Print one sensor.
    #[command(after_help = "Example:\n  ngtt sensor get --device dev1 --fqts 'boiler temp'")]
    Get {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// Its tag set, words in any order.
        #[arg(long, value_name = "TAGS")]
        fqts: String,
    },
    /// Create or replace one sensor.
    #[command(
        after_help = "Example:\n  ngtt sensor set --device dev1 --fqts 'temp boiler' --path W1 --type std.Number10"
    )]
    Set {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// Its tag set, words in any order.
        #[arg(long, value_name = "TAGS")]
        fqts: String,
        /// Its pathpoints, joined by `~`.
        #[arg(long, value_name = "PATHS")]
        path: String,
        /// Its type, e.g. std.Number10, std.Unicode or name(precision=1).
        #[arg(long = "type", value_name = "TYPE")]
        sensor_type: String,
    },
    /// Replace every sensor of a device with a JSON list of {"fqts", "path", "type"}.
    #[command(after_help = "Example:\n  ngtt sensor replace --device dev1 --file sensors.json")]
    Replace {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        #[command(flatten)]
        body: JsonBody,
    },
    /// Remove one sensor.
    #[command(after_help = "Example:\n  ngtt sensor delete --device dev1 --fqts 'boiler temp'")]
    Delete {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// Its tag set.
        #[arg(long, value_name = "TAGS")]
        fqts: String,
    },
}

/// Runs `ngtt sensor ...`; `input` is read for `--file -`.
pub fn run(command: &SensorCommand, input: &mut dyn Read, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    let call = match command {
        SensorCommand::List { admin, device } => (admin, Method::GET, device, None, None),
        SensorCommand::Get { admin, device, fqts } => (admin, Method::GET, device, Some(fqts), None),
        SensorCommand::Set {
            admin,
            device,
            fqts,
            path,
            sensor_type,
        } => (
            admin,
            Method::PUT,
            device,
            Some(fqts),
            Some(json!({"path": path, "type": sensor_type})),
        ),
        SensorCommand::Replace { admin, device, body } => {
            (admin, Method::PUT, device, None, Some(body.read(input)?))
        }
        SensorCommand::Delete { admin, device, fqts } => (admin, Method::DELETE, device, Some(fqts), None),
    };
    let (admin, method, device, fqts, body) = call;
    let mut segments = vec!["sensors"];
    segments.extend(fqts.map(String::as_str));
    runtime.block_on(request(admin, method, device, &segments, &[], body, out))
}
