//! Executive support: pool allocation.

pub mod pool;

pub use pool::{PoolType, allocate_pool, fail_next_allocations};
