//! InterlockedIncrement and InterlockedDecrement: the atomic operations
//! drivers keep their counts with (book l.5664–5695).
//!
//! On x86 Windows 2000 these are exported kernel functions, and a thread
//! can be preempted between any two of them; here each is a scheduling
//! point, so the interleavings the book's LockDevice allows (an I/O request
//! that passed the IODisabled test meeting `Stopping`, spec 02 §2.4.7) are
//! reachable. In threaded mode they are plain atomic operations.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::sim;

/// InterlockedIncrement: adds one, returns the new value.
pub fn interlocked_increment(addend: &AtomicI32) -> i32 {
    sim::yield_point();
    addend.fetch_add(1, Ordering::SeqCst).wrapping_add(1)
}

/// InterlockedDecrement: subtracts one, returns the new value.
pub fn interlocked_decrement(addend: &AtomicI32) -> i32 {
    sim::yield_point();
    addend.fetch_sub(1, Ordering::SeqCst).wrapping_sub(1)
}
