//! Heap allocations on the I/O path, counted by a global allocator that
//! wraps the system one (its own test binary, so it counts only here).
//!
//! Issue 3 asks for a read path that allocates nothing after warm-up: the
//! I/O manager takes IRPs, requests and system buffers from per-thread
//! lookaside lists (ex::lookaside) and gives them back at completion.
//! Issue 6 asks the same of the three-layer driver-to-driver path of the
//! `irp_stack_3` benchmark (`wdmsim::bench::Stack3`), and for fewer than
//! 512 bytes of heap per IRP in flight with three stack locations.

// The one unsafe block outside sim/fiber.rs: implementing GlobalAlloc is
// unsafe by definition; this one only counts and forwards to the system.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use wdmsim::bench::{Stack3, install_direct};

use wdmsim::ddk::*;
use wdmsim::drivers::wdm1;
use wdmsim::sync::Mutex;
use wdmsim::win32::*;
use wdmsim::{Machine, io, pnp};

struct Counting;

thread_local! {
    /// Allocations made by this thread (a const initializer: reading it
    /// never allocates).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes this thread allocated less the bytes it freed (whoever
    /// allocated them).
    static NET_BYTES: Cell<i64> = const { Cell::new(0) };
}

fn add_bytes(delta: i64) {
    NET_BYTES.with(|n| n.set(n.get() + delta));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a thread-local Cell with a const initializer, so counting
// neither allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        add_bytes(layout.size() as i64);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add_bytes(-(layout.size() as i64));
        // SAFETY: `ptr` came from `alloc` above, i.e. from System.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        add_bytes(new_size as i64 - layout.size() as i64);
        // SAFETY: as for dealloc; the new size comes from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn net_bytes() -> i64 {
    NET_BYTES.with(Cell::get)
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

/// Allocations `MEASURED` 4-byte reads from a DO_DIRECT_IO device made
/// after `WARM_UP` of them: the memory behind the MDL comes from the
/// thread's lookaside list too.
fn direct_allocations_per_read() -> u64 {
    let path = install_direct(vec![1, 2, 3, 4]).expect("the direct device");
    let h = create_file(&path, GENERIC_READ, 0, OPEN_EXISTING, 0);
    assert_ne!(h, INVALID_HANDLE_VALUE, "CreateFile: {}", get_last_error());
    let read = || {
        let (mut buffer, mut n) = ([0u8; 4], 0);
        read_file(h, &mut buffer, 4, &mut n) && n == 4 && buffer == [1, 2, 3, 4]
    };
    for _ in 0..WARM_UP {
        assert!(read());
    }
    let before = allocations();
    for _ in 0..MEASURED {
        assert!(read());
    }
    let made = allocations() - before;
    assert!(close_handle(h));
    made
}

#[test]
fn a_direct_io_read_allocates_nothing_after_warm_up() {
    let threaded = Machine::threaded().processors(1).run(direct_allocations_per_read).value();
    assert_eq!(threaded, 0, "threaded: {threaded} allocations in {MEASURED} reads");
    let sim = Machine::sim().processors(1).trace(false).run(direct_allocations_per_read).value();
    assert_eq!(sim, 0, "simulated: {sim} allocations in {MEASURED} reads");
}

/// Allocations `MEASURED` three-layer reads (filter → FDO → PDO, each
/// upper layer copying its location and setting a completion routine; the
/// sender allocating and freeing each IRP) made after `WARM_UP` of them.
fn stack3_allocations_per_read() -> u64 {
    let mut stack = Stack3::new().expect("the stack");
    for _ in 0..WARM_UP {
        assert_eq!(stack.read(), 4);
    }
    let before = allocations();
    for _ in 0..MEASURED {
        assert_eq!(stack.read(), 4);
    }
    allocations() - before
}

#[test]
fn a_three_layer_irp_allocates_nothing_after_warm_up() {
    let threaded = Machine::threaded().processors(1).run(stack3_allocations_per_read).value();
    assert_eq!(threaded, 0, "threaded: {threaded} allocations in {MEASURED} IRPs");
    let sim = Machine::sim().processors(1).trace(false).run(stack3_allocations_per_read).value();
    assert_eq!(sim, 0, "simulated: {sim} allocations in {MEASURED} IRPs");
}

/// IRPs held pending at once in the bytes-per-IRP measurement.
const IN_FLIGHT: usize = 1000;

/// The target of issue 6: heap bytes per IRP in flight, three locations.
/// Now (x86-64) a verified IRP holds 504: the body (`IrpInner`, 144
/// bytes), three stack locations (80 each: two kept device references),
/// the shared record in its `Arc` (16 + 80) and its pending checks (3 ×
/// 8); unverified 480.
const BYTES_PER_IRP_MAX: i64 = 512;

/// Net heap bytes and allocations per IRP for `IN_FLIGHT` IRPs of three
/// stack locations held pending at a PDO, measured on a new system thread
/// (its lookaside lists are empty, so every IRP is new memory). The IRPs
/// carry no buffer: this is the IRP alone.
fn bytes_per_held_irp(machine: Machine) -> (i64, u64) {
    machine
        .run(|| {
            let stack = Stack3::holding().expect("the holding stack");
            let result = Arc::new(Mutex::new(None));
            let slot = Arc::clone(&result);
            let sender = ps_create_system_thread(move || {
                let (bytes, count) = (net_bytes(), allocations());
                for _ in 0..IN_FLIGHT {
                    assert!(stack.send_held(), "the PDO holds the IRP");
                }
                let held = (net_bytes() - bytes, allocations() - count);
                assert_eq!(stack.complete_held(), IN_FLIGHT);
                let n = IN_FLIGHT as u64;
                *slot.lock() = Some((held.0 / n as i64, held.1 / n));
            })
            .expect("a system thread");
            ke_wait_for_single_object(&sender, None);
            result.lock().take().expect("the sender measured")
        })
        .value()
}

#[test]
fn an_irp_in_flight_with_three_locations_holds_under_512_bytes() {
    let measured = [
        ("threaded", Machine::threaded().processors(1)),
        ("threaded, no I/O verification", Machine::threaded().processors(1).io_verification(false)),
    ]
    .map(|(what, machine)| (what, bytes_per_held_irp(machine)));
    println!(
        "IoStackLocation: {} bytes (Parameters {}, CompletionContext {})",
        size_of::<IoStackLocation>(),
        size_of::<Parameters>(),
        size_of::<CompletionContext>()
    );
    for (what, (bytes, count)) in measured {
        println!("{what}: {bytes} bytes in {count} allocations per IRP in flight");
    }
    for (what, (bytes, _)) in measured {
        assert!(
            bytes < BYTES_PER_IRP_MAX,
            "{what}: {bytes} bytes per IRP in flight (target < {BYTES_PER_IRP_MAX})"
        );
    }
}
