//! [`Budgets`]: the server's bounds on what a peer's payload may cost it, in one place
//! (documented in `docs/operations.md`, "Security"; `ngtt serve` sets each with a flag).
//!
//! Two kinds: what compressed log parts may inflate to (applied in `log_records`), and what
//! decoding a payload into memory may take, as a multiple of its size ([`Budgets::check_decoded`]).
//! The decode check is one counting pass over the payload, without allocating, before anything
//! is built: a payload over its budget is refused whole.

use std::fmt;

/// Default of [`Budgets::inflated_per_field`]: 1 MiB.
pub const DEFAULT_INFLATED_PER_FIELD: usize = ngtt_proto::payload::MAX_INFLATED;
/// Default of [`Budgets::inflated_per_request`]: 16 MiB.
pub const DEFAULT_INFLATED_PER_REQUEST: usize = 16 << 20;
/// Default of [`Budgets::inflated_per_minute`]: 64 MiB.
pub const DEFAULT_INFLATED_PER_MINUTE: usize = 64 << 20;
/// Default of [`Budgets::decode_factor`].
pub const DEFAULT_DECODE_FACTOR: usize = 8;
/// Default of [`Budgets::admin_decode_factor`].
pub const DEFAULT_ADMIN_DECODE_FACTOR: usize = 32;
/// Default of [`Budgets::log_batch_records`].
pub const DEFAULT_LOG_BATCH_RECORDS: usize = 1000;
/// Default of [`Budgets::log_batch_bytes`]: 1 MiB.
pub const DEFAULT_LOG_BATCH_BYTES: usize = 1 << 20;

/// Headroom of every decode budget, for small payloads whose per-value overhead dominates:
/// 1 MiB of decoded memory, whatever the payload's size.
pub(crate) const DECODED_MEMORY_SLACK: usize = 1 << 20;

/// Every budget on what a device's or an operator's payload may cost the server. Build it with
/// [`Budgets::default`] and adjust the fields; [`crate::ServerConfig::budgets`] carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    /// The most one compressed log message or `exception_traceback` is inflated to (default
    /// [`DEFAULT_INFLATED_PER_FIELD`]); beyond, it is stored as sent, with a note. The admin
    /// API shows stored tracebacks under the same bound.
    pub inflated_per_field: usize,
    /// The most inflated per LOGS frame or `PUT /v1/device/device_logs` request, all records
    /// together (default [`DEFAULT_INFLATED_PER_REQUEST`]); the rest are stored as sent.
    pub inflated_per_request: usize,
    /// The most inflated per device and minute, NGTT and HTTP together (default
    /// [`DEFAULT_INFLATED_PER_MINUTE`]).
    pub inflated_per_minute: usize,
    /// What decoding a device's payload (a LOGS or DATA_STREAM frame, a device HTTP API body)
    /// may take in memory, as a multiple of its size plus 1 MiB (default
    /// [`DEFAULT_DECODE_FACTOR`]). Ordinary payloads take 2x to 6x; 16 MiB of `null`s would
    /// take ~33x.
    pub decode_factor: usize,
    /// The same for admin API bodies (default [`DEFAULT_ADMIN_DECODE_FACTOR`]): they are
    /// decoded as JSON documents whose values take 80 bytes each, so an ordinary list of
    /// order sections takes ~16x its size; a body of tiny values would take ~60x.
    pub admin_decode_factor: usize,
    /// Log records stored per transaction (default [`DEFAULT_LOG_BATCH_RECORDS`]): a large
    /// LOGS frame or HTTP upload is inflated and stored batch by batch, so it never holds the
    /// storage writer for long, nor all its inflated records in memory at once.
    pub log_batch_records: usize,
    /// Bytes of log records (messages and tracebacks as stored) per transaction (default
    /// [`DEFAULT_LOG_BATCH_BYTES`]); a batch ends at whichever bound comes first.
    pub log_batch_bytes: usize,
}

impl Default for Budgets {
    fn default() -> Budgets {
        Budgets {
            inflated_per_field: DEFAULT_INFLATED_PER_FIELD,
            inflated_per_request: DEFAULT_INFLATED_PER_REQUEST,
            inflated_per_minute: DEFAULT_INFLATED_PER_MINUTE,
            decode_factor: DEFAULT_DECODE_FACTOR,
            admin_decode_factor: DEFAULT_ADMIN_DECODE_FACTOR,
            log_batch_records: DEFAULT_LOG_BATCH_RECORDS,
            log_batch_bytes: DEFAULT_LOG_BATCH_BYTES,
        }
    }
}

/// What a payload is decoded into, which sets what each of its values costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// MiniJSON values (`minijson::Value`, 32 bytes each): LOGS items, device HTTP API bodies.
    Values,
    /// Pathpoint series (DATA_STREAM): a sample (40 bytes) is at least three values (a list, a
    /// timestamp and a value), so a value costs at most a third of a sample.
    Samples,
    /// A JSON document (`serde_json::Value`, 80 bytes each with ordered maps): admin bodies.
    Json,
}

impl Shape {
    fn per_value(self) -> usize {
        match self {
            Shape::Values => std::mem::size_of::<minijson::Value>(),
            Shape::Samples => std::mem::size_of::<ngtt_proto::payload::Sample>().div_ceil(3),
            Shape::Json => std::mem::size_of::<serde_json::Value>(),
        }
    }
}

/// The encoding of a payload to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// MiniJSON (NGTT frames, device HTTP API bodies by default).
    MiniJson,
    /// JSON (admin bodies, device HTTP API bodies sent as `application/json`).
    Json,
}

/// A payload refused because decoding it would take more memory than its budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OverBudget {
    /// The payload's size.
    pub(crate) bytes: usize,
    /// The estimated memory of its decoded form.
    pub(crate) cost: usize,
    /// The multiple of its size allowed.
    pub(crate) factor: usize,
}

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "decoding {} bytes would take ~{} bytes of memory, more than {}x its size (the decode \
             budget)",
            self.bytes, self.cost, self.factor
        )
    }
}

impl Budgets {
    /// Checks that every budget is usable.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("inflated_per_field", self.inflated_per_field),
            ("inflated_per_request", self.inflated_per_request),
            ("inflated_per_minute", self.inflated_per_minute),
            ("decode_factor", self.decode_factor),
            ("admin_decode_factor", self.admin_decode_factor),
            ("log_batch_records", self.log_batch_records),
            ("log_batch_bytes", self.log_batch_bytes),
        ];
        match fields.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(format!("the budget {name} must be at least 1")),
            None => Ok(()),
        }
    }

    /// Checks that decoding `payload` (in `encoding`, into `shape`) stays within `factor`
    /// times its size plus [`DECODED_MEMORY_SLACK`]. Invalid input passes: decoding it fails
    /// anyway, cheaply, and the decoder reports why.
    pub(crate) fn check_decoded(
        factor: usize,
        encoding: Encoding,
        shape: Shape,
        payload: &[u8],
    ) -> Result<(), OverBudget> {
        let limit = payload
            .len()
            .saturating_mul(factor)
            .saturating_add(DECODED_MEMORY_SLACK);
        // Fewer values than this cannot exceed the limit: skip the counting pass.
        if payload.len().saturating_mul(shape.per_value()) <= limit {
            return Ok(());
        }
        let count = match encoding {
            Encoding::MiniJson => minijson::value_count(payload).ok(),
            Encoding::Json => serde_json::from_slice::<minijson::ValueCount>(payload)
                .ok()
                .map(|c| c.0),
        };
        let Some(values) = count else { return Ok(()) };
        let cost = values
            .saturating_mul(shape.per_value())
            .saturating_add(payload.len());
        if cost <= limit {
            Ok(())
        } else {
            Err(OverBudget {
                bytes: payload.len(),
                cost,
                factor,
            })
        }
    }

    /// [`Budgets::check_decoded`] for a device's MiniJSON payload.
    #[cfg(test)]
    fn check_frame(&self, shape: Shape, payload: &[u8]) -> Result<(), OverBudget> {
        Budgets::check_decoded(self.decode_factor, Encoding::MiniJson, shape, payload)
    }

    /// [`Budgets::check_decoded`] for an admin API JSON body.
    pub(crate) fn check_admin_body(&self, body: &[u8]) -> Result<(), OverBudget> {
        Budgets::check_decoded(self.admin_decode_factor, Encoding::Json, Shape::Json, body)
    }

    /// Every budget, for the start-up log line.
    pub(crate) fn summary(&self) -> String {
        format!(
            "inflated: {} per field, {} per frame or request, {} per device and minute; decoded: \
             {}x a device's payload, {}x an admin body; logs stored {} records or {} bytes per \
             transaction",
            self.inflated_per_field,
            self.inflated_per_request,
            self.inflated_per_minute,
            self.decode_factor,
            self.admin_decode_factor,
            self.log_batch_records,
            self.log_batch_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngtt_proto::payload::{PathpointSeries, Sample};

    #[test]
    fn nulls_are_refused_records_are_not() {
        let b = Budgets::default();
        let nulls = minijson::to_vec(&vec![(); 1 << 20]).unwrap();
        let refused = b.check_frame(Shape::Values, &nulls).unwrap_err();
        assert!(refused.cost > 8 * nulls.len(), "{refused}");
        let record = serde_json::json!({"message": "boiler started", "level": 20, "time": 1.5e9});
        let records = minijson::to_vec(&vec![record; 100_000]).unwrap();
        b.check_frame(Shape::Values, &records).unwrap();
        assert!(
            b.check_frame(Shape::Values, &[0xFF]).is_ok(),
            "left to the decoder"
        );
    }

    #[test]
    fn samples_of_real_devices_pass_tiny_ones_do_not() {
        let b = Budgets::default();
        // Millisecond timestamps and float readings, as devices send them.
        let real = PathpointSeries::new(
            "W1",
            (0..200_000u64).map(|i| Sample::value(1_700_000_000_000 + i, 21.5 + i as f64)),
        );
        b.check_frame(Shape::Samples, &minijson::to_vec(&vec![real]).unwrap())
            .unwrap();
        let tiny = PathpointSeries::new("W1", (0..1_000_000).map(|_| Sample::value(0, 0i64)));
        let tiny = minijson::to_vec(&vec![tiny]).unwrap();
        assert!(b.check_frame(Shape::Samples, &tiny).is_err());
        // A larger factor lets it through.
        let lenient = Budgets {
            decode_factor: 64,
            ..b
        };
        lenient.check_frame(Shape::Samples, &tiny).unwrap();
    }

    #[test]
    fn admin_bodies_are_counted_as_json() {
        let b = Budgets::default();
        let section =
            serde_json::json!({"orders": [{"type": "write", "path": "W1", "value": 5}], "disposition": 0});
        let sections = serde_json::to_vec(&vec![section; 100_000]).unwrap();
        b.check_admin_body(&sections).unwrap();
        let zeros = serde_json::to_vec(&vec![0; 4 << 20]).unwrap();
        let refused = b.check_admin_body(&zeros).unwrap_err();
        assert_eq!(refused.factor, DEFAULT_ADMIN_DECODE_FACTOR);
        assert!(b.check_admin_body(b"{not json").is_ok(), "left to the decoder");
    }

    #[test]
    fn zero_budgets_are_refused() {
        assert!(Budgets::default().validate().is_ok());
        let zero = Budgets {
            log_batch_records: 0,
            ..Budgets::default()
        };
        assert!(zero.validate().unwrap_err().contains("log_batch_records"));
    }
}
