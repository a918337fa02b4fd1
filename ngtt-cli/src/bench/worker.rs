//! `ngtt bench fleet-worker` (hidden): one process of simulated devices, driven by the
//! orchestrator over stdin and reporting over stdout, one line per event:
//!
//! * out: `ready <ms>` (certificates issued), `u <idx> <node> <ns>`, `d <idx>`,
//!   `o <idx> <seq> <ns>`, `p` (a keepalive answered), `U <idx> <confirmed> <rejected> <ns>`
//!   (every upload the device owed answered), `b <bytes out> <bytes in>`;
//! * in: `go` (connect), `ping` (every device sends a keepalive now), `bytes`,
//!   `upload <count> <window> <idx,idx,... or ->` (each device, or each of those, owes `count`
//!   more uploads, `window` in flight); end of input ends the process.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use ngtt_net::tls::{self, PemIdentity};
use ngtt_pki::PkiDir;
use ngtt_proto::Environment;
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, watch, Semaphore};

use super::device::{self, Event, Protocol, Shared};
use super::upload::UploadJob;
use super::wire::Counters;
use crate::error::CliError;

/// `ngtt bench fleet-worker` options (set by the orchestrator).
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// PKI directory holding the CA that issues the devices' certificates.
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// Server node addresses, in node order (or the MQTT broker's).
    #[arg(long, value_name = "ADDR", required = true)]
    pub server: Vec<SocketAddr>,
    /// Device id prefix (device ids are `<prefix>-<index>`).
    #[arg(long, value_name = "PREFIX", default_value = super::DEFAULT_PREFIX)]
    pub prefix: String,
    /// Index of the first device (device ids are `<prefix>-<index>`).
    #[arg(long, value_name = "N")]
    pub first: usize,
    /// Number of devices.
    #[arg(long, value_name = "N")]
    pub count: usize,
    /// Loopback source address to connect from (the first of `--sources`).
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub source: IpAddr,
    /// Consecutive source addresses the devices are spread over.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub sources: u32,
    /// Speak MQTT instead of NGTT.
    #[arg(long)]
    pub mqtt: bool,
    /// TLS handshakes in progress at once.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub handshakes: usize,
}

/// The device id of device `idx` of the fleet whose ids start with `prefix`.
pub fn device_id(prefix: &str, idx: usize) -> String {
    format!("{prefix}-{idx}")
}

fn bench_error(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Bench(format!("{what}: {e}"))
}

/// Issues each device's certificate (a key of its own) and makes its TLS configuration.
fn client_configs(args: &WorkerArgs) -> Result<Vec<Arc<rustls::ClientConfig>>, CliError> {
    let pki = PkiDir::new(&args.pki);
    let ca = pki.ca()?;
    let ca_pem = pki.read(&pki.ca_cert())?;
    (args.first..args.first + args.count)
        .map(|idx| {
            let device = ca.issue_device(&device_id(&args.prefix, idx), Environment::LocalDevelopment)?;
            let roots = tls::roots([ca_pem.as_str()], "CA").map_err(|e| bench_error("CA", e))?;
            let identity = PemIdentity {
                cert_pem: &device.cert_pem,
                key_pem: &device.key_pem,
                name: "device",
            };
            let config = tls::client_config(roots, Some(identity)).map_err(|e| bench_error("TLS", e))?;
            Ok(Arc::new(config))
        })
        .collect()
}

/// Runs the worker until its stdin ends.
pub fn run(args: &WorkerArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let configs = client_configs(args)?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready {}", started.elapsed().as_millis()).map_err(CliError::write)?;
    stdout.flush().map_err(CliError::write)?;
    let runtime = crate::runtime::runtime(false)?;
    runtime.block_on(drive(args, configs))
}

async fn drive(args: &WorkerArgs, configs: Vec<Arc<rustls::ClientConfig>>) -> Result<(), CliError> {
    let (events, mut rx) = mpsc::unbounded_channel();
    let (ping_tx, ping_now) = watch::channel(0u64);
    let (upload_tx, uploads) = watch::channel(UploadJob::default());
    let shared = Arc::new(Shared {
        servers: args.server.clone(),
        source: args.source,
        sources: args.sources.max(1),
        counters: Arc::new(Counters::default()),
        handshakes: Semaphore::new(args.handshakes.max(1)),
        events,
        ping_now,
        uploads,
    });
    let protocol = if args.mqtt { Protocol::Mqtt } else { Protocol::Ngtt };
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut configs = Some(configs);
    let mut out = std::io::BufWriter::new(std::io::stdout());
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { break };
                match line.trim() {
                    "go" => {
                        for (i, config) in configs.take().into_iter().flatten().enumerate() {
                            tokio::spawn(device::run(shared.clone(), args.first + i, config, protocol));
                        }
                    }
                    "ping" => {
                        ping_tx.send_modify(|n| *n += 1);
                    }
                    command if command.starts_with("upload ") => {
                        if let Some(job) = parse_upload(command) {
                            upload_tx.send_modify(|j| {
                                *j = UploadJob { generation: j.generation + 1, ..job };
                            });
                        }
                    }
                    "bytes" => {
                        let c = &shared.counters;
                        writeln!(out, "b {} {}", c.out.load(Ordering::Relaxed), c.inb.load(Ordering::Relaxed))
                            .map_err(CliError::write)?;
                    }
                    _ => {}
                }
            }
            Some(event) = rx.recv() => {
                write_event(&mut out, &event)?;
                // Drain what is already queued before flushing: one write for a burst.
                while let Ok(event) = rx.try_recv() {
                    write_event(&mut out, &event)?;
                }
            }
        }
        out.flush().map_err(CliError::write)?;
    }
    Ok(())
}

fn write_event(out: &mut dyn Write, event: &Event) -> Result<(), CliError> {
    match event {
        Event::Up(idx, node, at) => writeln!(out, "u {idx} {node} {at}"),
        Event::Down(idx) => writeln!(out, "d {idx}"),
        Event::Order(idx, seq, at) => writeln!(out, "o {idx} {seq} {at}"),
        Event::Pong => writeln!(out, "p"),
        Event::Uploaded(idx, confirmed, rejected, at) => {
            writeln!(out, "U {idx} {confirmed} {rejected} {at}")
        }
    }
    .map_err(CliError::write)
}

/// Parses `upload <count> <window> <idx,idx,... or ->`.
fn parse_upload(command: &str) -> Option<UploadJob> {
    let mut parts = command.split_whitespace().skip(1);
    let count = parts.next()?.parse().ok()?;
    let window = parts.next()?.parse().ok()?;
    let only = match parts.next()? {
        "-" => None,
        list => {
            let mut only: Vec<usize> = list.split(',').map(|i| i.parse().ok()).collect::<Option<_>>()?;
            only.sort_unstable();
            Some(only.into())
        }
    };
    Some(UploadJob {
        generation: 0,
        count,
        window,
        only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_commands_are_parsed() {
        let job = parse_upload("upload 20 8 -").expect("valid");
        assert_eq!((job.count, job.window, job.only), (20, 8, None));
        let job = parse_upload("upload 1 1 9,3,5").expect("valid");
        assert_eq!(job.only.as_deref(), Some(&[3, 5, 9][..]));
        assert_eq!(parse_upload("upload 1 1 3,x"), None);
        assert_eq!(parse_upload("upload 1 x -"), None);
        assert_eq!(parse_upload("upload 1 1"), None);
    }
}
