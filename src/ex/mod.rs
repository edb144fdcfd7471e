//! Executive support: pool allocation and lookaside lists.

pub(crate) mod lookaside;
pub mod pool;
pub(crate) mod worker;

pub use lookaside::{
    GeneralLookaside, LOOKASIDE_MINIMUM_BLOCK_SIZE, LookasideCounts, NPagedLookasideList,
    PagedLookasideList, allocate_from_npaged_lookaside_list, allocate_from_paged_lookaside_list,
    delete_npaged_lookaside_list, delete_paged_lookaside_list, free_to_npaged_lookaside_list,
    free_to_paged_lookaside_list, initialize_npaged_lookaside_list,
    initialize_paged_lookaside_list,
};
pub use pool::{PoolType, allocate_pool, fail_next_allocations};
