//! Giving the heap's free pages back to the system after a sync round.
//!
//! A sync round (the pathpoint registration; a sensor, predicate, time zone, macro or BAOB sync;
//! an upload of macro reports, events or samples) builds its
//! request and parses its answer in short-lived allocations (with 1 000 pathpoints, thousands
//! of them). The C allocator (glibc's `malloc`) keeps the pages they occupied once they are
//! freed — it only returns the top of the heap, and only past 128 KiB — so after the boot's
//! rounds 730 of the 1 530 KiB of heap the footprint device had resident were free memory
//! (docs/benchmarks.md, issue 10, "Memory"). `malloc_trim(0)` returns every whole free page
//! (`madvise(MADV_DONTNEED)`) and the heap's free top; it costs a walk of the allocator's free
//! lists and a few system calls, once per round (rounds are minutes apart; sample and event
//! uploads follow the orders and events that queued them). Every kind of round trims, so the
//! heap a device keeps does not depend on which kind ran last.
//!
//! On by default; [`SmokDeviceBuilder::release_free_memory`](super::SmokDeviceBuilder::release_free_memory)
//! turns it off (a program with its own global allocator, or one that prefers to keep the pages
//! for its next allocations). Outside glibc there is nothing to do: other allocators return
//! memory on their own terms.

/// Whether free heap pages are returned after each sync round, unless the builder says
/// otherwise.
pub(crate) const DEFAULT_RELEASE_FREE_MEMORY: bool = true;

/// Returns the C allocator's whole free pages to the system (glibc `malloc_trim(0)`); nothing
/// outside glibc. Memory in use is untouched: the next allocation that needs a returned page
/// gets a fresh zeroed one from the kernel.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointer and only walks the allocator's own free lists,
    // under the allocator's locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_in_use_survives_a_release() {
        // Free blocks between live ones: the freed pages go back, the live data stays intact.
        let mut blocks: Vec<Vec<u8>> = (0..64).map(|k| vec![k as u8; 64 * 1024]).collect();
        for k in (0..64).step_by(2) {
            blocks[k] = Vec::new();
        }
        release_free_memory();
        for (k, block) in blocks.iter().enumerate().filter(|(k, _)| k % 2 == 1) {
            assert!(block.iter().all(|b| *b == k as u8), "block {k} changed");
        }
    }
}
