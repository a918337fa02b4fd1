//! The server's budgets for what a peer sends, in one place (documented in
//! `docs/operations.md`, "Security"). Inflation bounds live with the log records they apply
//! to and are listed here; decoded memory is checked here.

pub(crate) use crate::log_records::{MAX_INFLATED_BATCH, MAX_INFLATED_FIELD, MAX_INFLATED_PER_MINUTE};

/// Decoding a MiniJSON payload into values may take at most this many times its size (plus
/// [`DECODED_MEMORY_SLACK`]); beyond, the payload is refused before it is built. Ordinary log
/// records take ~6x (a value is 32 bytes); 16 MiB of `null`s would take ~33x.
pub(crate) const DECODED_MEMORY_FACTOR: usize = 8;

/// Headroom for small payloads, whose per-value overhead dominates: 64 KiB.
pub(crate) const DECODED_MEMORY_SLACK: usize = 64 << 10;

/// Checks that decoding `payload` into values stays within the budget; the reason otherwise.
/// Invalid MiniJSON passes: decoding it fails anyway, cheaply.
pub(crate) fn check_decoded_memory(payload: &[u8]) -> Result<(), String> {
    let limit = payload
        .len()
        .saturating_mul(DECODED_MEMORY_FACTOR)
        .saturating_add(DECODED_MEMORY_SLACK);
    match minijson::decoded_size_estimate(payload) {
        Ok(cost) if cost <= limit => Ok(()),
        Ok(cost) => Err(format!(
            "decoding {} bytes would take ~{cost} bytes of memory, more than {DECODED_MEMORY_FACTOR}x \
             its size",
            payload.len()
        )),
        // Invalid input is the decoder's to report, as a protocol error.
        Err(_) => Ok(()),
    }
}

/// Every budget, for the start-up log line.
pub(crate) fn summary() -> String {
    format!(
        "inflated: {MAX_INFLATED_FIELD} per field, {MAX_INFLATED_BATCH} per frame or request, \
         {MAX_INFLATED_PER_MINUTE} per device and minute; decoded: {DECODED_MEMORY_FACTOR}x a frame"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_refused_records_are_not() {
        let nulls = minijson::to_vec(&vec![(); 1 << 20]).unwrap();
        assert!(check_decoded_memory(&nulls).is_err());
        let record = serde_json::json!({"message": "boiler started", "level": 20, "time": 1.5e9});
        let records = minijson::to_vec(&vec![record; 10_000]).unwrap();
        check_decoded_memory(&records).unwrap();
        assert!(check_decoded_memory(&[0xFF]).is_ok(), "left to the decoder");
    }
}
