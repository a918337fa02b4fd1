//! `ngtt pki`: a development PKI on disk (thin wrappers over `ngtt_pki::PkiDir`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use ngtt_pki::PkiDir;
use ngtt_proto::Environment;

use crate::error::CliError;

/// Examples shown by `ngtt pki --help`.
pub const EXAMPLES: &str = "\
Examples:
  ngtt pki init --dir pki --server-name ngtt.example.com
  ngtt pki device --dir pki --id boiler-7            # environment 2 (local development)
  ngtt pki device --dir pki --id boiler-8 --env 0    # production";

/// `ngtt pki ...`.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a CA (DIR/ca.pem, DIR/ca.key) and a server certificate (DIR/server.pem,
    /// DIR/server.key) valid for localhost, 127.0.0.1, ::1 and every --server-name.
    #[command(after_help = "Example:\n  ngtt pki init --dir pki --server-name ngtt.example.com")]
    Init {
        /// The PKI directory (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Another DNS name or IP address for the server certificate (repeatable).
        #[arg(long = "server-name", value_name = "NAME")]
        server_names: Vec<String>,
        /// Replace an existing CA (devices issued by the old one will no longer be trusted).
        #[arg(long)]
        force: bool,
    },

    /// Issue a device certificate signed by DIR's CA: DIR/devices/ID.pem and DIR/devices/ID.key.
    #[command(after_help = "Example:\n  ngtt pki device --dir pki --id boiler-7 --env 2")]
    Device {
        /// The PKI directory made by `ngtt pki init`.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The device id written into the certificate.
        #[arg(long, value_name = "ID")]
        id: String,
        /// Environment: 0 production, 1 staging, 2 local development.
        #[arg(long, value_name = "0|1|2", default_value_t = 2, value_parser = clap::value_parser!(i64).range(0..=2))]
        env: i64,
    },
}

fn print_paths(out: &mut dyn Write, paths: &[&Path]) -> Result<(), CliError> {
    for path in paths {
        writeln!(out, "{}", path.display()).map_err(CliError::write)?;
    }
    Ok(())
}

/// Runs `ngtt pki ...`, printing each file written on its own line.
pub fn run(command: &PkiCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match command {
        PkiCommand::Init {
            dir,
            server_names,
            force,
        } => {
            let pki = PkiDir::new(dir);
            pki.init(server_names, *force)?;
            print_paths(
                out,
                &[
                    &pki.ca_cert(),
                    &pki.ca_key(),
                    &pki.server_cert(),
                    &pki.server_key(),
                ],
            )
        }
        PkiCommand::Device { dir, id, env } => {
            let pki = PkiDir::new(dir);
            let environment = Environment::from_i64(*env).unwrap_or(Environment::LocalDevelopment);
            pki.issue_device(id, environment)?;
            print_paths(out, &[&pki.device_cert(id), &pki.device_key(id)])
        }
    }
}
