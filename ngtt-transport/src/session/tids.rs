//! [`TidAllocator`]: device-chosen transaction ids (NGTT.md §3).

use std::collections::HashMap;

use super::UploadId;

/// Largest device-chosen transaction id.
pub const MAX_TID: u16 = 0x7FFF;

/// What a device-chosen tid is waiting for. PING and DATA_STREAM share one id space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TidUse {
    /// A PING awaiting its echo.
    Ping,
    /// A DATA_STREAM awaiting DATA_STREAM_CONFIRM or DATA_STREAM_REJECT.
    Upload(UploadId),
    /// A SYNC_BAOB_REQUEST awaiting its SYNC_BAOB_RESPONSE (the request's id).
    Baob(u64),
}

/// Hands out tids from 1..=0x7FFF in a cycle, skipping those still awaiting an answer.
///
/// The cycle continues across connections (only the ids in use are forgotten), so an upload
/// re-sent after a reconnect gets a different number than it had before.
#[derive(Debug, Clone)]
pub struct TidAllocator {
    next: u16,
    in_use: HashMap<u16, TidUse>,
}

impl Default for TidAllocator {
    fn default() -> Self {
        TidAllocator {
            next: 1,
            in_use: HashMap::new(),
        }
    }
}

impl TidAllocator {
    /// A fresh id for `purpose`, or `None` when all 32 767 are awaiting answers.
    pub fn allocate(&mut self, purpose: TidUse) -> Option<u16> {
        if self.in_use.len() >= usize::from(MAX_TID) {
            return None;
        }
        loop {
            let tid = self.next;
            self.next = if tid >= MAX_TID { 1 } else { tid + 1 };
            if let std::collections::hash_map::Entry::Vacant(slot) = self.in_use.entry(tid) {
                slot.insert(purpose);
                return Some(tid);
            }
        }
    }

    /// What `tid` awaits, if anything.
    pub fn get(&self, tid: u16) -> Option<TidUse> {
        self.in_use.get(&tid).copied()
    }

    /// Frees `tid`, returning what it awaited.
    pub fn release(&mut self, tid: u16) -> Option<TidUse> {
        self.in_use.remove(&tid)
    }

    /// Frees every id (the connection they belonged to is gone); the cycle position is kept.
    pub fn clear(&mut self) {
        self.in_use.clear();
    }

    /// Ids awaiting answers.
    pub fn in_use(&self) -> usize {
        self.in_use.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_through_the_range_skipping_ids_in_use() {
        let mut t = TidAllocator::default();
        assert_eq!(t.allocate(TidUse::Ping), Some(1));
        assert_eq!(t.allocate(TidUse::Upload(9)), Some(2));
        assert_eq!(t.release(1), Some(TidUse::Ping));
        assert_eq!(t.release(1), None);
        // Run to the end of the range; 2 is still in use when the cycle comes back.
        for expected in 3..=MAX_TID {
            assert_eq!(t.allocate(TidUse::Ping), Some(expected));
            t.release(expected);
        }
        assert_eq!(t.allocate(TidUse::Ping), Some(1));
        assert_eq!(t.allocate(TidUse::Ping), Some(3), "2 awaits an answer");
        assert_eq!(t.get(2), Some(TidUse::Upload(9)));
    }

    #[test]
    fn never_zero_never_above_max_and_exhaustion_is_none() {
        let mut t = TidAllocator::default();
        let mut seen = std::collections::HashSet::new();
        while let Some(tid) = t.allocate(TidUse::Ping) {
            assert!((1..=MAX_TID).contains(&tid));
            assert!(seen.insert(tid), "{tid} handed out twice");
        }
        assert_eq!(seen.len(), usize::from(MAX_TID));
        assert_eq!(t.in_use(), usize::from(MAX_TID));
        t.release(77);
        assert_eq!(t.allocate(TidUse::Ping), Some(77));
        t.clear();
        assert_eq!(t.in_use(), 0);
        assert_eq!(
            t.allocate(TidUse::Ping),
            Some(78),
            "the cycle goes on after clear"
        );
    }
}
