//! `ngtt macro`: a device's macros and their occurrences through a server's admin API.

use std::io::Write;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use crate::device_target::DeviceTarget;
use crate::error::CliError;
use crate::order_cmd::line;

/// Examples shown by `ngtt macro --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt macro put --device dev1 --id heat-up \
      --commands '[{"path": "W1", "value": 21}, {"path": "u2", "value": "on"}]' \
      --at 1796063026 --at 1796149426          # creates or replaces; prints the macro
  ngtt macro list --device dev1               # one JSON object per line, with completion
  ngtt macro get --device dev1 --id heat-up   # occurrences: timestamp, completed, completed_at
  ngtt macro delete --device dev1 --id heat-up

Occurrences are epoch seconds. Replacing a macro keeps the completion of the occurrences it
still has. --admin defaults to http://127.0.0.1:2406; the token comes from --admin-token-file,
NGTT_ADMIN_TOKEN_FILE, NGTT_ADMIN_TOKEN or ./ngtt.db.admin-token."#;

/// `ngtt macro ...`.
#[derive(Debug, Subcommand)]
pub enum MacroCommand {
    /// Print a device's macros, one JSON object per line.
    #[command(after_help = "Example:\n  ngtt macro list --device dev1")]
    List {
        #[command(flatten)]
        to: DeviceTarget,
    },

    /// Print one macro with its occurrences and their completion.
    #[command(after_help = "Example:\n  ngtt macro get --device dev1 --id heat-up")]
    Get {
        #[command(flatten)]
        to: DeviceTarget,
        /// The macro id.
        #[arg(long = "id", value_name = "MACRO")]
        macro_id: String,
    },

    /// Create or replace a macro: its writes and when they run.
    #[command(after_help = "Example:\n  ngtt macro put --device dev1 --id m1 \
                            --commands '[{\"path\": \"W1\", \"value\": 1}]' --at 1796063026")]
    Put {
        #[command(flatten)]
        to: DeviceTarget,
        /// The macro id.
        #[arg(long = "id", value_name = "MACRO")]
        macro_id: String,
        /// The writes, JSON: `[{"path": name, "value": int, float or string}]`.
        #[arg(long, value_name = "JSON")]
        commands: String,
        /// An occurrence, in epoch seconds (repeat for more).
        #[arg(long = "at", value_name = "SECONDS")]
        at: Vec<f64>,
    },

    /// Delete a macro and its occurrences.
    #[command(after_help = "Example:\n  ngtt macro delete --device dev1 --id heat-up")]
    Delete {
        #[command(flatten)]
        to: DeviceTarget,
        /// The macro id.
        #[arg(long = "id", value_name = "MACRO")]
        macro_id: String,
    },
}

async fn run_async(command: &MacroCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let answer = match command {
        MacroCommand::List { to } => return to.print(&["macros"], out).await,
        MacroCommand::Get { to, macro_id } => to.call(Method::GET, &["macros", macro_id], None).await?,
        MacroCommand::Put {
            to,
            macro_id,
            commands,
            at,
        } => {
            let commands: Value = serde_json::from_str(commands)
                .map_err(|e| CliError::Admin(format!("--commands is not JSON: {e}")))?;
            let body = json!({"commands": commands, "occurrences": at});
            to.call(Method::PUT, &["macros", macro_id], Some(body)).await?
        }
        MacroCommand::Delete { to, macro_id } => to.call(Method::DELETE, &["macros", macro_id], None).await?,
    };
    line(out, &answer.to_string())
}

/// Runs `ngtt macro ...`.
pub fn run(command: &MacroCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    runtime.block_on(run_async(command, out))
}
