//! `ngtt archive`: a device's archive settings (which pathpoints it reads periodically)
//! through a server's admin API.

use std::io::Write;

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use crate::device_target::DeviceTarget;
use crate::error::CliError;
use crate::order_cmd::line;

/// Examples shown by `ngtt archive --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt archive set --device dev1 --json '[{"interval": 600, "pathpoints": ["W1", "f2"]}]'
  ngtt archive get --device dev1     # [{"interval": 600, "pathpoints": ["W1", "f2"]}]
  ngtt archive clear --device dev1

`set` replaces the settings; entries with the same interval are merged, and a pathpoint may
be archived at one interval only. Intervals are seconds. --admin defaults to
http://127.0.0.1:2406; the token comes from --admin-token-file, NGTT_ADMIN_TOKEN_FILE, NGTT_ADMIN_TOKEN or ./ngtt.db.admin-token."#;

/// `ngtt archive ...`.
#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Print a device's archive settings (one JSON list).
    #[command(after_help = "Example:\n  ngtt archive get --device dev1")]
    Get {
        #[command(flatten)]
        to: DeviceTarget,
    },

    /// Replace a device's archive settings; prints them as stored.
    #[command(after_help = "Example:\n  ngtt archive set --device dev1 \
                            --json '[{\"interval\": 60, \"pathpoints\": [\"W1\"]}]'")]
    Set {
        #[command(flatten)]
        to: DeviceTarget,
        /// The settings, JSON: `[{"interval": seconds, "pathpoints": [names]}]`.
        #[arg(long, value_name = "JSON")]
        json: String,
    },

    /// Remove all of a device's archive settings.
    #[command(after_help = "Example:\n  ngtt archive clear --device dev1")]
    Clear {
        #[command(flatten)]
        to: DeviceTarget,
    },
}

async fn run_async(command: &ArchiveCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let answer = match command {
        ArchiveCommand::Get { to } => to.call(Method::GET, &["archives"], None).await?,
        ArchiveCommand::Set { to, json } => {
            let settings: Value = serde_json::from_str(json)
                .map_err(|e| CliError::Admin(format!("--json is not JSON: {e}")))?;
            to.call(Method::PUT, &["archives"], Some(settings)).await?
        }
        ArchiveCommand::Clear { to } => to.call(Method::DELETE, &["archives"], None).await?,
    };
    line(out, &answer.to_string())
}

/// Runs `ngtt archive ...`.
pub fn run(command: &ArchiveCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    runtime.block_on(run_async(command, out))
}
