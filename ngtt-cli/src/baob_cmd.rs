//! `ngtt baob`: a device's BAOBs through a server's admin API (list, put, get, delete).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use crate::device_target::DeviceTarget;
use crate::error::CliError;
use crate::order_cmd::{call_as, line, refused, request};

/// Examples shown by `ngtt baob --help`.
pub const EXAMPLES: &str = r#"Examples:
  ngtt baob put --device dev1 --key firmware --file fw.bin            # version: current + 1
  ngtt baob put --device dev1 --key config --file - --version 7 < config.json
  ngtt baob list --device dev1        # one JSON object per line: key, version, size, deleted, ...
  ngtt baob get --device dev1 --key config > config.json
  ngtt baob get --device dev1 --key firmware --out fw.bin             # prints key, version, size
  ngtt baob delete --device dev1 --key config   # a tombstone: devices delete their copy

Devices learn of changes in their next BAOB round: hourly, or at once after a `sysctl
baob-updated` order. The Python client 0.21.0 stops executing orders when a sysctl is the first
order of a batch (HTTP-API.md §9), so send it after a `message` order:
  ngtt order send --device dev1 --json '[{"orders": [{"type": "message", "uuid": "baob-1"},
      {"type": "sysctl", "op_type": "baob-updated", "op_args": ""}]}]'
--admin defaults to http://127.0.0.1:2406; the token comes from --admin-token-file,
NGTT_ADMIN_TOKEN_FILE, NGTT_ADMIN_TOKEN or ./ngtt.db.admin-token."#;

/// `ngtt baob ...`.
#[derive(Debug, Subcommand)]
pub enum BaobCommand {
    /// Print a device's BAOBs (tombstones included), one JSON object per line.
    #[command(after_help = "Example:\n  ngtt baob list --device dev1")]
    List {
        #[command(flatten)]
        to: DeviceTarget,
    },

    /// Store a BAOB's contents from a file (`-` for stdin); prints its key, version and size.
    #[command(
        after_help = "Example:\n  ngtt baob put --device dev1 --key firmware --file fw.bin --version 3"
    )]
    Put {
        #[command(flatten)]
        to: DeviceTarget,
        /// The BAOB's key.
        #[arg(long, value_name = "KEY")]
        key: String,
        /// The contents (`-`: stdin).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// The version to store (must be higher than the current one); default: current + 1.
        #[arg(long, value_name = "N")]
        version: Option<u64>,
    },

    /// Write a BAOB's contents to stdout, or to --out (then print its key, version and size).
    #[command(after_help = "Example:\n  ngtt baob get --device dev1 --key config --out config.json")]
    Get {
        #[command(flatten)]
        to: DeviceTarget,
        /// The BAOB's key.
        #[arg(long, value_name = "KEY")]
        key: String,
        /// Write the contents to this file instead of stdout.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },

    /// Delete a BAOB (a tombstone is kept so that devices delete their copy).
    #[command(after_help = "Example:\n  ngtt baob delete --device dev1 --key config")]
    Delete {
        #[command(flatten)]
        to: DeviceTarget,
        /// The BAOB's key.
        #[arg(long, value_name = "KEY")]
        key: String,
    },
}

fn read_contents(file: &Path, input: &mut dyn Read) -> Result<Vec<u8>, CliError> {
    if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes).map_err(CliError::read)?;
        return Ok(bytes);
    }
    std::fs::read(file).map_err(|source| CliError::Io {
        context: "reading the BAOB file",
        source,
    })
}

/// `GET` of the contents: the bytes and the version header.
async fn fetch(to: &DeviceTarget, key: &str) -> Result<(Vec<u8>, Option<i64>), CliError> {
    let url = to.url(&["baobs", key])?;
    let response = request(&to.admin, Method::GET, url.clone())?
        .send()
        .await
        .map_err(|e| CliError::Admin(format!("{url}: {e}")))?;
    let status = response.status();
    let version = response
        .headers()
        .get("x-smok-baob-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CliError::Admin(format!("{url}: reading the answer: {e}")))?;
    if !status.is_success() {
        return Err(refused(status, &String::from_utf8_lossy(&bytes)));
    }
    Ok((bytes.to_vec(), version))
}

async fn run_async(command: &BaobCommand, input: &mut dyn Read, out: &mut dyn Write) -> Result<(), CliError> {
    match command {
        BaobCommand::List { to } => to.print(&["baobs"], out).await,
        BaobCommand::Put {
            to,
            key,
            file,
            version,
        } => {
            let bytes = read_contents(file, input)?;
            let mut url = to.url(&["baobs", key])?;
            if let Some(v) = version {
                url.query_pairs_mut().append_pair("version", &v.to_string());
            }
            let body = Some(("application/octet-stream", bytes));
            let answer = call_as(&to.admin, Method::PUT, url, body).await?;
            line(out, &answer.to_string())
        }
        BaobCommand::Get { to, key, out: path } => {
            let (bytes, version) = fetch(to, key).await?;
            let Some(path) = path else {
                return out.write_all(&bytes).map_err(CliError::write);
            };
            std::fs::write(path, &bytes).map_err(|source| CliError::Io {
                context: "writing the BAOB file",
                source,
            })?;
            let summary = json!({"key": key, "version": version, "size": bytes.len()});
            line(out, &summary.to_string())
        }
        BaobCommand::Delete { to, key } => {
            let answer = to.call(Method::DELETE, &["baobs", key], None).await?;
            line(out, &answer.to_string())
        }
    }
}

/// Runs `ngtt baob ...`; `input` is read for `--file -`.
pub fn run(command: &BaobCommand, input: &mut dyn Read, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = crate::runtime::runtime(false)?;
    runtime.block_on(run_async(command, input, out))
}
