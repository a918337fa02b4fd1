//! `ngtt`: the command-line tool of the NGTT workspace.
//!
//! It runs the whole system (`demo`), a server (`serve`, with `pki` for certificates and `order`
//! for its admin API) and a device (`device`), and inspects MiniJSON documents and NGTT frame
//! streams. Each subcommand is a variant of [`Command`] with its own module and a `run`
//! function returning `Result<(), CliError>`.
//!
//! Exit statuses: 0 success, 1 bad input (or an I/O error), 2 usage error (clap's default).
//! Only the command's output goes to stdout; diagnostics go to stderr as `ngtt: <message>`.

mod admin_json;
mod admin_token;
mod archive_cmd;
mod baob_cmd;
mod bench;
mod demo;
mod device_cmd;
mod device_info_cmd;
mod device_target;
mod error;
mod event_cmd;
mod frame_cmd;
mod instrumentation_cmd;
mod io;
mod logs_cmd;
mod macro_cmd;
mod metadata_cmd;
mod minijson_cmd;
mod order_cmd;
mod pki_cmd;
mod predicate_cmd;
mod runtime;
mod sensor_cmd;
mod sensor_write_cmd;
mod serve_cmd;

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::device_cmd::DeviceArgs;
use crate::error::{CliError, PREFIX};
use crate::frame_cmd::FrameCommand;
use crate::minijson_cmd::MinijsonCommand;
use crate::order_cmd::OrderCommand;
use crate::pki_cmd::PkiCommand;
use crate::serve_cmd::ServeArgs;

/// Examples shown by `ngtt --help`.
const EXAMPLES: &str = "\
Examples:
  ngtt demo                                          # the whole system on loopback
  ngtt pki init --dir pki && ngtt serve --pki pki    # a server
  echo '{\"a\":1}' | ngtt minijson encode --hex       # 5101610301
  echo 5101610301 | ngtt minijson decode --hex       # {\"a\":1}
  echo '00000000 0001 0000' | ngtt frame decode --hex

Exit status: 0 success, 1 bad input, 2 usage error.";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "ngtt",
    version,
    about = "NGTT: run a server and devices, demonstrate them, inspect MiniJSON and frames",
    long_about = "NGTT: run a server and devices, demonstrate them, inspect MiniJSON and frames.\n\n\
                  Commands write their output to stdout; problems are reported on stderr \
                  as one line starting with `ngtt:`.",
    after_help = EXAMPLES
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The top-level subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Convert between JSON and MiniJSON.
    #[command(subcommand)]
    Minijson(MinijsonCommand),

    /// Decode streams of NGTT frames.
    #[command(subcommand)]
    Frame(FrameCommand),

    /// Make a development PKI: a CA, a server certificate, device certificates.
    #[command(subcommand, after_help = pki_cmd::EXAMPLES)]
    Pki(PkiCommand),

    /// Run an NGTT server with its admin API and the device HTTP API.
    #[command(after_help = serve_cmd::EXAMPLES)]
    Serve(Box<ServeArgs>),

    /// Queue orders and read their state through a server's admin API.
    #[command(subcommand, after_help = order_cmd::EXAMPLES)]
    Order(OrderCommand),

    /// Read a device's log records through a server's admin API (tracebacks decoded).
    #[command(subcommand, after_help = logs_cmd::EXAMPLES)]
    Logs(logs_cmd::LogsCommand),

    /// A device's BAOBs (versioned binary objects): list, put, get, delete.
    #[command(subcommand, after_help = baob_cmd::EXAMPLES)]
    Baob(baob_cmd::BaobCommand),

    /// A device's macros (scheduled writes) and their occurrences: put, list, get, delete.
    #[command(subcommand, after_help = macro_cmd::EXAMPLES)]
    Macro(macro_cmd::MacroCommand),

    /// A device's archive settings (pathpoints read periodically): get, set, clear.
    #[command(subcommand, after_help = archive_cmd::EXAMPLES)]
    Archive(archive_cmd::ArchiveCommand),

    /// A device's plain metadata (string keys and values): list, get, set, delete.
    #[command(subcommand, after_help = metadata_cmd::EXAMPLES)]
    Metadata(metadata_cmd::MetadataCommand),

    /// Connect to a server as a device: print orders, upload data and logs read from stdin.
    Device(DeviceArgs),

    /// A device's information (verbose name, facets, culture context, slave devices).
    #[command(name = "device-info", subcommand, after_help = device_info_cmd::EXAMPLES)]
    DeviceInfo(device_info_cmd::DeviceInfoCommand),

    /// A device's sensors.
    #[command(subcommand, after_help = sensor_cmd::EXAMPLES)]
    Sensor(sensor_cmd::SensorCommand),

    /// The sensor write log devices upload.
    #[command(name = "sensor-write", subcommand, after_help = sensor_write_cmd::EXAMPLES)]
    SensorWrite(sensor_write_cmd::SensorWriteCommand),

    /// A device's predicates, with silencing.
    #[command(subcommand, after_help = predicate_cmd::EXAMPLES)]
    Predicate(predicate_cmd::PredicateCommand),

    /// The events (alarms) devices reported: list and close them.
    #[command(subcommand, after_help = event_cmd::EXAMPLES)]
    Event(event_cmd::EventCommand),

    /// A slave device's link state and instrumentation.
    #[command(subcommand, after_help = instrumentation_cmd::EXAMPLES)]
    Instrumentation(instrumentation_cmd::InstrumentationCommand),

    /// Run the whole system on loopback, NGTT against HTTP polling, and print what it cost.
    #[command(after_help = demo::EXAMPLES)]
    Demo(demo::DemoArgs),

    /// Load generators: `ngtt bench fleet` runs N simulated devices against a server.
    #[command(subcommand, after_help = bench::EXAMPLES)]
    Bench(bench::BenchCommand),
}

/// Runs `command` on the process's stdin, stdout and stderr.
fn run(command: &Command) -> Result<(), CliError> {
    // `device` reads stdin and writes stdout from async tasks: it must run without the locks.
    if let Command::Device(args) = command {
        return device_cmd::run(args);
    }
    // `bench fleet-worker` reads its commands from stdin in an async task.
    if let Command::Bench(cmd) = command {
        return bench::run(cmd);
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut output = BufWriter::new(std::io::stdout().lock());
    // Not locked: `serve` logs to stderr from other threads while this one waits.
    let mut diag = std::io::stderr();
    let result = match command {
        Command::Minijson(cmd) => minijson_cmd::run(cmd, &mut input, &mut output),
        Command::Frame(cmd) => frame_cmd::run(cmd, &mut input, &mut output, &mut diag),
        Command::Pki(cmd) => pki_cmd::run(cmd, &mut output),
        Command::Serve(args) => serve_cmd::run(args, &mut output),
        Command::Order(cmd) => order_cmd::run(cmd, &mut input, &mut output),
        Command::Logs(cmd) => logs_cmd::run(cmd, &mut output),
        Command::Baob(cmd) => baob_cmd::run(cmd, &mut input, &mut output),
        Command::Macro(cmd) => macro_cmd::run(cmd, &mut output),
        Command::Archive(cmd) => archive_cmd::run(cmd, &mut output),
        Command::Metadata(cmd) => metadata_cmd::run(cmd, &mut output),
        Command::Device(_) => Ok(()), // run above, before the locks
        Command::DeviceInfo(cmd) => device_info_cmd::run(cmd, &mut input, &mut output),
        Command::Sensor(cmd) => sensor_cmd::run(cmd, &mut input, &mut output),
        Command::SensorWrite(cmd) => sensor_write_cmd::run(cmd, &mut output),
        Command::Predicate(cmd) => predicate_cmd::run(cmd, &mut input, &mut output),
        Command::Event(cmd) => event_cmd::run(cmd, &mut output),
        Command::Instrumentation(cmd) => instrumentation_cmd::run(cmd, &mut output),
        Command::Demo(args) => demo::run(args, &mut output),
        Command::Bench(_) => Ok(()), // run above, before the locks
    };
    // Flush even after an error, so that the output produced before it is kept.
    let flushed = output.flush().map_err(CliError::write);
    result.and(flushed)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{PREFIX}{err}");
            ExitCode::from(err.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
