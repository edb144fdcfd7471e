//! Lookaside lists (book l.844–848): freed entries of one kind kept, up to a
//! depth, to satisfy the next allocation without going to the pool.
//!
//! NT keeps them per processor for its hottest objects (IRPs among them) and
//! counts hits and misses in the list header (GENERAL_LOOKASIDE); this is
//! that list for owned Rust values. The I/O manager keeps its lists per host
//! thread, which is a processor in threaded mode and the whole machine in a
//! simulation, so no lock is taken on the I/O path.
//!
//! Drivers get the DDK's lists, [`NPagedLookasideList`] and
//! [`PagedLookasideList`] (ExInitializeNPagedLookasideList and friends, book
//! l.848): blocks of pool of one size, shared by every processor. NT pops and
//! pushes them with interlocked S-list operations; here a kernel spin lock
//! guards the list, as the crate's ExInterlocked… code does, so each call is
//! a scheduling point and a processor that finds the list busy spins where
//! the scheduler sees it.

use std::fmt;

use crate::ex::pool::{PoolType, allocate_pool};
use crate::ke::SpinLock;
use crate::ke::irql::{self, APC_LEVEL, DISPATCH_LEVEL, Irql};
use crate::sim;
use crate::verifier::{self, Rule};

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

    /// The kept entries, to clean in place.
    pub(crate) fn kept_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.free.iter_mut()
    }
}

impl LookasideCounts {
    const fn zero() -> LookasideCounts {
        LookasideCounts { total_allocates: 0, allocate_misses: 0, total_frees: 0, free_misses: 0 }
    }
}

/// LOOKASIDE_MINIMUM_BLOCK_SIZE on x86: a kept block holds the S-list link,
/// one pointer, so no list may have smaller entries.
pub const LOOKASIDE_MINIMUM_BLOCK_SIZE: usize = 4;

/// The depth NT starts every list at, whatever the driver passes (ReactOS
/// `ntoskrnl/ex/lookas.c`: `Lookaside->L.Depth = 4`).
const LOOKASIDE_DEPTH_DEFAULT: u16 = 4;

/// The deepest NT lets a list grow (`Lookaside->L.MaximumDepth = 256`).
const LOOKASIDE_DEPTH_MAX: u16 = 256;

/// The DDI names and limits of one kind of list.
struct Flavor {
    name: &'static str,
    pool_type: PoolType,
    /// The highest IRQL any of the kind's four calls may be made at.
    irql_max: Irql,
    initialize: &'static str,
    allocate: &'static str,
    free: &'static str,
    delete: &'static str,
}

static NPAGED: Flavor = Flavor {
    name: "NPagedLookasideList",
    pool_type: PoolType::NonPagedPool,
    irql_max: DISPATCH_LEVEL,
    initialize: "ExInitializeNPagedLookasideList",
    allocate: "ExAllocateFromNPagedLookasideList",
    free: "ExFreeToNPagedLookasideList",
    delete: "ExDeleteNPagedLookasideList",
};

static PAGED: Flavor = Flavor {
    name: "PagedLookasideList",
    pool_type: PoolType::PagedPool,
    irql_max: APC_LEVEL,
    initialize: "ExInitializePagedLookasideList",
    allocate: "ExAllocateFromPagedLookasideList",
    free: "ExFreeToPagedLookasideList",
    delete: "ExDeletePagedLookasideList",
};

/// GENERAL_LOOKASIDE, the header both kinds of list share (`list.L` in C):
/// entry size, pool tag, depth and the hit and miss counters.
pub struct GeneralLookaside {
    flavor: &'static Flavor,
    size: usize,
    tag: u32,
    depth: u16,
    /// The kept blocks (LIFO, as an S-list) and the counters.
    entries: SpinLock<Lookaside<Vec<u8>>>,
}

impl fmt::Debug for GeneralLookaside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.flavor.name)
            .field("size", &self.size)
            .field("tag", &tag_text(self.tag))
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

impl GeneralLookaside {
    /// TotalAllocates, AllocateMisses, TotalFrees, FreeMisses, read under
    /// the list's lock (so inside a machine). NT bumps them without a lock
    /// and they are approximate there; here they are exact.
    pub fn counts(&self) -> LookasideCounts {
        self.entries.acquire().counts
    }

    /// The size in bytes of every block of the list.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The pool tag the list's blocks are allocated with.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// How many freed blocks the list keeps at most.
    pub fn depth(&self) -> u16 {
        self.depth
    }

    fn initialize(flavor: &'static Flavor, size: usize, tag: u32, depth: u16) -> GeneralLookaside {
        irql::check_max_irql(flavor.initialize, flavor.irql_max);
        // NT ignores Depth and tunes each list itself (see
        // `initialize_npaged_lookaside_list` for what the simulator keeps).
        let depth = match depth {
            0 => LOOKASIDE_DEPTH_DEFAULT,
            asked => asked.min(LOOKASIDE_DEPTH_MAX),
        };
        let list = GeneralLookaside {
            flavor,
            size,
            tag,
            depth,
            entries: SpinLock::named(flavor.name, Lookaside::new(usize::from(depth))),
        };
        if size < LOOKASIDE_MINIMUM_BLOCK_SIZE {
            verifier::bug_check(
                Rule::LookasideBlockTooSmall,
                [list.id(), size as u64, LOOKASIDE_MINIMUM_BLOCK_SIZE as u64],
                format!("{}({size} bytes, tag {})", flavor.initialize, tag_text(tag)),
            );
        }
        // NT links the list into the system's list of lookaside lists with
        // ExInterlockedInsertTailList: a scheduling point.
        sim::yield_point();
        list
    }

    fn allocate(&self) -> Option<Vec<u8>> {
        if !irql::check_max_irql(self.flavor.allocate, self.flavor.irql_max) {
            return None;
        }
        // The guard is a temporary: the lock is released before the pool.
        let kept = self.entries.acquire().allocate();
        // A hit is the block as its last user left it: lookaside memory is
        // not zeroed ("not necessarily returned to the pool", book l.846).
        // A miss goes to the pool, where injected failures apply.
        kept.or_else(|| allocate_pool(self.flavor.pool_type, self.size))
    }

    fn free(&self, block: Vec<u8>) {
        if !irql::check_max_irql(self.flavor.free, self.flavor.irql_max) {
            return;
        }
        if block.len() != self.size {
            self.wrong_size(block.len());
            return;
        }
        let beyond_depth = self.entries.acquire().free(block);
        // ExFreePool of a block the list had no room for, outside the lock.
        drop(beyond_depth);
    }

    #[cold]
    fn wrong_size(&self, len: usize) {
        verifier::bug_check(
            Rule::LookasideFreeWrongSize,
            [self.id(), len as u64, self.size as u64],
            format!(
                "{}: a {len}-byte block freed to list {} of {}-byte blocks",
                self.flavor.free,
                tag_text(self.tag),
                self.size
            ),
        );
    }

    fn delete(self) {
        irql::check_max_irql(self.flavor.delete, self.flavor.irql_max);
        // NT unlinks the list from the system's lists (a scheduling point)
        // and frees the kept blocks. Blocks still allocated are ordinary
        // pool and stay the driver's to free.
        sim::yield_point();
    }

    fn id(&self) -> u64 {
        u64::from(self.entries.id().0)
    }
}

/// A pool tag as its four characters, in memory order (`'derF'` in C
/// reads "Fred").
fn tag_text(tag: u32) -> String {
    let text: String = tag.to_le_bytes().iter().map(|&b| char::from(b)).collect();
    format!("'{}'", text.escape_default())
}

/// NPAGED_LOOKASIDE_LIST: nonpaged blocks of one size, for calls at IRQL
/// <= DISPATCH_LEVEL. Derefs to its [`GeneralLookaside`] header.
#[derive(Debug)]
pub struct NPagedLookasideList(GeneralLookaside);

/// PAGED_LOOKASIDE_LIST: pageable blocks of one size, for calls at IRQL
/// <= APC_LEVEL. Derefs to its [`GeneralLookaside`] header.
#[derive(Debug)]
pub struct PagedLookasideList(GeneralLookaside);

impl std::ops::Deref for NPagedLookasideList {
    type Target = GeneralLookaside;

    fn deref(&self) -> &GeneralLookaside {
        &self.0
    }
}

impl std::ops::Deref for PagedLookasideList {
    type Target = GeneralLookaside;

    fn deref(&self) -> &GeneralLookaside {
        &self.0
    }
}

/// ExInitializeNPagedLookasideList (book l.848): an empty list of
/// `size`-byte nonpaged blocks tagged `tag`; IRQL <= DISPATCH_LEVEL.
///
/// `depth` is reserved in the DDK and NT ignores it: it starts every list
/// at 4 kept blocks and retunes the depth each second from the miss rate,
/// up to 256. The simulator has no balance-set manager to retune, so a list
/// keeps a fixed depth: 4 when `depth` is 0, as NT starts, otherwise
/// `depth` (at most 256), so that a test or a lesson can pin it. The DDK's
/// optional Allocate and Free routines and Flags are not modelled: a miss
/// is ExAllocatePool, a block beyond the depth is dropped (ExFreePool).
/// A `size` below [`LOOKASIDE_MINIMUM_BLOCK_SIZE`] is bug check 0xC4/0xCD.
pub fn initialize_npaged_lookaside_list(size: usize, tag: u32, depth: u16) -> NPagedLookasideList {
    NPagedLookasideList(GeneralLookaside::initialize(&NPAGED, size, tag, depth))
}

/// ExAllocateFromNPagedLookasideList: a kept block, with whatever bytes it
/// was freed with, or a fresh one from nonpaged pool; `None` if the pool
/// fails. IRQL <= DISPATCH_LEVEL.
pub fn allocate_from_npaged_lookaside_list(list: &NPagedLookasideList) -> Option<Vec<u8>> {
    list.0.allocate()
}

/// ExFreeToNPagedLookasideList: keeps `block` for the next allocation, or
/// frees it to the pool if the list is at its depth. A block whose length
/// is not the list's size is bug check 0xC4/0x16. IRQL <= DISPATCH_LEVEL.
pub fn free_to_npaged_lookaside_list(list: &NPagedLookasideList, block: Vec<u8>) {
    list.0.free(block);
}

/// ExDeleteNPagedLookasideList: frees the kept blocks. Blocks the driver
/// still holds stay valid (they are ordinary pool). IRQL <= DISPATCH_LEVEL.
pub fn delete_npaged_lookaside_list(list: NPagedLookasideList) {
    list.0.delete();
}

/// ExInitializePagedLookasideList (book l.848): as
/// [`initialize_npaged_lookaside_list`] for paged pool; IRQL <= APC_LEVEL.
pub fn initialize_paged_lookaside_list(size: usize, tag: u32, depth: u16) -> PagedLookasideList {
    PagedLookasideList(GeneralLookaside::initialize(&PAGED, size, tag, depth))
}

/// ExAllocateFromPagedLookasideList: a kept block (old bytes and all) or a
/// fresh one from paged pool; `None` if the pool fails. IRQL <= APC_LEVEL.
pub fn allocate_from_paged_lookaside_list(list: &PagedLookasideList) -> Option<Vec<u8>> {
    list.0.allocate()
}

/// ExFreeToPagedLookasideList: as [`free_to_npaged_lookaside_list`];
/// IRQL <= APC_LEVEL.
pub fn free_to_paged_lookaside_list(list: &PagedLookasideList, block: Vec<u8>) {
    list.0.free(block);
}

/// ExDeletePagedLookasideList: as [`delete_npaged_lookaside_list`]; IRQL
/// <= APC_LEVEL.
pub fn delete_paged_lookaside_list(list: PagedLookasideList) {
    list.0.delete();
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
