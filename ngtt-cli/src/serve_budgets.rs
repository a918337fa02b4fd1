//! `ngtt serve`'s budget flags: every bound on what a device's or an operator's payload may
//! cost the server, one flag each ([`ngtt_server::Budgets`]; docs/operations.md, "Security").

use clap::Args;
use ngtt_server::Budgets;

/// The budget flags of `ngtt serve`.
#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// The most one compressed log message or exception_traceback is inflated to, in bytes;
    /// beyond, it is stored as sent.
    #[arg(long = "max-inflated-field", value_name = "BYTES", default_value_t = ngtt_server::DEFAULT_INFLATED_PER_FIELD)]
    max_inflated_field: usize,
    /// The most inflated per LOGS frame or device_logs request, all records together, in bytes.
    #[arg(long = "max-inflated-request", value_name = "BYTES", default_value_t = ngtt_server::DEFAULT_INFLATED_PER_REQUEST)]
    max_inflated_request: usize,
    /// The most inflated per device and minute (NGTT and HTTP together), in bytes.
    #[arg(long = "max-inflated-per-minute", value_name = "BYTES", default_value_t = ngtt_server::DEFAULT_INFLATED_PER_MINUTE)]
    max_inflated_per_minute: usize,
    /// Decoding a device's LOGS or DATA_STREAM frame or HTTP body may take this many times its
    /// size in memory (plus 1 MiB); more is refused before decoding.
    #[arg(long = "decode-factor", value_name = "N", default_value_t = ngtt_server::DEFAULT_DECODE_FACTOR)]
    decode_factor: usize,
    /// The same for admin API bodies (JSON documents take ~16x their size as values).
    #[arg(long = "admin-decode-factor", value_name = "N", default_value_t = ngtt_server::DEFAULT_ADMIN_DECODE_FACTOR)]
    admin_decode_factor: usize,
    /// Log records stored per transaction: a large upload is stored batch by batch.
    #[arg(long = "log-batch-records", value_name = "N", default_value_t = ngtt_server::DEFAULT_LOG_BATCH_RECORDS)]
    log_batch_records: usize,
    /// Bytes of log records stored per transaction.
    #[arg(long = "log-batch-bytes", value_name = "BYTES", default_value_t = ngtt_server::DEFAULT_LOG_BATCH_BYTES)]
    log_batch_bytes: usize,
}

impl BudgetArgs {
    /// The budgets the flags give.
    pub fn budgets(&self) -> Budgets {
        Budgets {
            inflated_per_field: self.max_inflated_field,
            inflated_per_request: self.max_inflated_request,
            inflated_per_minute: self.max_inflated_per_minute,
            decode_factor: self.decode_factor,
            admin_decode_factor: self.admin_decode_factor,
            log_batch_records: self.log_batch_records,
            log_batch_bytes: self.log_batch_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        budgets: BudgetArgs,
    }

    #[test]
    fn defaults_are_the_servers_and_each_flag_sets_its_budget() {
        let cli = Cli::parse_from(["ngtt"]);
        assert_eq!(cli.budgets.budgets(), Budgets::default());
        let cli = Cli::parse_from(["ngtt", "--decode-factor", "16", "--log-batch-records", "10"]);
        let b = cli.budgets.budgets();
        assert_eq!((b.decode_factor, b.log_batch_records), (16, 10));
        assert_eq!(b.admin_decode_factor, Budgets::default().admin_decode_factor);
    }
}
