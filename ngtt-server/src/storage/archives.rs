//! Archive settings (HTTP-API.md §7.12): which pathpoints a device reads periodically.

use serde::{Deserialize, Serialize};

use super::StorageError;

/// Longest archive interval accepted: ten years, in seconds.
pub const MAX_ARCHIVE_INTERVAL: u64 = 10 * 366 * 86_400;
/// Most archived pathpoints one device may have.
pub const MAX_ARCHIVED_PATHPOINTS: usize = 10_000;

/// One archive entry: read these pathpoints every `interval` seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveEntry {
    /// Seconds between reads.
    pub interval: u64,
    /// The pathpoints, sorted.
    pub pathpoints: Vec<String>,
}

/// Groups stored `(interval, path)` rows, sorted by interval then path, into entries (what
/// [`ArchiveStore::archives`] returns, for every engine).
pub(crate) fn group_rows(
    rows: impl IntoIterator<Item = (i64, String)>,
) -> Result<Vec<ArchiveEntry>, StorageError> {
    let mut out: Vec<ArchiveEntry> = Vec::new();
    for (interval, path) in rows {
        let interval = u64::try_from(interval)
            .map_err(|_| StorageError::Corrupt(format!("archive interval {interval} of {path:?}")))?;
        match out.last_mut() {
            Some(entry) if entry.interval == interval => entry.pathpoints.push(path),
            _ => out.push(ArchiveEntry {
                interval,
                pathpoints: vec![path],
            }),
        }
    }
    Ok(out)
}

/// Archive settings storage (part of [`super::Storage`]).
pub trait ArchiveStore {
    /// The archive settings of `device_id`: one entry per interval, by interval.
    fn archives(&self, device_id: &str) -> Result<Vec<ArchiveEntry>, StorageError>;

    /// Replaces the archive settings of `device_id` (entries already normalised).
    fn set_archives(&self, device_id: &str, entries: &[ArchiveEntry]) -> Result<(), StorageError>;
}

/// Checks archive settings and returns them normalised: one entry per interval (entries with
/// the same interval merged, since the client's cache keeps one per interval), sorted by
/// interval, pathpoints sorted; a pathpoint may be archived at one interval only.
pub fn normalise_archives(entries: Vec<ArchiveEntry>) -> Result<Vec<ArchiveEntry>, String> {
    let mut by_interval: std::collections::BTreeMap<u64, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for (i, entry) in entries.into_iter().enumerate() {
        if !(1..=MAX_ARCHIVE_INTERVAL).contains(&entry.interval) {
            return Err(format!(
                "entry {i}: interval must be 1 to {MAX_ARCHIVE_INTERVAL} seconds, not {}",
                entry.interval
            ));
        }
        for path in entry.pathpoints {
            valid_pathpoint(&path).map_err(|e| format!("entry {i}: {e}"))?;
            if !seen.insert(path.clone()) {
                return Err(format!("entry {i}: pathpoint {path:?} is listed twice"));
            }
            by_interval.entry(entry.interval).or_default().insert(path);
        }
    }
    if seen.len() > MAX_ARCHIVED_PATHPOINTS {
        return Err(format!(
            "{} pathpoints: at most {MAX_ARCHIVED_PATHPOINTS} may be archived",
            seen.len()
        ));
    }
    Ok(by_interval
        .into_iter()
        .map(|(interval, paths)| ArchiveEntry {
            interval,
            pathpoints: paths.into_iter().collect(),
        })
        .collect())
}

/// Whether `path` can be a pathpoint name: 1..=255 bytes without control characters.
pub fn valid_pathpoint(path: &str) -> Result<(), String> {
    if path.is_empty() || path.len() > 255 || path.chars().any(char::is_control) {
        Err(format!(
            "invalid pathpoint name {:?}",
            path.escape_debug().to_string()
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_rows_are_grouped_by_interval() {
        let rows = [(30, "f1"), (60, "W1"), (60, "W2")].map(|(i, p)| (i, p.to_owned()));
        let grouped = group_rows(rows).unwrap();
        assert_eq!(grouped.len(), 2);
        assert_eq!((grouped[1].interval, grouped[1].pathpoints.len()), (60, 2));
        assert!(matches!(
            group_rows([(-1, "x".to_owned())]),
            Err(StorageError::Corrupt(_))
        ));
    }

    #[test]
    fn archives_are_merged_per_interval() {
        let given = vec![
            ArchiveEntry {
                interval: 60,
                pathpoints: vec!["W2".into(), "W1".into()],
            },
            ArchiveEntry {
                interval: 30,
                pathpoints: vec!["f1".into()],
            },
            ArchiveEntry {
                interval: 60,
                pathpoints: vec!["W3".into()],
            },
        ];
        let out = normalise_archives(given).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].interval, 30);
        assert_eq!(out[1].pathpoints, ["W1", "W2", "W3"]);
        let twice = vec![
            ArchiveEntry {
                interval: 60,
                pathpoints: vec!["W1".into()],
            },
            ArchiveEntry {
                interval: 30,
                pathpoints: vec!["W1".into()],
            },
        ];
        assert!(normalise_archives(twice).unwrap_err().contains("twice"));
        let zero = vec![ArchiveEntry {
            interval: 0,
            pathpoints: vec![],
        }];
        assert!(normalise_archives(zero).is_err());
    }
}
