//! Dispatch.cpp: the DebugPrint dispatch routines (book l.9559–9876; spec
//! 04 §2.5–2.10). Writes append one event each to EventList; a read takes
//! one event, or waits in the one-slot read queue for the next write;
//! DbpCancelIrp, DbpCleanup and ClearQueues take a held read back.
//!
//! The rule every completer of a held read follows in the default port:
//! whoever gets the non-null cancel routine back from IoSetCancelRoutine
//! owns the IRP; a completer that gets null leaves the IRP in the slot for
//! the cancel routine, which the I/O manager has already claimed (spec 04
//! INV-06). Lock order: ReadIrpLock, then EventListLock; the cancel spin
//! lock is released before ReadIrpLock is taken (INV-14). The book's
//! variant breaks the rule where the book does (races R1 and R2).

use super::extension::DebugPrintDeviceExtension;
use super::is_book;
use super::pnp::{dx, lock_device, unlock_device};
use crate::ddk::*;

/// CompleteIrp: sets IoStatus, completes, returns the status.
pub(super) fn complete_irp(mut irp: Irp, status: NtStatus, information: usize) -> NtStatus {
    *irp.io_status_mut() = IoStatusBlock { status, information };
    io_complete_request(irp, IO_NO_INCREMENT);
    status
}

/// DbpCreate: no handle while I/O is disabled; otherwise count it, for the
/// QUERY_REMOVE veto (l.9565; spec 04 §2.5). Creates come from the traced
/// drivers' threads and from the Monitor.
pub(super) fn dbp_create(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    if dx.io_disabled() {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    }
    interlocked_increment(&dx.open_handle_count);
    complete_irp(irp, STATUS_SUCCESS, 0)
}

/// DbpClose: always succeeds, even on a removed device, so handles can be
/// closed (l.9565).
pub(super) fn dbp_close(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    interlocked_decrement(&dx(fdo).open_handle_count);
    complete_irp(irp, STATUS_SUCCESS, 0)
}

/// DbpDeviceControl: DebugPrint defines no IOCTL; every code succeeds with
/// no data while the device is started (spec 04 §2.5).
pub(super) fn dbp_device_control(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    if dx(fdo).io_disabled() {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    }
    complete_irp(irp, STATUS_SUCCESS, 0)
}

/// DbpSystemControl: WMI IRPs go down unchanged while the device is
/// started (spec 04 §2.5).
pub(super) fn dbp_system_control(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    if dx.io_disabled() {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    }
    let Some(next) = dx.next_stack_device.get() else {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    };
    io_skip_current_irp_stack_location(&mut irp);
    io_call_driver(next, irp)
}

/// DbpRead (Listing 14.7, l.9644–9686): one event at once if there is
/// one, else the read waits in the slot for the next write. A second read
/// while one waits fails (l.9563), whatever is queued.
pub(super) fn dbp_read(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    // The listing's `!dx->IODisabled` is a scrape artefact (spec 04 §6).
    if dx.io_disabled() {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0); // l.9648
    }
    if !lock_device(dx) {
        return complete_irp(irp, STATUS_DELETE_PENDING, 0); // l.9650
    }
    let mut slot = dx.read_irp.acquire(); // l.9652–9655
    if slot.is_some() {
        // Only one listening read allowed at a time (l.9657–9663).
        drop(slot);
        unlock_device(dx);
        return complete_irp(irp, STATUS_UNSUCCESSFUL, 0);
    }
    // ReadEvent on the fresh IRP (l.9668): it has no cancel routine yet,
    // so nobody else can complete it.
    let event = dx.event_list.acquire().pop_front();
    if let Some(event) = event {
        read_event(irp, &event);
        drop(slot);
        unlock_device(dx);
        return STATUS_SUCCESS;
    }
    // Port (both variants, part of spec 04 §2.11 "stop with a held read"):
    // a read that passed the IODisabled test before a STOP, SURPRISE_
    // REMOVAL or REMOVE began must not be held after PnpStopDevice emptied
    // the slot, or the stop would wait for its usage reference for ever.
    // The stop sets IODisabled before it takes ReadIrpLock, so one of the
    // two sees the other.
    if dx.io_disabled() {
        drop(slot);
        unlock_device(dx);
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    }
    if is_book(fdo) {
        return queue_read_book(dx, slot, irp);
    }
    // Port deviation "install-before-publish" (spec 04 §2.7 4a–4c), all
    // under ReadIrpLock. 4a: cancellable first.
    irp.io_status_mut().information = 0;
    io_set_cancel_routine(&mut irp, Some(dbp_cancel_irp));
    // 4b: cancelled before it could be queued (R1). If the routine comes
    // back, nobody else will ever see this IRP; if it does not, the I/O
    // manager has claimed it and DbpCancelIrp will find the IRP in the
    // slot once this routine releases ReadIrpLock (R1').
    if irp.cancel() && io_set_cancel_routine(&mut irp, None).is_some() {
        drop(slot);
        unlock_device(dx);
        return complete_irp(irp, STATUS_CANCELLED, 0);
    }
    // 4c: publish last, so no write can see an IRP that is not yet marked
    // pending (R4 cannot happen).
    io_mark_irp_pending(&mut irp);
    *slot = Some(irp);
    STATUS_PENDING
}

/// The book's queueing (l.9676–9684): publish the IRP, release
/// ReadIrpLock, then make it cancellable, never looking at `Irp->Cancel`.
///
/// Race R1: a cancel that arrives before the routine is installed (while
/// DbpRead runs, or in the window after the lock is released) finds no
/// cancel routine and is lost; the read waits for the next write.
///
/// Race R4 (a write serving the read in that window, after which the book
/// marks a completed IRP pending and sets its cancel routine) cannot be
/// written in Rust: the IRP moves into the slot, so DbpRead can reach it
/// again only under ReadIrpLock, and only if it is still there. So it is
/// marked pending while DbpRead still owns it (the book does that after
/// publishing), and the routine is installed only on the IRP found in the
/// slot under its number.
fn queue_read_book(
    dx: &DebugPrintDeviceExtension,
    mut slot: SpinLockGuard<'_, Option<Irp>>,
    mut irp: Irp,
) -> NtStatus {
    let number = irp.number();
    irp.io_status_mut().information = 0; // l.9681
    io_mark_irp_pending(&mut irp); // l.9679 (lines after l.9681 lost in the scrape)
    *slot = Some(irp); // l.9676
    drop(slot); // l.9677–9678
    let mut slot = dx.read_irp.acquire();
    if let Some(held) = slot.as_mut().filter(|held| held.number() == number) {
        io_set_cancel_routine(held, Some(dbp_cancel_irp)); // l.9679
    }
    STATUS_PENDING
}

/// ReadEvent (Listing 14.10, l.9838–9876), once the event is removed from
/// the head of EventList: `min(event length, read length)` bytes are
/// copied and the rest of a longer event is lost (l.9862), so a read of 0
/// bytes consumes a whole event; the cancel routine is removed and the
/// read completes with the count. Called holding ReadIrpLock (l.9834).
///
/// The IoSetCancelRoutine(NULL) of l.9868 ignores what it returns, as the
/// book does: a fresh IRP has no routine, and the default port has
/// already claimed the held IRP's routine (see [`serve_held_read`]).
fn read_event(mut irp: Irp, event: &[u8]) -> NtStatus {
    let read_len = match io_get_current_irp_stack_location(&irp).parameters {
        Parameters::Read { length, .. } => length as usize,
        _ => 0,
    };
    let mut count = event.len().min(read_len); // l.9862
    match irp.system_buffer_mut() {
        Some(buffer) => {
            count = count.min(buffer.len());
            buffer[..count].copy_from_slice(&event[..count]); // l.9866
        }
        None => count = 0,
    }
    io_set_cancel_routine(&mut irp, None); // l.9868
    complete_irp(irp, STATUS_SUCCESS, count) // l.9870
}

/// DbpWrite (Listing 14.9, l.9773–9831): the written bytes become one
/// event at the tail of EventList, stored unparsed; then a held read gets
/// the oldest event. The held read completes before the write (INV-11).
/// The byte offset is ignored (l.9763).
pub(super) fn dbp_write(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    if dx.io_disabled() {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0); // l.9777
    }
    if !lock_device(dx) {
        return complete_irp(irp, STATUS_DELETE_PENDING, 0); // l.9779
    }
    let write_len = match io_get_current_irp_stack_location(&irp).parameters {
        Parameters::Write { length, .. } => length as usize, // l.9787
        _ => 0,
    };
    if write_len == 0 {
        // No event, and a held read is not touched (l.9789).
        unlock_device(dx);
        return complete_irp(irp, STATUS_SUCCESS, 0);
    }
    // The list link and length of DEBUGPRINT_EVENT are the VecDeque's and
    // the Vec's own; the pool block holds the data (l.9797–9799).
    let Some(mut event) = ex_allocate_pool(PoolType::NonPagedPool, write_len) else {
        unlock_device(dx);
        return complete_irp(irp, STATUS_INSUFFICIENT_RESOURCES, 0); // l.9801
    };
    let Some(data) = irp.system_buffer().and_then(|buffer| buffer.get(..write_len)) else {
        // A buffered write always has its system buffer.
        unlock_device(dx);
        return complete_irp(irp, STATUS_INVALID_PARAMETER, 0);
    };
    event.copy_from_slice(data); // l.9808
    dx.event_list.acquire().push_back(event); // l.9812
    {
        let mut slot = dx.read_irp.acquire(); // l.9814–9817
        serve_held_read(fdo, dx, &mut slot); // l.9819–9822
    }
    unlock_device(dx);
    complete_irp(irp, STATUS_SUCCESS, write_len) // l.9829
}

/// The write path's `if (dx->ReadIrp!=NULL) if (ReadEvent(dx,
/// dx->ReadIrp)) dx->ReadIrp = NULL;` (l.9819–9822), holding ReadIrpLock:
/// with a read held and an event queued, the read takes the oldest event
/// and leaves the slot; its usage reference goes (book l.10685).
///
/// Port deviation "claim-before-complete" (spec 04 §2.8): the held read's
/// cancel routine is exchanged to null first. If that returns null the
/// I/O manager has claimed the routine, which is waiting for ReadIrpLock
/// to complete the read as cancelled: the read and the event are left
/// alone, and the event goes to the next read. The book ignores the
/// result (race R2): it completes the read with data, then DbpCancelIrp
/// completes it again.
fn serve_held_read(fdo: &DeviceObject, dx: &DebugPrintDeviceExtension, slot: &mut Option<Irp>) {
    let mut events = dx.event_list.acquire();
    let (Some(held), false) = (slot.as_mut(), events.is_empty()) else { return };
    if !is_book(fdo) && io_set_cancel_routine(held, None).is_none() {
        return;
    }
    // Both are there: the slot and the list were seen under the locks held.
    let (Some(read), Some(event)) = (slot.take(), events.pop_front()) else { return };
    drop(events);
    read_event(read, &event);
    unlock_device(dx);
}

/// DbpCancelIrp (Listing 14.8, l.9737–9757): called at DISPATCH_LEVEL
/// holding the cancel spin lock, with `Cancel` set; releases the lock at
/// once (l.9733; the listing's lines are lost in the scrape), then takes the IRP out of the slot if it is the held
/// read and completes it STATUS_CANCELLED, 0.
///
/// Port deviation "complete-only-if-dequeued" (spec 04 §2.9, as the book's
/// WdmIoCancelIrp does, l.10914): an IRP not found in the slot is not
/// completed. Every other completer leaves a read whose routine was
/// claimed, so in the default port that case does not happen. The book
/// completes "whatever Irp it is" (l.9756): after a write served the read
/// (race R2) that is the IRP's second completion, bug check 0x44.
pub(super) fn dbp_cancel_irp(fdo: &DeviceObject, cancelled: &CancelledIrp) {
    io_release_cancel_spin_lock(cancelled.cancel_irql());
    let dx = dx(fdo);
    let found = {
        let mut slot = dx.read_irp.acquire(); // l.9742–9745
        if slot.as_ref().is_some_and(|held| cancelled.is(held)) {
            slot.take() // l.9747–9750
        } else {
            None
        }
    };
    match found {
        Some(read) => {
            unlock_device(dx);
            complete_irp(read, STATUS_CANCELLED, 0); // l.9756
        }
        None if is_book(fdo) => cancelled.complete_without_owning(), // l.9756, R2
        None => {
            debug_assert!(false, "DbpCancelIrp: IRP {} is not the held read", cancelled.number())
        }
    }
}

/// Takes the held read out of the slot if `wanted` says so and its cancel
/// routine can be claimed; `None` leaves a claimed read to DbpCancelIrp
/// (race R6, spec 04 §2.10–2.11).
fn take_held_read(dx: &DebugPrintDeviceExtension, wanted: impl Fn(&Irp) -> bool) -> Option<Irp> {
    let mut slot = dx.read_irp.acquire();
    let held = slot.as_mut().filter(|held| wanted(held))?;
    io_set_cancel_routine(held, None)?;
    slot.take()
}

/// Completes a read taken from the slot as cancelled, after its usage
/// reference goes, holding no spin lock (book l.11019).
fn complete_cancelled(dx: &DebugPrintDeviceExtension, read: Irp) {
    unlock_device(dx);
    complete_irp(read, STATUS_CANCELLED, 0);
}

/// The held read, whoever issued it, completes STATUS_CANCELLED, 0 (the
/// first half of ClearQueues; PnpStopDevice's port deviation).
pub(super) fn cancel_held_read(dx: &DebugPrintDeviceExtension) {
    if let Some(read) = take_held_read(dx, |_| true) {
        complete_cancelled(dx, read);
    }
}

/// ClearQueues (spec 04 §2.11 \[src\]): at REMOVE the held read is
/// cancelled and every queued event freed. The source completes the read
/// without removing its cancel routine, contrary to l.9642; the port
/// claims it first. The events go under ReadIrpLock, like every other
/// removal from EventList.
pub(super) fn clear_queues(dx: &DebugPrintDeviceExtension) {
    cancel_held_read(dx);
    let _slot = dx.read_irp.acquire();
    dx.event_list.acquire().clear();
}

/// DbpCleanup, the port's IRP_MJ_CLEANUP handler (spec 04 §2.10; the book
/// has none, l.9727, though it says a driver ought to, l.9689, l.9717):
/// the held read is cancelled only if it was issued on the file object
/// being cleaned up (l.11015), and it completes before the cleanup IRP.
/// Queued events are not per handle and stay. Works when I/O is disabled
/// and takes no usage reference.
pub(super) fn dbp_cleanup(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    let file = io_get_current_irp_stack_location(&irp).file_object.clone();
    let same_file =
        |held: &Irp| file.is_some() && io_get_current_irp_stack_location(held).file_object == file;
    if let Some(read) = take_held_read(dx, same_file) {
        complete_cancelled(dx, read);
    }
    complete_irp(irp, STATUS_SUCCESS, 0)
}
