//! [`Plan`]: what one BAOB round does, checked before anything is done — the server's answer
//! is hostile until bounded: keys that cannot be BAOB keys, duplicates and keys beyond the
//! budget are logged once and skipped, so that one bad key does not stop the others.

use std::collections::BTreeSet;

use ngtt_proto::Escaped;
use smok_http::BaobPlan;

/// Most keys one round acts on (the server keeps at most 10 000 per device).
pub(crate) const MAX_KEYS: usize = 10_000;
/// Longest BAOB key (operations.md: 1–255 bytes).
pub(crate) const MAX_KEY_LEN: usize = 255;

/// Whether `key` can be a BAOB key: 1–255 bytes, one URL path segment (no spaces, control
/// characters, `/ ? # % \`).
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && !key
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '?' | '#' | '%' | '\\'))
}

/// One round's work: each key at most once, deletions first, then downloads, then uploads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) delete: Vec<String>,
    pub(crate) download: Vec<String>,
    pub(crate) upload: Vec<String>,
}

impl Plan {
    /// The server's answer, checked: invalid and repeated keys are skipped (and logged), a key
    /// listed under two actions keeps the first (delete, download, upload), at most
    /// [`MAX_KEYS`] keys in all.
    pub(crate) fn from_answer(answer: BaobPlan) -> Plan {
        if !answer.malformed.is_empty() {
            tracing::warn!(entries = ?answer.malformed, "skipping BAOB list entries that are not keys");
        }
        let mut seen = BTreeSet::new();
        let mut plan = Plan::default();
        let lists = [
            (answer.should_delete, &mut plan.delete),
            (answer.should_download, &mut plan.download),
            (answer.should_upload, &mut plan.upload),
        ];
        let mut skipped = 0usize;
        for (keys, into) in lists {
            for key in keys {
                if !is_valid_key(&key) || seen.len() >= MAX_KEYS || !seen.insert(key.clone()) {
                    if skipped == 0 {
                        tracing::warn!(key = %Escaped(&key), "skipping a BAOB key the server listed (invalid, repeated or too many)");
                    }
                    skipped += 1;
                    continue;
                }
                into.push(key);
            }
        }
        if skipped > 1 {
            tracing::warn!(skipped, "BAOB keys the server listed were skipped");
        }
        plan
    }

    /// Whether the round has nothing to do.
    pub(crate) fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.download.is_empty() && self.upload.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_and_repeated_keys_are_skipped() {
        let plan = Plan::from_answer(BaobPlan {
            should_delete: vec!["gone".into(), "a/b".into()],
            should_download: vec!["new".into(), "gone".into(), "".into(), "x y".into()],
            should_upload: vec!["mine".into(), "mine".into(), "k".repeat(256)],
            malformed: vec!["5".into()],
        });
        assert_eq!(plan.delete, ["gone"]);
        assert_eq!(plan.download, ["new"]);
        assert_eq!(plan.upload, ["mine"]);
        assert!(!plan.is_empty());
        assert!(Plan::from_answer(BaobPlan::default()).is_empty());
    }

    #[test]
    fn keys() {
        assert!(is_valid_key("firmware.settings-1"));
        for bad in ["", "a b", "a/b", "a?", "a#", "100%", "a\\b", "tab\there"] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
    }
}
