//! `ngtt device`: connect to an NGTT server as a device.
//!
//! Orders are printed on stdout as JSON lines and answered (confirmed, or as `--exec` says);
//! stdin lines are uploaded as pathpoint data or queued as logs, each answered by one JSON line
//! on stdout. Diagnostics (tracing) go to stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ngtt_proto::payload::{LogRecord, PathpointSeries};
use ngtt_transport::{Config, Orders, Transport, TransportError};
use serde_json::{json, Value as Json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::error::CliError;

/// How long closing may spend writing what is still queued.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Shown by `ngtt device --help`.
const DEVICE_HELP: &str = "\
stdin, one JSON document per line:
  [{\"path\": \"W1\", \"values\": [[1700000000000, 5]]}, ...]
      pathpoint series: uploaded; prints {\"upload\":\"confirmed\",\"line\":N} or
      {\"upload\":\"rejected\",\"reason\":...,\"line\":N} once the server answers
  [{\"service\": \"boiler\", \"message\": \"started\", \"level\": 20, \"when\": MICROS}, ...]
      log records (level and when may be left out): queued; prints {\"logs\":\"queued\",\"count\":N}
At end of input: waits for pending uploads, closes the connection cleanly, exits 0.

stdout: one JSON line per order, {\"tid\": N, \"sections\": [...]}, and one per input line.

Example:
  echo '[{\"path\":\"W1\",\"values\":[[1700000000000,5]]}]' |
    ngtt device --server 127.0.0.1:2405 --ca ca.pem --cert dev.pem --key dev.key \\
      --exec 'jq -c . >> orders.log'";

/// Arguments of `ngtt device`.
#[derive(Debug, clap::Args)]
#[command(after_help = DEVICE_HELP)]
pub struct DeviceArgs {
    /// Server address: HOST, HOST:PORT or [IPv6]:PORT (port 2405 when left out). Repeat it
    /// (or separate addresses with commas) for several server nodes: they are tried in turn,
    /// moving to the next one when a connection fails or drops.
    #[arg(long, value_name = "ADDR", required = true)]
    server: Vec<String>,

    /// Name every server certificate must be valid for [default: each server's own host].
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,

    /// CA certificate(s) the server certificate must chain to (PEM file).
    #[arg(long, value_name = "PEM")]
    ca: PathBuf,

    /// The device certificate, with any intermediates (PEM file).
    #[arg(long, value_name = "PEM")]
    cert: PathBuf,

    /// The device's private key (PEM file).
    #[arg(long, value_name = "PEM")]
    key: PathBuf,

    /// Do not ask for orders (a data-only device: no FETCH_ORDERS).
    #[arg(long)]
    no_orders: bool,

    /// For each order, run CMD with `sh -c`, the order's JSON line on its stdin (its stdout
    /// goes to stderr); confirm the order when CMD exits 0, reject it otherwise. Without it,
    /// every order is confirmed once printed.
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
}

/// Runs `ngtt device` until stdin ends.
pub fn run(args: &DeviceArgs) -> Result<(), CliError> {
    crate::runtime::init_logging();
    let runtime = crate::runtime::runtime(true)?;
    runtime.block_on(device(args))
}

fn read_pem(path: &Path) -> Result<String, TransportError> {
    std::fs::read_to_string(path).map_err(|e| TransportError::Config(format!("{}: {e}", path.display())))
}

async fn device(args: &DeviceArgs) -> Result<(), CliError> {
    let mut config = Config::new(
        &args.server.join(","),
        read_pem(&args.ca)?,
        read_pem(&args.cert)?,
        read_pem(&args.key)?,
    )?
    .with_fetch_orders(!args.no_orders);
    if let Some(name) = &args.server_name {
        config = config.with_server_name(name.clone());
    }
    let (transport, orders) = Transport::spawn(config)?;
    info!(device_id = %transport.device_identity().device_id, server = %args.server.join(","), "device started");
    let order_task = tokio::spawn(serve_orders(orders, args.exec.clone()));

    let mut uploads = JoinSet::new();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut clock = LogClock::default();
    let mut line_no = 0u64;
    while let Some(line) = lines.next_line().await.map_err(CliError::read)? {
        line_no += 1;
        while uploads.try_join_next().is_some() {} // reap the finished ones
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line, &mut clock) {
            Ok(Input::Series(series)) => {
                let upload = transport.sync_pathpoints(series);
                uploads.spawn(async move { emit(&upload_result(upload.await, line_no)) });
            }
            Ok(Input::Logs(records)) => {
                let count = records.len();
                transport.send_logs(records);
                emit(&json!({"logs": "queued", "count": count}));
            }
            Err(reason) => emit(&json!({"error": reason, "line": line_no})),
        }
    }
    info!(pending = uploads.len(), "end of input: finishing uploads");
    while uploads.join_next().await.is_some() {}
    let outcome = transport.close(CLOSE_TIMEOUT).await;
    info!(?outcome, "closed");
    order_task.abort();
    Ok(())
}

/// Writes one JSON line on stdout (the lock keeps lines whole).
fn emit(value: &Json) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}").and_then(|()| out.flush());
}

fn upload_result(result: Result<(), TransportError>, line: u64) -> Json {
    match result {
        Ok(()) => json!({"upload": "confirmed", "line": line}),
        Err(TransportError::Refused { reason }) => {
            json!({"upload": "rejected", "reason": reason, "line": line})
        }
        Err(e) => json!({"upload": "failed", "error": e.to_string(), "line": line}),
    }
}

/// Prints, runs and answers orders until the transport closes.
async fn serve_orders(mut orders: Orders, exec: Option<String>) {
    while let Some(order) = orders.recv().await {
        let sections =
            minijson::from_slice::<minijson::Value>(order.payload()).map_or(Json::Null, Json::from);
        let line = json!({"tid": order.tid(), "sections": sections});
        emit(&line);
        let confirm = match &exec {
            None => true,
            Some(command) => run_exec(command, &line).await,
        };
        let tid = order.tid();
        let answer = if confirm {
            order.ack().await
        } else {
            order.nack().await
        };
        match answer {
            Ok(()) => info!(tid, confirmed = confirm, "order answered"),
            Err(e) => warn!(tid, error = %e, "order not answered"),
        }
    }
}

/// Runs `sh -c command` with `order` on stdin; true when it exits 0.
async fn run_exec(command: &str, order: &Json) -> bool {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::from(std::io::stderr()))
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            warn!(error = %e, "cannot run --exec command: rejecting the order");
            return false;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // The command may not read its input: a broken pipe is fine.
        let _ = stdin.write_all(format!("{order}\n").as_bytes()).await;
    }
    match child.wait().await {
        Ok(status) if status.success() => true,
        Ok(status) => {
            info!(%status, "--exec command failed: rejecting the order");
            false
        }
        Err(e) => {
            warn!(error = %e, "waiting for --exec command failed: rejecting the order");
            false
        }
    }
}

/// What an input line asks for.
#[derive(Debug)]
enum Input {
    Series(Vec<PathpointSeries>),
    Logs(Vec<LogRecord>),
}

/// Gives log records without `when` a time: now in microseconds, strictly increasing.
#[derive(Debug, Default)]
struct LogClock {
    last: u64,
}

impl LogClock {
    fn next(&mut self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.last = now.max(self.last.saturating_add(1));
        self.last
    }
}

/// Reads a line: a JSON list of pathpoint series (objects with "path") or of log records
/// (objects with "service").
fn parse_line(line: &str, clock: &mut LogClock) -> Result<Input, String> {
    let value: Json = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Json::Array(items) = value else {
        return Err("expected a JSON list of pathpoint series or log records".into());
    };
    let first = items.first().ok_or("empty list: nothing to send")?;
    if first.get("path").is_some() {
        let series = serde_json::from_value(Json::Array(items))
            .map_err(|e| format!("invalid pathpoint series: {e}"))?;
        return Ok(Input::Series(series));
    }
    if first.get("service").is_none() {
        return Err(
            "list items must be pathpoint series (with \"path\") or log records (with \"service\")".into(),
        );
    }
    let records = items
        .into_iter()
        .map(|mut item| {
            if let Json::Object(map) = &mut item {
                map.entry("when").or_insert_with(|| json!(clock.next()));
                map.entry("level").or_insert(json!(20));
            }
            serde_json::from_value::<LogRecord>(item).map_err(|e| format!("invalid log record: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Input::Logs(records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_lines() {
        let mut clock = LogClock::default();
        let series = parse_line(
            r#"[{"path":"W1","values":[[1000,5],[false,2000,"timeout"]]}]"#,
            &mut clock,
        );
        assert!(matches!(series, Ok(Input::Series(s)) if s[0].values.len() == 2));
        let logs = parse_line(
            r#"[{"service":"a","message":"x"},{"service":"b","message":"y","level":40}]"#,
            &mut clock,
        );
        let Ok(Input::Logs(records)) = logs else {
            panic!("{logs:?}")
        };
        assert!(records[0].when < records[1].when, "strictly increasing");
        assert_eq!((records[0].level.0, records[1].level.0), (20, 40));
        for bad in [
            "{}",
            "[]",
            "[1]",
            "[{\"x\":1}]",
            "[{\"path\":1}]",
            "[{\"service\":\"a\"}]",
            "nope",
        ] {
            assert!(parse_line(bad, &mut clock).is_err(), "{bad}");
        }
    }

    #[test]
    fn upload_results() {
        assert_eq!(
            upload_result(Ok(()), 3),
            json!({"upload": "confirmed", "line": 3})
        );
        let refused = TransportError::Refused {
            reason: Some("no".into()),
        };
        assert_eq!(
            upload_result(Err(refused), 4),
            json!({"upload": "rejected", "reason": "no", "line": 4})
        );
        assert_eq!(upload_result(Err(TransportError::Closed), 5)["upload"], "failed");
    }
}
