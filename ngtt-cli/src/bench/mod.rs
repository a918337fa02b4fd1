//! `ngtt bench`: load generators. `ngtt bench fleet` runs N simulated devices (each with its own
//! certificate, spread over worker processes) against a server, or several server nodes on one
//! PostgreSQL schema, and reports what a fleet costs them; `--mqtt` measures the same idle fleet
//! against a Mosquitto broker of its own; `--compare` runs SQLite, one and two PostgreSQL nodes
//! back to back.

mod admin;
mod broker;
mod compare;
mod device;
mod mqtt;
mod nodes;
mod phase_kill;
mod phase_orders;
mod phase_uploads;
mod phases;
mod proc;
mod report;
mod server;
mod upload;
mod wire;
mod worker;
mod workers;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::error::CliError;

/// Examples shown by `ngtt bench --help`.
pub const EXAMPLES: &str = "\
Examples:
  ngtt bench fleet --devices 1000                     # starts its own ngtt serve on loopback
  ngtt bench fleet --devices 19900 --json             # spread over worker processes
  ngtt bench fleet --devices 5000 --mqtt              # and the same idle fleet against Mosquitto
  ngtt bench fleet --devices 1000 --db 'postgres://postgres@127.0.0.1/test?schema=bench'
  ngtt bench fleet --devices 2000 --nodes 2 --db 'postgres://postgres@127.0.0.1/test?schema=bench2'
  ngtt bench fleet --devices 2000 --compare --db 'postgres://postgres@127.0.0.1/test?schema=cmp'
      # SQLite 1 node, PostgreSQL 1 node (schema cmp_n1), 2 nodes with twice the devices (cmp_n2)
  ngtt bench fleet --devices 1000 --pki pki --server 127.0.0.1:2405 \\
      --admin http://127.0.0.1:2406 --pid $(pidof ngtt)   # a running server (no storm)
  ngtt bench fleet --devices 19900 --id-prefix b --pki pki --server 127.0.0.1:3405 \\
      --admin http://127.0.0.1:3406 --pid 4242            # at once, another node's own fleet

The admin token comes from --admin-token-file, NGTT_ADMIN_TOKEN_FILE or NGTT_ADMIN_TOKEN (a server the bench starts gets
one of its own). Only loopback addresses are used.";

/// Device id prefix by default: device ids `fleet-0`, `fleet-1`, ...
pub const DEFAULT_PREFIX: &str = "fleet";

/// A device id prefix: 1 to 32 ASCII letters, digits and `-` (it becomes a certificate's CN).
fn parse_prefix(value: &str) -> Result<String, String> {
    if (1..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(value.to_owned())
    } else {
        Err("1 to 32 ASCII letters, digits and '-'".into())
    }
}

/// Most devices one run may simulate.
pub const MAX_DEVICES: usize = 100_000;

/// Most server nodes one run may start.
pub const MAX_NODES: i64 = 8;

/// `ngtt bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// N simulated devices against a server: connect rate, memory and CPU per connection,
    /// order latency, fan-out, a reconnect storm; optionally against Mosquitto too.
    #[command(after_help = EXAMPLES)]
    Fleet(Box<FleetArgs>),

    /// One worker process of `ngtt bench fleet` (started by it).
    #[command(name = "fleet-worker", hide = true)]
    FleetWorker(worker::WorkerArgs),
}

/// `ngtt bench fleet` options.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Simulated devices (device ids `fleet-0`, `fleet-1`, ..., see `--id-prefix`), spread
    /// over the nodes (device i's home node is i mod nodes). With --compare, per node.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=MAX_DEVICES as i64))]
    devices: u32,
    /// Device id prefix: device ids `PREFIX-0`, `PREFIX-1`, ... Two runs at once against the
    /// nodes of one database need different prefixes (the same id on two nodes is a takeover).
    #[arg(long = "id-prefix", value_name = "PREFIX", default_value = DEFAULT_PREFIX, value_parser = parse_prefix)]
    id_prefix: String,
    /// Devices per worker process (each process needs one file descriptor per device).
    #[arg(long = "per-process", value_name = "N", default_value_t = workers::DEFAULT_PER_PROCESS)]
    per_process: usize,
    /// NGTT address of a running server (default: start `ngtt serve` on loopback).
    #[arg(long, value_name = "ADDR", requires_all = ["admin", "pki"])]
    server: Option<SocketAddr>,
    /// Admin API of the running server.
    #[arg(long, value_name = "URL", requires = "server")]
    admin: Option<String>,
    /// The `ngtt` executable the bench runs as its local server (default: this one): another
    /// build measured with the same load generator, for a before/after in one run.
    #[arg(long = "server-exe", value_name = "PATH", conflicts_with = "server")]
    server_exe: Option<PathBuf>,
    /// Process id of the running server, for its memory and CPU (`/proc/PID`).
    #[arg(long, value_name = "PID", requires = "server")]
    pid: Option<u32>,
    /// The database of the server the bench starts: a PostgreSQL URL (postgres://…, with
    /// ?schema=NAME) instead of a SQLite file in a temporary directory.
    #[arg(long, value_name = "URL", conflicts_with = "server")]
    db: Option<String>,
    /// PKI directory (made by `ngtt pki init`) whose CA the server trusts; the devices'
    /// certificates are issued from it. Default: a new one in a temporary directory.
    #[arg(long, value_name = "DIR")]
    pki: Option<PathBuf>,
    /// File holding the admin API token of a running server (as written by `ngtt serve`
    /// beside its database) [env: NGTT_ADMIN_TOKEN_FILE, or the token in NGTT_ADMIN_TOKEN].
    #[arg(long = "admin-token-file", value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
    /// Admin API token on the command line (deprecated: it shows in `ps`).
    #[arg(long = "admin-token", value_name = "TOKEN", hide = true)]
    admin_token: Option<String>,
    /// Paced orders for the latency figure (one at a time). The default, 1 000, makes the p99
    /// the 10th-worst sample: of 200 it was the 2nd-worst, so one scheduler or fsync tail in the
    /// run decided it.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    orders: u32,
    /// Write one CSV line per paced order to PATH (`sent_unix_ns,admin_ms,device_ms`: when the
    /// admin request was sent, when its `201` came and when the device read the ORDER, in ms
    /// after sending; `device_ms` empty for a lost order), to see when the slow ones were.
    #[arg(long = "paced-log", value_name = "PATH")]
    paced_log: Option<std::path::PathBuf>,
    /// Pace of those orders, per second (each at a random instant of its slot of 1/rate s).
    #[arg(long, value_name = "PER_SEC", default_value_t = 100.0)]
    rate: f64,
    /// Seconds of idleness over which the server's CPU is measured. Devices ping after 30 s of
    /// silence, so a window shorter than 30 s sees no ping at all; the default holds one
    /// keepalive round at the server's default pace (60 s), two when answers are not held.
    #[arg(long = "idle-secs", value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_secs: u64,
    /// Seconds the fleet idles, after every device's keepalive was answered, before the idle
    /// window: the tail of the connection wave (device records, leases and first order claims,
    /// which trail the handshakes the connect time counts) is not idleness (issue 11,
    /// docs/benchmarks.md). With answers held longer than 30 s (`--ping-answer-delay`), 30 s
    /// plus the delay more, so that the window sees the fleet's steady pace.
    #[arg(long = "settle-secs", value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=600))]
    settle_secs: u64,
    /// Skip the fan-out (one order to each device).
    #[arg(long = "no-fanout")]
    no_fanout: bool,
    /// Seconds the local server holds its answers to keepalive PINGs (`ngtt serve
    /// --ping-answer-delay`, passed to it; 0: at once): an idle device then pings every
    /// max(30, N) s.
    #[arg(long = "ping-answer-delay", value_name = "SECS",
          default_value_t = ngtt_server::DEFAULT_PING_ANSWER_DELAY.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=60))]
    ping_answer_delay: u64,
    /// Orders per admin request in the fan-out: batches through `POST /v1/orders` (one commit
    /// each), or 1 for one `POST /v1/devices/{id}/orders` per device.
    #[arg(long = "fanout-batch", value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=ngtt_server::MAX_ORDER_BATCH as i64))]
    fanout_batch: u32,
    /// Skip the reconnect storm (always skipped against a running server; with several nodes
    /// the killed-node phase replaces it).
    #[arg(long = "no-storm")]
    no_storm: bool,
    /// Server nodes the bench starts on the one PostgreSQL schema of --db (distinct
    /// --node-id each); each device knows them all, its home node first.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "db",
          value_parser = clap::value_parser!(u32).range(1..=MAX_NODES))]
    nodes: u32,
    /// With several nodes, skip the killed-node phase (node 0 killed with SIGKILL; how long
    /// until its devices are served again by the others).
    #[arg(long = "no-kill")]
    no_kill: bool,
    /// With PostgreSQL, the nodes' `--lease-ttl` in seconds (default: theirs, 5): how long the
    /// devices of a node cut off from the database wait for their orders (a killed node's lock
    /// tells its death at once).
    #[arg(long = "lease-ttl", value_name = "SECS", requires = "db", value_parser = crate::serve_cmd::parse_secs)]
    lease_ttl: Option<std::time::Duration>,
    /// Uploads (DATA_STREAM of 10 samples) each device sends in the confirmed-uploads phase;
    /// 0 skips it.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    uploads: u32,
    /// Uploads in flight at once per device in that phase.
    #[arg(long = "upload-window", value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    upload_window: u32,
    /// Three configurations back to back, one table with ratios: one node on SQLite, one node
    /// on PostgreSQL (--db's schema + `_n1`) and two nodes on PostgreSQL (`_n2`) with twice the
    /// devices.
    #[arg(long, requires = "db", conflicts_with_all = ["nodes", "mqtt"])]
    compare: bool,
    /// Orders queued right before the server is killed (at most one per device).
    #[arg(long = "storm-orders", value_name = "N", default_value_t = 1000)]
    storm_orders: usize,
    /// Also run the idle fleet against a Mosquitto broker of the bench's own (TLS, client
    /// certificates, keepalive 30 s).
    #[arg(long)]
    mqtt: bool,
    /// Seconds each phase may take before it is reported incomplete.
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `ngtt bench ...` (without the process's stdin lock: the worker reads its commands
/// from an async task).
pub fn run(command: &BenchCommand) -> Result<(), CliError> {
    match command {
        BenchCommand::Fleet(args) => {
            let postgres = args
                .db
                .as_deref()
                .is_some_and(ngtt_server::PostgresUrl::is_postgres);
            if (args.nodes > 1 || args.compare) && !postgres {
                return Err(CliError::Bench(
                    "--nodes and --compare need a PostgreSQL --db (postgres://…)".into(),
                ));
            }
            let runtime = crate::runtime::runtime(true)?;
            let mut out = std::io::BufWriter::new(std::io::stdout());
            if args.compare {
                let comparison = runtime.block_on(compare::run(args))?;
                if args.json {
                    comparison.write_json(&mut out)?;
                } else {
                    comparison.write_table(&mut out)?;
                }
            } else {
                let report = runtime.block_on(phases::run(args, &phases::Setup::of(args)))?;
                if args.json {
                    report.write_json(&mut out)?;
                } else {
                    report.write_table(&mut out)?;
                }
            }
            out.flush().map_err(CliError::write)
        }
        BenchCommand::FleetWorker(args) => worker::run(args),
    }
}
