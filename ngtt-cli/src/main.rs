//! `ngtt`: the command-line tool of the NGTT workspace.
//!
//! Today it inspects MiniJSON documents and NGTT frame streams; further subcommands (`pki`,
//! `serve`, `order`, `device`, `demo`) are added as variants of [`Command`], each in its own
//! module with a `run` function returning `Result<(), CliError>`.
//!
//! Exit statuses: 0 success, 1 bad input (or an I/O error), 2 usage error (clap's default).
//! Only the command's output goes to stdout; diagnostics go to stderr as `ngtt: <message>`.

mod error;
mod frame_cmd;
mod io;
mod minijson_cmd;

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{CliError, PREFIX};
use crate::frame_cmd::FrameCommand;
use crate::minijson_cmd::MinijsonCommand;

/// Examples shown by `ngtt --help`.
const EXAMPLES: &str = "\
Examples:
  echo '{\"a\":1}' | ngtt minijson encode --hex       # 5101610301
  echo 5101610301 | ngtt minijson decode --hex       # {\"a\":1}
  echo '00000000 0001 0000' | ngtt frame decode --hex

Exit status: 0 success, 1 bad input, 2 usage error.";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "ngtt",
    version,
    about = "Inspect MiniJSON documents and NGTT frame streams",
    long_about = "Inspect MiniJSON documents and NGTT frame streams.\n\n\
                  Every command reads stdin and writes stdout; problems are reported on stderr \
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
}

/// Runs `command` on the process's stdin, stdout and stderr.
fn run(command: &Command) -> Result<(), CliError> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut output = BufWriter::new(std::io::stdout().lock());
    let stderr = std::io::stderr();
    let mut diag = stderr.lock();
    let result = match command {
        Command::Minijson(cmd) => minijson_cmd::run(cmd, &mut input, &mut output),
        Command::Frame(cmd) => frame_cmd::run(cmd, &mut input, &mut output, &mut diag),
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
