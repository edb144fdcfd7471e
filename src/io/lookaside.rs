//! The I/O manager's lookaside lists: IRPs, the requests behind Win32 calls,
//! and system buffers, kept per host thread (NT keeps its IRP lists per
//! processor) so a steady stream of requests allocates nothing.
//!
//! An entry comes back only when nothing else refers to it, cleared of every
//! reference into a machine (files, requests, buffers), so what a list keeps
//! cannot change what any machine sees: only how often it allocates. The
//! one exception is an IRP body's device references, kept hidden so the
//! next IRP through the same devices takes none; they go when their device
//! is deleted (from this thread's lists at once; a body in flight drops it
//! when disposed; a body on another thread's list when next used) and when
//! the thread leaves its machine.
//! Overflow is dropped after the list is released, because dropping may
//! free entries of another list.

use std::cell::RefCell;
use std::sync::Arc;

use super::buffer::UserMemory;
use super::device::DeviceObject;
use super::irp::IrpInner;
use super::request::Request;
use crate::ex::lookaside::{Lookaside, LookasideCounts};

/// How many entries of each kind a thread keeps.
const DEPTH: usize = 32;

/// Buffers larger than this go back to the heap.
const BUFFER_KEEP_MAX: usize = 64 << 10;

struct Lists {
    irps: Lookaside<Box<IrpInner>>,
    requests: Lookaside<Arc<Request>>,
    buffers: Lookaside<Vec<u8>>,
    /// The memory a synchronous caller's direct or neither I/O is done in.
    memories: Lookaside<UserMemory>,
}

thread_local! {
    static LISTS: RefCell<Lists> = const {
        RefCell::new(Lists {
            irps: Lookaside::new(DEPTH),
            requests: Lookaside::new(DEPTH),
            buffers: Lookaside::new(DEPTH),
            memories: Lookaside::new(DEPTH),
        })
    };
}

/// An entry of the list `list` picks, if it has one. (A closure picks the
/// list, not a function pointer: a pointer call is not inlined, and this
/// is the I/O path.)
#[inline]
fn take<T>(list: impl FnOnce(&mut Lists) -> &mut Lookaside<T>) -> Option<T> {
    LISTS.try_with(|l| list(&mut l.borrow_mut()).allocate()).ok().flatten()
}

/// Keeps `entry` and, if given, a system buffer, in one visit to the lists.
/// What a list has no room for is dropped after the lists are released
/// (dropping it may give to another list). During thread teardown the
/// lists are gone and everything is just dropped.
#[inline]
fn give<T>(list: impl FnOnce(&mut Lists) -> &mut Lookaside<T>, entry: T, buffer: Option<Vec<u8>>) {
    match buffer {
        // Apart: the tuple and the second list cost the common case.
        None => drop(LISTS.try_with(move |l| list(&mut l.borrow_mut()).free(entry))),
        Some(buffer) => {
            let keep = buffer.capacity() <= BUFFER_KEEP_MAX;
            let overflow = LISTS.try_with(move |l| {
                let mut lists = l.borrow_mut();
                let entry = list(&mut lists).free(entry);
                (entry, if keep { lists.buffers.free(buffer) } else { Some(buffer) })
            });
            drop(overflow);
        }
    }
}

/// A kept IRP body (cleared by [`IrpInner::clear`]) and a kept request,
/// in one visit to the lists: a Win32 call needs both.
pub(crate) fn take_irp_and_request() -> (Option<Box<IrpInner>>, Option<Arc<Request>>) {
    LISTS
        .try_with(|l| {
            let mut lists = l.borrow_mut();
            (lists.irps.allocate(), lists.requests.allocate())
        })
        .unwrap_or_default()
}

/// Drops the device references this thread's kept IRP bodies hold (see
/// [`super::irp::IoStackLocation`]): every one when the thread leaves its
/// machine, or those to `device` when it is deleted. They are dropped
/// after the lists are released: a device's extension may hold IRPs.
pub(crate) fn forget_devices(device: Option<&DeviceObject>) {
    let mut forgotten = Vec::new();
    let _ = LISTS.try_with(|l| {
        for body in l.borrow_mut().irps.kept_mut() {
            body.forget_devices(device, &mut forgotten);
        }
    });
    drop(forgotten);
}

/// A kept IRP body (cleared by [`IrpInner::clear`]), if any.
pub(crate) fn take_irp() -> Option<Box<IrpInner>> {
    take(|l| &mut l.irps)
}

/// Keeps a cleared IRP body and its system buffer.
pub(crate) fn give_irp(irp: Box<IrpInner>, buffer: Option<Vec<u8>>) {
    give(|l| &mut l.irps, irp, buffer);
}

/// Keeps a cleared request and the output buffer it kept.
pub(crate) fn give_request(request: Arc<Request>, buffer: Option<Vec<u8>>) {
    give(|l| &mut l.requests, request, buffer);
}

/// `length` zeroed bytes for a system buffer.
pub(crate) fn take_buffer(length: usize) -> Vec<u8> {
    match take(|l| &mut l.buffers) {
        Some(mut buffer) => {
            buffer.clear();
            buffer.resize(length, 0);
            buffer
        }
        None => vec![0; length],
    }
}

/// Caller memory holding a copy of `bytes`, for a synchronous caller's
/// direct or neither I/O.
pub(crate) fn take_memory(bytes: &[u8]) -> UserMemory {
    match take(|l| &mut l.memories) {
        Some(memory) => {
            memory.refill(bytes);
            memory
        }
        None => UserMemory::new(bytes.to_vec()),
    }
}

/// Gives such memory back once its call is over; kept only if nothing
/// else can still reach it.
pub(crate) fn give_memory(memory: UserMemory) {
    if memory.is_unique() && memory.capacity() <= BUFFER_KEEP_MAX {
        give(|l| &mut l.memories, memory, None);
    }
}

/// The counters of this thread's IRP lookaside list (what the `!lookaside`
/// debugger extension shows for IopLargeIrpLookasideList).
pub fn irp_lookaside_counts() -> LookasideCounts {
    LISTS.try_with(|l| l.borrow().irps.counts).unwrap_or_default()
}
