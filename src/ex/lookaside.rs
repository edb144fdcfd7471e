//! Lookaside lists (book l.844–848): freed entries of one kind kept, up to a
//! depth, to satisfy the next allocation without going to the pool.
//!
//! NT keeps them per processor for its hottest objects (IRPs among them) and
//! counts hits and misses in the list header (GENERAL_LOOKASIDE); this is
//! that list for owned Rust values. The I/O manager keeps its lists per host
//! thread, which is a processor in threaded mode and the whole machine in a
//! simulation, so no lock is taken on the I/O path.

/// A lookaside list of `T`, holding at most `depth` free entries.
#[derive(Debug)]
pub(crate) struct Lookaside<T> {
    free: Vec<T>,
    depth: usize,
    /// TotalAllocates, AllocateMisses, TotalFrees, FreeMisses.
    pub counts: LookasideCounts,
}

/// The counters of a lookaside list header (GENERAL_LOOKASIDE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookasideCounts {
    pub total_allocates: u64,
    pub allocate_misses: u64,
    pub total_frees: u64,
    pub free_misses: u64,
}

impl<T> Lookaside<T> {
    pub(crate) const fn new(depth: usize) -> Lookaside<T> {
        Lookaside { free: Vec::new(), depth, counts: LookasideCounts::zero() }
    }

    /// A kept entry, or `None` (a miss: the caller allocates).
    pub(crate) fn allocate(&mut self) -> Option<T> {
        self.counts.total_allocates += 1;
        let entry = self.free.pop();
        if entry.is_none() {
            self.counts.allocate_misses += 1;
        }
        entry
    }

    /// Keeps `entry` if the list has room; otherwise hands it back for the
    /// caller to drop (outside whatever borrow holds the list).
    pub(crate) fn free(&mut self, entry: T) -> Option<T> {
        self.counts.total_frees += 1;
        if self.free.len() >= self.depth {
            self.counts.free_misses += 1;
            return Some(entry);
        }
        self.free.push(entry);
        None
    }
}

impl LookasideCounts {
    const fn zero() -> LookasideCounts {
        LookasideCounts { total_allocates: 0, allocate_misses: 0, total_frees: 0, free_misses: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_back_until_the_depth_and_every_miss_is_counted() {
        let mut list = Lookaside::<Box<u32>>::new(2);
        assert_eq!(list.allocate(), None);
        assert_eq!(list.free(Box::new(1)), None);
        assert_eq!(list.free(Box::new(2)), None);
        assert_eq!(list.free(Box::new(3)), Some(Box::new(3)), "beyond the depth");
        assert_eq!(list.allocate(), Some(Box::new(2)));
        assert_eq!(list.allocate(), Some(Box::new(1)));
        assert_eq!(list.allocate(), None);
        let counts = list.counts;
        assert_eq!(
            counts,
            LookasideCounts {
                total_allocates: 4,
                allocate_misses: 2,
                total_frees: 3,
                free_misses: 1
            }
        );
    }
}
