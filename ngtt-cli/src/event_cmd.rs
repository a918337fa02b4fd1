//! `ngtt event`: the events (alarms) devices reported (`POST /v1/device/alarms`), listed and
//! closed through a server's admin API.

use std::io::Write;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value};

use crate::admin_json::request;
use crate::error::CliError;
use crate::order_cmd::AdminArgs;

/// Examples shown by `ngtt event --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt event list --device dev1 --state open
  ngtt event get --device dev1 --uuid 3f1c2a7e-8b1d-4c53-9a0e-2f6d1b7c9e10
  ngtt event close --device dev1 --uuid 3f1c2a7e-8b1d-4c53-9a0e-2f6d1b7c9e10 --handled-by operator

Events are printed newest first, one JSON object per line. Closing from here does not reach
the device (the device API has no route for it); the device reporting the event open again does
not reopen it."#;

/// `ngtt event ...`.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Print a device's events, newest first.
    #[command(after_help = "Example:\n  ngtt event list --device dev1 --state open --limit 20")]
    List {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// open, closed or all (default all).
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        /// At most this many (1..=10000, default 100).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Print one event.
    #[command(after_help = "Example:\n  ngtt event get --device dev1 --uuid UUID")]
    Get {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// The event's uuid.
        #[arg(long, value_name = "UUID")]
        uuid: String,
    },
    /// Close an event now (or at --ended-on).
    #[command(after_help = "Example:\n  ngtt event close --device dev1 --uuid UUID --handled-by operator")]
    Close {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// The event's uuid.
        #[arg(long, value_name = "UUID")]
        uuid: String,
        /// When it ended, seconds since the epoch (default now).
        #[arg(long = "ended-on", value_name = "SECONDS")]
        ended_on: Option<f64>,
        /// Who handled it.
        #[arg(long = "handled-by", value_name = "WHO")]
        handled_by: Option<String>,
    },
}

/// Runs `ngtt event ...`.
pub fn run(command: &EventCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    match command {
        EventCommand::List {
            admin,
            device,
            state,
            limit,
        } => {
            let mut query = Vec::new();
            if let Some(state) = state {
                query.push(("state", state.clone()));
            }
            if let Some(limit) = limit {
                query.push(("limit", limit.to_string()));
            }
            runtime.block_on(request(
                admin,
                Method::GET,
                device,
                &["events"],
                &query,
                None,
                out,
            ))
        }
        EventCommand::Get { admin, device, uuid } => runtime.block_on(request(
            admin,
            Method::GET,
            device,
            &["events", uuid],
            &[],
            None,
            out,
        )),
        EventCommand::Close {
            admin,
            device,
            uuid,
            ended_on,
            handled_by,
        } => {
            let mut body = Map::new();
            if let Some(t) = ended_on {
                body.insert("ended_on".into(), Value::from(*t));
            }
            if let Some(who) = handled_by {
                body.insert("handled_by".into(), Value::from(who.clone()));
            }
            runtime.block_on(request(
                admin,
                Method::POST,
                device,
                &["events", uuid, "close"],
                &[],
                Some(Value::Object(body)),
                out,
            ))
        }
    }
}
