//! Heap allocations on the I/O path, counted by a global allocator that
//! wraps the system one (its own test binary, so it counts only here).
//!
//! Issue 3 asks for a read path that allocates nothing after warm-up: the
//! I/O manager takes IRPs, requests and system buffers from per-thread
//! lookaside lists (ex::lookaside) and gives them back at completion.

// The one unsafe block outside sim/fiber.rs: implementing GlobalAlloc is
// unsafe by definition; this one only counts and forwards to the system.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use wdmsim::drivers::wdm1;
use wdmsim::win32::*;
use wdmsim::{Machine, io, pnp};

struct Counting;

thread_local! {
    /// Allocations made by this thread (a const initializer: reading it
    /// never allocates).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a thread-local Cell with a const initializer, so counting
// neither allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from System.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as for dealloc; the new size comes from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const WARM_UP: u32 = 100;
const MEASURED: u32 = 1000;

/// Boots Wdm1 with `data` in its buffer, warms the path up with `op`, and
/// returns how many allocations `MEASURED` more calls of `op` made.
fn allocations_per_call(op: fn(Handle) -> bool) -> u64 {
    pnp::install(wdm1::package());
    let node = pnp::add_root_device(wdm1::HARDWARE_ID).expect("start");
    let link = io::get_device_interfaces(&wdm1::WDM1_GUID).remove(0);
    let h = create_file(&io::device_path(&link), GENERIC_READ | GENERIC_WRITE, 0, OPEN_EXISTING, 0);
    let mut n = 0;
    assert!(write_file(h, &[1, 2, 3, 4], 4, &mut n));
    for _ in 0..WARM_UP {
        assert!(op(h));
    }
    let before = allocations();
    let list_before = io::irp_lookaside_counts();
    for _ in 0..MEASURED {
        assert!(op(h));
    }
    let made = allocations() - before;
    // Every IRP came from this thread's lookaside list and went back to it.
    let list = io::irp_lookaside_counts();
    assert_eq!(list.total_allocates - list_before.total_allocates, u64::from(MEASURED));
    assert_eq!(list.allocate_misses, list_before.allocate_misses);
    assert_eq!(list.total_frees - list_before.total_frees, u64::from(MEASURED));
    assert!(close_handle(h));
    pnp::remove_device(node).expect("removal");
    made
}

fn read_4(h: Handle) -> bool {
    let (mut buffer, mut n) = ([0u8; 4], 0);
    read_file(h, &mut buffer, 4, &mut n) && n == 4 && buffer == [1, 2, 3, 4]
}

fn write_4(h: Handle) -> bool {
    let mut n = 0;
    write_file(h, &[1, 2, 3, 4], 4, &mut n) && n == 4
}

fn get_buffer_size(h: Handle) -> bool {
    let (mut size, mut n) = ([0u8; 4], 0);
    device_io_control(h, wdm1::IOCTL_WDM1_GET_BUFFER_SIZE, &[], 0, &mut size, 4, &mut n)
        && size == 4u32.to_le_bytes()
}

#[test]
fn a_threaded_read_write_or_ioctl_allocates_nothing_after_warm_up() {
    for (what, op) in
        [("read", read_4 as fn(Handle) -> bool), ("write", write_4), ("ioctl", get_buffer_size)]
    {
        let made = Machine::threaded().processors(1).run(move || allocations_per_call(op)).value();
        assert_eq!(made, 0, "{what}: {made} allocations in {MEASURED} calls");
    }
}

#[test]
fn a_simulated_read_write_or_ioctl_allocates_nothing_after_warm_up() {
    for (what, op) in
        [("read", read_4 as fn(Handle) -> bool), ("write", write_4), ("ioctl", get_buffer_size)]
    {
        let made =
            Machine::sim().processors(1).trace(false).run(move || allocations_per_call(op)).value();
        assert_eq!(made, 0, "{what}: {made} allocations in {MEASURED} calls");
    }
}
