//! Plain metadata (HTTP-API.md §7.13): a string-to-string store per device, each value with the
//! time of its last write.

/// Longest metadata key, in bytes.
pub const MAX_METADATA_KEY: usize = 1_024;
/// Longest metadata value, in bytes.
pub const MAX_METADATA_VALUE: usize = 64 * 1024;

/// One plain metadata entry.
#[derive(Clone, Debug, PartialEq)]
pub struct MetadataEntry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// The time of the write it came from, epoch seconds: the device's own clock for a
    /// device's write (`unless_timestamp_higher`), the server's for an operator's.
    pub timestamp: f64,
    /// When the server stored it, ms since the epoch.
    pub updated_at_ms: i64,
    /// `device` or `admin`.
    pub updated_by: super::baob::Writer,
}

/// A metadata write ([`super::Storage::put_metadata`]).
#[derive(Clone, Copy, Debug)]
pub struct MetadataWrite<'a> {
    /// The key.
    pub key: &'a str,
    /// The value.
    pub value: &'a str,
    /// The time of the write, epoch seconds.
    pub timestamp: f64,
    /// Store only when the stored entry's timestamp is not higher (a device's
    /// `unless_timestamp_higher`); otherwise always.
    pub unless_higher: bool,
    /// Who writes.
    pub by: super::baob::Writer,
}

/// Whether `key` can be a metadata key: 1..=1024 bytes, no control characters.
pub fn valid_metadata_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_METADATA_KEY {
        return Err(format!(
            "a metadata key must be 1 to {MAX_METADATA_KEY} bytes long"
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(format!(
            "metadata key {:?} contains a control character",
            key.escape_debug().to_string()
        ));
    }
    Ok(())
}

/// Whether `value` can be a metadata value: at most 64 KiB, no NUL.
pub fn valid_metadata_value(value: &str) -> Result<(), String> {
    if value.len() > MAX_METADATA_VALUE {
        return Err(format!(
            "a metadata value may be at most {MAX_METADATA_VALUE} bytes, not {}",
            value.len()
        ));
    }
    if value.contains('\0') {
        return Err("a metadata value may not contain NUL".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_validation() {
        assert!(valid_metadata_key("key with space/slash").is_ok());
        assert!(valid_metadata_key("").is_err());
        assert!(valid_metadata_key("a\nb").is_err());
        assert!(valid_metadata_value(&"v".repeat(MAX_METADATA_VALUE + 1)).is_err());
        assert!(valid_metadata_value("").is_ok());
    }
}
