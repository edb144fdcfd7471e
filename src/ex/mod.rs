//! Executive support: pool allocation and lookaside lists.

pub(crate) mod lookaside;
pub mod pool;
pub(crate) mod worker;

pub use lookaside::LookasideCounts;
pub use pool::{PoolType, allocate_pool, fail_next_allocations};
