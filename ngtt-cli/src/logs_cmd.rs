//! `ngtt logs`: read a device's log records through a server's admin API, the exception
//! traceback decoded.

use std::io::Write;

use clap::Subcommand;
use reqwest::Method;

use crate::error::CliError;
use crate::order_cmd::{call, endpoint, print_list, AdminArgs};

/// Examples shown by `ngtt logs --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt logs list --admin http://127.0.0.1:2406 --device dev1
  ngtt logs list --admin http://127.0.0.1:2406 --device dev1 --limit 20 | jq -r .exception_text

One JSON object per line, oldest first: {"id", "service", "when" (µs), "level", "message",
"exception_text", "exception_traceback" (the JSON document the device sent, decoded), ...}.
The token comes from --admin-token-file, NGTT_ADMIN_TOKEN_FILE, NGTT_ADMIN_TOKEN or ./ngtt.db.admin-token."#;

/// `ngtt logs ...`.
#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Print a device's most recent log records, oldest first, one JSON object per line.
    #[command(
        after_help = "Example:\n  ngtt logs list --admin http://127.0.0.1:2406 --device dev1 --limit 20"
    )]
    List {
        #[command(flatten)]
        admin: AdminArgs,
        /// The device id.
        #[arg(long, value_name = "ID")]
        device: String,
        /// At most this many records (the most recent ones).
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
    },
}

async fn run_async(command: &LogsCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match command {
        LogsCommand::List { admin, device, limit } => {
            let mut url = endpoint(&admin.admin, &["v1", "devices", device, "logs"])?;
            url.query_pairs_mut().append_pair("limit", &limit.to_string());
            let answer = call(admin, Method::GET, url, None).await?;
            print_list(out, answer, "log records")
        }
    }
}

/// Runs `ngtt logs ...`.
pub fn run(command: &LogsCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    runtime.block_on(run_async(command, out))
}
