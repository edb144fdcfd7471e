//! ExAllocatePool and allocation-failure injection (book l.828–842).
//!
//! Pool memory is a `Vec<u8>` the caller owns (ExFreePool is dropping it).
//! What the simulator adds is the rules (no paged pool above APC_LEVEL,
//! nothing above DISPATCH_LEVEL, no zero-byte request) and deterministic
//! failure injection, so a driver's "allocation failed" path can be run
//! (book l.830, l.3946: drivers must cope with failure).

use std::sync::atomic::Ordering;

use crate::ke::irql::{APC_LEVEL, DISPATCH_LEVEL};
use crate::sim::pcr;
use crate::sim::system::with_system;
use crate::verifier::{self, Rule};

/// POOL_TYPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolType {
    NonPagedPool,
    PagedPool,
    NonPagedPoolMustSucceed,
    NonPagedPoolCacheAligned,
    PagedPoolCacheAligned,
}

impl PoolType {
    fn is_paged(self) -> bool {
        matches!(self, PoolType::PagedPool | PoolType::PagedPoolCacheAligned)
    }
}

/// The largest block the simulated pools grant. Windows 2000's nonpaged pool
/// was a few hundred megabytes in all; a request for more fails, as it would
/// there, instead of exhausting the host.
pub const POOL_BLOCK_MAX: usize = 64 << 20;

/// ExAllocatePool: `size` zeroed bytes, or `None` if the allocation fails
/// (injected failure, or a block beyond [`POOL_BLOCK_MAX`]).
pub fn allocate_pool(pool_type: PoolType, size: usize) -> Option<Vec<u8>> {
    let irql = pcr::irql();
    let rule = if irql > DISPATCH_LEVEL {
        Some(Rule::AllocationAboveDispatch)
    } else if pool_type.is_paged() && irql > APC_LEVEL {
        Some(Rule::PagedAllocationAtDispatch)
    } else if size == 0 {
        Some(Rule::ZeroByteAllocation)
    } else {
        None
    };
    if let Some(rule) = rule {
        verifier::bug_check(
            rule,
            [u64::from(irql.0), pool_type as u64, size as u64],
            format!("ExAllocatePool({pool_type:?}, {size}) at {irql}"),
        );
        return None;
    }
    if size > POOL_BLOCK_MAX || take_injected_failure() {
        return None;
    }
    Some(vec![0; size])
}

/// Makes the next `count` allocations of this machine (ExAllocatePool,
/// IoAllocateIrp, IoBuild…Request) fail.
pub fn fail_next_allocations(count: u32) {
    with_system(|s| s.allocation_failures.store(count, Ordering::Relaxed));
}

/// Consumes one injected failure, if any is left.
pub(crate) fn take_injected_failure() -> bool {
    with_system(|s| {
        s.allocation_failures
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    })
}
