//! BAOBs ("binary all-sized objects", HTTP-API.md §7.10): the records and the pure rules that
//! decide, from the device's `{key: version}` list and the server's records, what the device
//! must delete, download and upload.
//!
//! Contents are stored in chunks of at most [`BAOB_CHUNK`] bytes, so that neither an upload nor a
//! download ever holds a whole BAOB in memory: an upload is *staged* chunk by chunk and becomes
//! visible only when [`super::Storage::commit_baob`] swaps it in, in one transaction that also
//! checks the version rule.

use std::collections::{BTreeMap, HashSet};

use super::StorageError;

/// Largest chunk a BAOB's contents are stored (and streamed) in.
pub const BAOB_CHUNK: usize = 1 << 20;

/// Most BAOB keys (tombstones included) one device may have.
pub const MAX_BAOBS_PER_DEVICE: usize = 10_000;

/// Longest BAOB key, in bytes.
pub const MAX_BAOB_KEY: usize = 255;

/// Who wrote a BAOB last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// The device itself (`PUT /v1/device/baobs/{key}`).
    Device,
    /// An operator (admin API or `ngtt baob put`).
    Admin,
}

impl Writer {
    /// `device` or `admin`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Writer::Device => "device",
            Writer::Admin => "admin",
        }
    }

    /// The writer stored as `text`.
    pub fn parse(text: &str) -> Writer {
        if text == "device" {
            Writer::Device
        } else {
            Writer::Admin
        }
    }
}

/// One BAOB of a device, as stored (contents aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaobRecord {
    /// Its key.
    pub key: String,
    /// Its version. For a tombstone, the version it had when it was deleted.
    pub version: i64,
    /// Size of the contents in bytes (0 for a tombstone).
    pub size: u64,
    /// Deleted on the server: kept as a tombstone so that devices delete their copy.
    pub deleted: bool,
    /// When it was last written or deleted, ms since the epoch.
    pub updated_at_ms: i64,
    /// Who wrote or deleted it last.
    pub updated_by: Writer,
    /// Where its contents are (`None` for a tombstone).
    pub content: Option<ContentId>,
}

/// The id of stored (or staged) BAOB contents.
pub type ContentId = i64;

/// A row of `baobs` as every engine stores it: `(key, version, size, content_id, updated_at,
/// updated_by)`, in the order of the engines' `COLUMNS`.
pub(crate) type StoredBaob = (String, i64, i64, Option<ContentId>, i64, String);

impl BaobRecord {
    /// The record of a stored row (every engine): no contents make a tombstone; a negative
    /// size (never written) reads as 0.
    pub(crate) fn from_stored((key, version, size, content, updated_at_ms, by): StoredBaob) -> BaobRecord {
        BaobRecord {
            key,
            version,
            size: u64::try_from(size).unwrap_or(0),
            deleted: content.is_none(),
            updated_at_ms,
            updated_by: Writer::parse(&by),
            content,
        }
    }
}

/// The error for `content` that is not a staged upload of `device_id`: a caller's bug, since
/// uploads are only continued by the session that staged them (every engine).
pub(crate) fn not_staged(device_id: &str, content: ContentId) -> StorageError {
    StorageError::Corrupt(format!("no staged BAOB upload {content} of {device_id:?}"))
}

/// What a device must do after a BAOB round (`POST /v1/device/baobs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BaobPlan {
    /// Keys deleted on the server: delete the local copy.
    pub should_delete: Vec<String>,
    /// Keys newer on the server, or only on the server: download.
    pub should_download: Vec<String>,
    /// Keys newer on the device, or unknown to the server: upload.
    pub should_upload: Vec<String>,
}

/// Which version a write must have to be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionRule {
    /// Exactly this version, which must be higher than the stored one; refused for a key
    /// deleted on the server (a device upload).
    DeviceUpload(i64),
    /// This version, which must be higher than the stored one (tombstones included).
    Exactly(i64),
    /// One more than the stored version (tombstones included), 0 for a new key.
    Next,
}

/// A BAOB write to complete ([`super::Storage::commit_baob`]).
#[derive(Clone, Copy, Debug)]
pub struct BaobCommit<'a> {
    /// The key.
    pub key: &'a str,
    /// Which version the write must have.
    pub rule: VersionRule,
    /// Who writes.
    pub by: Writer,
    /// The contents staged so far ([`super::Storage::stage_baob_chunk`]), if any.
    pub staged: Option<ContentId>,
    /// The last bytes (all of them when nothing was staged).
    pub tail: &'a [u8],
    /// A new key is refused when the device already has this many.
    pub max_keys: usize,
}

/// How a write ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaobWrite {
    /// Stored with this version.
    Stored(i64),
    /// Refused: the server's version is not lower than the one given.
    Stale {
        /// The server's version.
        current: i64,
    },
    /// Refused: the key was deleted on the server (a device cannot resurrect it).
    Deleted {
        /// The tombstone's version.
        current: i64,
    },
    /// Refused: the device has as many BAOBs as it may have.
    TooMany {
        /// The limit.
        limit: usize,
    },
}

/// The version rule of a commit, for every engine: the refusal, if any, of a write under `rule`
/// to a key whose stored `(version, contents)` is `current` (`None` contents: a tombstone).
/// `keys` is how many keys the device has, needed only for a new key (`current` is `None`).
pub fn refusal(
    current: Option<(i64, Option<ContentId>)>,
    rule: VersionRule,
    keys: usize,
    max_keys: usize,
) -> Option<BaobWrite> {
    match (current, rule) {
        (Some((version, None)), VersionRule::DeviceUpload(_)) => {
            Some(BaobWrite::Deleted { current: version })
        }
        (Some((version, _)), VersionRule::DeviceUpload(v) | VersionRule::Exactly(v)) if v <= version => {
            Some(BaobWrite::Stale { current: version })
        }
        (None, _) => (keys >= max_keys).then_some(BaobWrite::TooMany { limit: max_keys }),
        _ => None,
    }
}

/// The version an accepted write under `rule` stores, after the stored `current` one.
pub fn new_version(current: Option<i64>, rule: VersionRule) -> i64 {
    match rule {
        VersionRule::DeviceUpload(v) | VersionRule::Exactly(v) => v,
        VersionRule::Next => current.map_or(0, |v| v.saturating_add(1)),
    }
}

/// BAOB storage (part of [`super::Storage`]): records, contents staged and read in chunks.
pub trait BaobStore {
    /// Every BAOB record of `device_id` (tombstones included), by key.
    fn list_baobs(&self, device_id: &str) -> Result<Vec<BaobRecord>, StorageError>;

    /// One BAOB record (a tombstone included).
    fn baob(&self, device_id: &str, key: &str) -> Result<Option<BaobRecord>, StorageError>;

    /// Stages one chunk of an upload: in a new staged content when `content` is `None`, else
    /// appended to that staged content. Nothing is visible until [`BaobStore::commit_baob`].
    fn stage_baob_chunk(
        &self,
        device_id: &str,
        content: Option<ContentId>,
        data: &[u8],
    ) -> Result<ContentId, StorageError>;

    /// Completes an upload: the commit's `tail` is appended to its staged contents, and the
    /// contents replace the key's if its `rule` allows; otherwise the staged contents are
    /// dropped and the refusal returned.
    fn commit_baob(&self, device_id: &str, commit: &BaobCommit<'_>) -> Result<BaobWrite, StorageError>;

    /// Drops a staged upload that will not be committed.
    fn discard_baob_upload(&self, device_id: &str, content: ContentId) -> Result<(), StorageError>;

    /// Chunk `seq` (from 0) of committed contents of `device_id`; `None` past the end, or when
    /// the contents were replaced meanwhile.
    fn read_baob_chunk(
        &self,
        device_id: &str,
        content: ContentId,
        seq: u64,
    ) -> Result<Option<Vec<u8>>, StorageError>;

    /// Deletes a BAOB, keeping a tombstone with its version; `None` when there is no such live
    /// BAOB.
    fn delete_baob(&self, device_id: &str, key: &str, by: Writer) -> Result<Option<i64>, StorageError>;
}

/// Whether `key` can be a BAOB key: 1..=255 bytes, none of them a control character, a space,
/// or one of `/ ? # % \` (the Python client puts keys into URLs unescaped, so a key must be
/// one path segment as it is).
pub fn valid_baob_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_BAOB_KEY {
        return Err(format!("a BAOB key must be 1 to {MAX_BAOB_KEY} bytes long"));
    }
    if let Some(c) = key
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '?' | '#' | '%' | '\\'))
    {
        return Err(format!(
            "BAOB key {:?} contains {c:?}: keys are sent in URLs unescaped",
            key.escape_debug().to_string()
        ));
    }
    Ok(())
}

/// The recommended reconcile rules of HTTP-API.md §7.10, for one round:
///
/// * server version > device version: download;
/// * device version > server version: upload;
/// * key deleted on the server (tombstone): delete, whatever the device's version;
/// * key the server never had: upload (this is how devices create BAOBs);
/// * equal versions: nothing;
/// * a live key only the server has: download.
///
/// `device` maps keys to the device's versions; `server` are the device's records on the
/// server. Each list comes out sorted by key.
pub fn reconcile(device: &BTreeMap<String, i64>, server: &[BaobRecord]) -> BaobPlan {
    let mut plan = BaobPlan::default();
    let by_key: BTreeMap<&str, &BaobRecord> = server.iter().map(|r| (r.key.as_str(), r)).collect();
    for (key, &version) in device {
        match by_key.get(key.as_str()) {
            None => plan.should_upload.push(key.clone()),
            Some(record) if record.deleted => plan.should_delete.push(key.clone()),
            Some(record) if record.version > version => plan.should_download.push(key.clone()),
            Some(record) if record.version < version => plan.should_upload.push(key.clone()),
            Some(_) => {}
        }
    }
    let known: HashSet<&str> = device.keys().map(String::as_str).collect();
    for record in server {
        if !record.deleted && !known.contains(record.key.as_str()) {
            plan.should_download.push(record.key.clone());
        }
    }
    plan.should_download.sort();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, version: i64, deleted: bool) -> BaobRecord {
        BaobRecord {
            key: key.into(),
            version,
            size: 0,
            deleted,
            updated_at_ms: 0,
            updated_by: Writer::Admin,
            content: (!deleted).then_some(1),
        }
    }

    #[test]
    fn the_recommended_rules() {
        let device: BTreeMap<String, i64> =
            [("older", 1), ("newer", 5), ("same", 2), ("gone", 9), ("fresh", 0)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
        let server = vec![
            record("older", 2, false),
            record("newer", 4, false),
            record("same", 2, false),
            record("gone", 3, true),
            record("only-server", 0, false),
            record("dead-only-server", 1, true),
        ];
        let plan = reconcile(&device, &server);
        assert_eq!(plan.should_delete, ["gone"]);
        assert_eq!(plan.should_download, ["older", "only-server"]);
        assert_eq!(plan.should_upload, ["fresh", "newer"]);
        assert_eq!(reconcile(&BTreeMap::new(), &[]), BaobPlan::default());
    }

    #[test]
    fn the_version_rule_of_a_commit() {
        use VersionRule::{DeviceUpload, Exactly, Next};
        let live = Some((4, Some(1)));
        let tombstone = Some((4, None));
        assert_eq!(
            refusal(live, DeviceUpload(4), 0, 3),
            Some(BaobWrite::Stale { current: 4 })
        );
        assert_eq!(
            refusal(live, Exactly(3), 0, 3),
            Some(BaobWrite::Stale { current: 4 })
        );
        assert_eq!(refusal(live, DeviceUpload(5), 0, 3), None);
        assert_eq!(
            refusal(tombstone, DeviceUpload(9), 0, 3),
            Some(BaobWrite::Deleted { current: 4 })
        );
        assert_eq!(
            refusal(tombstone, Next, 0, 3),
            None,
            "an operator may resurrect a key"
        );
        assert_eq!(refusal(None, Next, 3, 3), Some(BaobWrite::TooMany { limit: 3 }));
        assert_eq!(refusal(None, DeviceUpload(0), 2, 3), None);
        assert_eq!(refusal(live, Next, 99, 3), None, "a known key is not counted");
        assert_eq!((new_version(None, Next), new_version(Some(4), Next)), (0, 5));
        assert_eq!(new_version(Some(4), Exactly(9)), 9);
        assert_eq!(new_version(Some(i64::MAX), Next), i64::MAX);
    }

    #[test]
    fn keys_must_be_one_url_segment() {
        assert!(valid_baob_key("firmware-1.2_x~").is_ok());
        for bad in ["", "a/b", "a b", "a?b", "a#b", "a%20", "a\\b", "tab\there"] {
            assert!(valid_baob_key(bad).is_err(), "{bad:?}");
        }
        assert!(valid_baob_key(&"k".repeat(256)).is_err());
    }

    #[test]
    fn stored_rows() {
        let live = BaobRecord::from_stored(("k".into(), 3, 10, Some(9), 5, "admin".into()));
        assert_eq!((live.size, live.deleted, live.content), (10, false, Some(9)));
        assert_eq!(live.updated_by, Writer::parse("admin"));
        let tombstone = BaobRecord::from_stored(("k".into(), 3, -1, None, 5, "device".into()));
        assert_eq!((tombstone.size, tombstone.deleted), (0, true));
    }
}
