//! Plain metadata (HTTP-API.md §7.13): a string-to-string store per device, each value with the
//! time of its last write.

use super::StorageError;

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

/// A row of `metadata` as every engine stores it: `(key, value, timestamp, updated_at,
/// updated_by)`.
pub(crate) type StoredMetadata = (String, String, f64, i64, String);

impl MetadataEntry {
    /// The entry of a stored row (every engine).
    pub(crate) fn from_stored((key, value, timestamp, updated_at_ms, by): StoredMetadata) -> MetadataEntry {
        MetadataEntry {
            key,
            value,
            timestamp,
            updated_at_ms,
            updated_by: super::baob::Writer::parse(&by),
        }
    }
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

/// Plain metadata storage (part of [`super::Storage`]).
pub trait MetadataStore {
    /// One metadata entry.
    fn metadata(&self, device_id: &str, key: &str) -> Result<Option<MetadataEntry>, StorageError>;

    /// Every metadata entry of `device_id`, by key.
    fn list_metadata(&self, device_id: &str) -> Result<Vec<MetadataEntry>, StorageError>;

    /// Stores a value (see [`MetadataWrite`]); returns whether it was stored.
    fn put_metadata(&self, device_id: &str, write: &MetadataWrite<'_>) -> Result<bool, StorageError>;

    /// Deletes a metadata entry; `false` when there was none.
    fn delete_metadata(&self, device_id: &str, key: &str) -> Result<bool, StorageError>;
}

/// Whether a device's write stamped `given` (`unless_timestamp_higher`) may replace an entry
/// stamped `stored`: unless `stored` is higher. The Python client sends the stamp in single
/// precision (HTTP-API.md §2.2), which at today's epoch is coarse to 128 s, so a stamp that is
/// exactly a single-precision float is compared at that precision: `stored` is rounded the same
/// way first, and a device's write made just after an operator's is not lost to the rounding.
/// Other stamps (a double-precision client) are compared exactly.
pub fn may_replace(stored: f64, given: f64) -> bool {
    if stored <= given {
        return true;
    }
    // Rounding to the nearest single-precision value is the point here.
    #[allow(clippy::cast_possible_truncation)]
    let (given_single, stored_single) = (given as f32, stored as f32);
    f64::from(given_single) == given && f64::from(stored_single) <= given
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
    fn single_precision_stamps_are_compared_at_their_precision() {
        // An operator's write at ...739, then the device's at ...745 sent as f32 (...720).
        assert!(may_replace(1_796_062_739.0, 1_796_062_720.0));
        assert!(!may_replace(1_796_062_800.0, 1_796_062_720.0));
        // A double-precision stamp is compared exactly.
        assert!(!may_replace(1_796_062_739.0, 1_796_062_738.5));
        assert!(may_replace(1_796_062_739.0, 1_796_062_739.0));
    }

    #[test]
    fn metadata_validation() {
        assert!(valid_metadata_key("key with space/slash").is_ok());
        assert!(valid_metadata_key("").is_err());
        assert!(valid_metadata_key("a\nb").is_err());
        assert!(valid_metadata_value(&"v".repeat(MAX_METADATA_VALUE + 1)).is_err());
        assert!(valid_metadata_value("").is_ok());
    }
}
