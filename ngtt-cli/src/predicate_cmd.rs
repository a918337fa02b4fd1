//! `ngtt predicate`: a device's predicates (`GET /v1/device/predicates` on the device side),
//! silencing included, through a server's admin API.

use std::io::{Read, Write};

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::admin_json::{request, JsonBody};
use crate::error::CliError;
use crate::order_cmd::AdminArgs;

/// Examples shown by `ngtt predicate --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt predicate list --device dev1
  ngtt predicate set --device dev1 --id p1 --statistic temp.high --configuration '{"max": 80}' \
      --verbose-name 'Boiler too hot' --group A
  ngtt predicate silence --device dev1 --id p1 --period '1 08:00-5 16:30' --period '6 00:00-7 23:59'
  ngtt predicate silence --device dev1 --id p1 --none
  ngtt predicate offline --device dev1 --id p1
  ngtt predicate patch --device dev1 --id p1 --json '{"configuration": {"max": 90}}'
  ngtt predicate delete --device dev1 --id p1

A silencing period is `DAY HH:MM-DAY HH:MM` in the device's time zone, DAY the ISO weekday
(1 Monday .. 7 Sunday); it does not wrap around the week, so split one across Sunday midnight."#;

/// The admin API, device and predicate a command acts on.
#[derive(Debug, Args)]
pub struct PredicateTarget {
    #[command(flatten)]
    admin: AdminArgs,
    /// The device id.
    #[arg(long, value_name = "ID")]
    device: String,
    /// The predicate id.
    #[arg(long, value_name = "ID")]
    id: String,
}

/// `ngtt predicate ...`.
#[derive(Debug, Subcommand)]
pub enum PredicateCommand {
    /// Print a device's predicates, one JSON object per line.
    #[command(after_help = "Example:\n  ngtt predicate list --device dev1")]
    List {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
    },
    /// Print one predicate.
    #[command(after_help = "Example:\n  ngtt predicate get --device dev1 --id p1")]
    Get {
        #[command(flatten)]
        target: PredicateTarget,
    },
    /// Create or replace a predicate (fields not given take their defaults).
    #[command(after_help = "Example:\n  ngtt predicate set --device dev1 --id p1 --statistic temp.high")]
    Set {
        #[command(flatten)]
        target: PredicateTarget,
        /// The statistic the device matches it against.
        #[arg(long, value_name = "NAME")]
        statistic: String,
        /// Its configuration, JSON (default {}).
        #[arg(long, value_name = "JSON")]
        configuration: Option<String>,
        /// Human-readable name (default: the id).
        #[arg(long = "verbose-name", value_name = "TEXT")]
        verbose_name: Option<String>,
        /// Notification group (default B).
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// Create it offline.
        #[arg(long)]
        offline: bool,
    },
    /// Change the fields a JSON object gives.
    #[command(
        after_help = "Example:\n  ngtt predicate patch --device dev1 --id p1 --json '{\"group\": \"A\"}'"
    )]
    Patch {
        #[command(flatten)]
        target: PredicateTarget,
        #[command(flatten)]
        body: JsonBody,
    },
    /// Set the periods in which the predicate opens no events.
    #[command(
        after_help = "Example:\n  ngtt predicate silence --device dev1 --id p1 --period '1 08:00-5 16:30'"
    )]
    Silence {
        #[command(flatten)]
        target: PredicateTarget,
        /// A period `DAY HH:MM-DAY HH:MM` (repeatable).
        #[arg(long = "period", value_name = "PERIOD", required_unless_present = "none")]
        periods: Vec<String>,
        /// Remove every period.
        #[arg(long, conflicts_with = "periods")]
        none: bool,
    },
    /// Put a predicate online.
    #[command(after_help = "Example:\n  ngtt predicate online --device dev1 --id p1")]
    Online {
        #[command(flatten)]
        target: PredicateTarget,
    },
    /// Take a predicate offline (the device drops its instance, keeps its state).
    #[command(after_help = "Example:\n  ngtt predicate offline --device dev1 --id p1")]
    Offline {
        #[command(flatten)]
        target: PredicateTarget,
    },
    /// Remove a predicate (the device deletes its state).
    #[command(after_help = "Example:\n  ngtt predicate delete --device dev1 --id p1")]
    Delete {
        #[command(flatten)]
        target: PredicateTarget,
    },
}

/// `DAY HH:MM` as `{"day", "hour", "minute"}`.
fn week_time(text: &str, period: &str) -> Result<Value, CliError> {
    let bad = || {
        CliError::Admin(format!(
            "invalid silencing period {period:?}: expected DAY HH:MM-DAY HH:MM"
        ))
    };
    let (day, clock) = text.trim().split_once(' ').ok_or_else(bad)?;
    let (hour, minute) = clock.trim().split_once(':').ok_or_else(bad)?;
    let number = |s: &str| s.trim().parse::<u8>().map_err(|_| bad());
    Ok(json!({"day": number(day)?, "hour": number(hour)?, "minute": number(minute)?}))
}

/// `DAY HH:MM-DAY HH:MM` as `{"start", "stop"}` (ranges are checked by the server).
fn period(text: &str) -> Result<Value, CliError> {
    let (start, stop) = text.split_once('-').ok_or_else(|| {
        CliError::Admin(format!(
            "invalid silencing period {text:?}: expected DAY HH:MM-DAY HH:MM"
        ))
    })?;
    Ok(json!({"start": week_time(start, text)?, "stop": week_time(stop, text)?}))
}

/// Runs `ngtt predicate ...`; `input` is read for `--file -`.
pub fn run(command: &PredicateCommand, input: &mut dyn Read, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    let (target, method, body) = match command {
        PredicateCommand::List { admin, device } => {
            return runtime.block_on(request(
                admin,
                Method::GET,
                device,
                &["predicates"],
                &[],
                None,
                out,
            ))
        }
        PredicateCommand::Get { target } => (target, Method::GET, None),
        PredicateCommand::Set {
            target,
            statistic,
            configuration,
            verbose_name,
            group,
            offline,
        } => {
            let mut body = Map::new();
            body.insert("statistic".into(), json!(statistic));
            body.insert("online".into(), json!(!offline));
            if let Some(c) = configuration {
                let parsed: Value = serde_json::from_str(c)
                    .map_err(|e| CliError::Admin(format!("--configuration is not JSON: {e}")))?;
                body.insert("configuration".into(), parsed);
            }
            if let Some(v) = verbose_name {
                body.insert("verbose_name".into(), json!(v));
            }
            if let Some(g) = group {
                body.insert("group".into(), json!(g));
            }
            (target, Method::PUT, Some(Value::Object(body)))
        }
        PredicateCommand::Patch { target, body } => (target, Method::PATCH, Some(body.read(input)?)),
        PredicateCommand::Silence {
            target,
            periods,
            none: _,
        } => {
            let list = periods.iter().map(|p| period(p)).collect::<Result<Vec<_>, _>>()?;
            (target, Method::PATCH, Some(json!({"silencing": list})))
        }
        PredicateCommand::Online { target } => (target, Method::PATCH, Some(json!({"online": true}))),
        PredicateCommand::Offline { target } => (target, Method::PATCH, Some(json!({"online": false}))),
        PredicateCommand::Delete { target } => (target, Method::DELETE, None),
    };
    runtime.block_on(request(
        &target.admin,
        method,
        &target.device,
        &["predicates", &target.id],
        &[],
        body,
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse() {
        assert_eq!(
            period("1 08:00-5 16:30").unwrap(),
            json!({"start": {"day": 1, "hour": 8, "minute": 0}, "stop": {"day": 5, "hour": 16, "minute": 30}})
        );
        assert!(period("monday").is_err());
        assert!(period("1 8-5 16").is_err());
    }
}
