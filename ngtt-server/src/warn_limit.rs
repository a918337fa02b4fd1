//! [`RepeatedWarnings`]: per-connection rate limiting of warnings a peer can trigger at will
//! (junk frames, stale answers, rejected uploads). The first of each kind is logged; the rest
//! are counted and reported once, when the connection ends. Pure: no clock, no I/O.

use std::collections::BTreeMap;

/// Counts of warnings by kind, for one connection.
#[derive(Debug, Default)]
pub(crate) struct RepeatedWarnings {
    counts: BTreeMap<&'static str, u64>,
}

impl RepeatedWarnings {
    /// Records one warning of `kind`; `true` when it is the first of its kind on this
    /// connection, the one to log.
    pub(crate) fn first(&mut self, kind: &'static str) -> bool {
        let count = self.counts.entry(kind).or_insert(0);
        *count += 1;
        *count == 1
    }

    /// The kinds that occurred more than once, with the number not logged.
    pub(crate) fn suppressed(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counts
            .iter()
            .filter(|(_, &n)| n > 1)
            .map(|(&kind, &n)| (kind, n - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::RepeatedWarnings;

    #[test]
    fn first_is_logged_then_counted() {
        let mut w = RepeatedWarnings::default();
        assert!(w.first("junk"));
        for _ in 0..999 {
            assert!(!w.first("junk"));
        }
        assert!(w.first("stale"));
        assert_eq!(w.suppressed().collect::<Vec<_>>(), [("junk", 999)]);
    }
}
