//! Pnp.cpp: DbpAddDevice (book Listing 14.5, l.9577–9595), the PnP
//! dispatch routine and its handlers, ForwardIrpAndWait, LockDevice and
//! UnlockDevice, PnpStopDevice, and DbpPower. The book does not print
//! DebugPrint's PnP code and says it is "largely the same as earlier WDM
//! drivers" (l.9556): this is Wdm2's (book l.5122–5706) with DebugPrint's
//! named device, its interface enabled at START, the event it stores for
//! itself at START, and its queues emptied at STOP and REMOVE (spec 04
//! §2.11).

use std::sync::atomic::Ordering;

use super::dispatch::{cancel_held_read, clear_queues, complete_irp};
use super::extension::DebugPrintDeviceExtension;
use super::{DEBUGPRINT_GUID, DEVICE_NAME, NAME, STARTED_MESSAGE, record};
use crate::ddk::*;
use crate::drivers::forward::forward_irp_and_wait;

pub(super) fn dx(fdo: &DeviceObject) -> &DebugPrintDeviceExtension {
    fdo.extension::<DebugPrintDeviceExtension>()
}

/// DbpAddDevice: the FDO gets the kernel name `\Device\PHDDebugPrint`
/// (Listing 14.5), which the traced drivers open (l.9573); the Monitor
/// finds the device through its interface (l.9575), registered here and
/// enabled at START. A second device cannot have the name: IoCreateDevice
/// fails with STATUS_OBJECT_NAME_COLLISION and nothing is attached
/// (l.9593).
pub(super) fn dbp_add_device(driver: &Driver, pdo: &DeviceObject) -> NtStatus {
    paged_code();
    let extension = DebugPrintDeviceExtension::new();
    let fdo = match io_create_device(
        driver,
        extension,
        Some(DEVICE_NAME),
        FILE_DEVICE_UNKNOWN,
        0,
        false, // Not exclusive (l.9587)
    ) {
        Ok(fdo) => fdo,
        Err(status) => return status,
    };
    let dx = dx(&fdo);
    let link = match io_register_device_interface(pdo, &DEBUGPRINT_GUID, None) {
        Ok(link) => link,
        Err(status) => {
            io_delete_device(&fdo);
            return status;
        }
    };
    let _ = dx.if_sym_link_name.set(link);
    // Without a lower device every PnP IRP is refused with
    // STATUS_DEVICE_NOT_CONNECTED (the book does not check, Wdm2's P-17).
    if let Some(next) = io_attach_device_to_device_stack(&fdo, pdo) {
        let _ = dx.next_stack_device.set(next);
    }
    fdo.set_flags(DO_BUFFERED_IO); // l.9567
    fdo.clear_flags(DO_DEVICE_INITIALIZING);
    STATUS_SUCCESS
}

/// DbpPnp (as Wdm2Pnp, l.5231–5294): every PnP IRP holds the device lock
/// while it is handled, except REMOVE, after which there is no device.
pub(super) fn dbp_pnp(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    paged_code();
    let minor = io_get_current_irp_stack_location(&irp).minor_function;
    let dx = dx(fdo);
    if !lock_device(dx) {
        return complete_irp(irp, STATUS_DELETE_PENDING, 0);
    }
    let status = match minor {
        IRP_MN_START_DEVICE => pnp_start_device_handler(fdo, irp),
        IRP_MN_QUERY_REMOVE_DEVICE => pnp_query_remove_device_handler(fdo, irp),
        IRP_MN_SURPRISE_REMOVAL | IRP_MN_STOP_DEVICE => {
            pnp_stop_device(dx);
            pnp_default_handler(fdo, irp)
        }
        IRP_MN_REMOVE_DEVICE => return pnp_remove_device_handler(fdo, irp),
        IRP_MN_QUERY_STOP_DEVICE => {
            dx.set_paused(true);
            pnp_default_handler(fdo, irp)
        }
        IRP_MN_CANCEL_REMOVE_DEVICE | IRP_MN_CANCEL_STOP_DEVICE => {
            dx.set_paused(false);
            pnp_default_handler(fdo, irp)
        }
        _ => pnp_default_handler(fdo, irp),
    };
    unlock_device(dx);
    status
}

/// PnpDefaultHandler (l.5316): down the stack, not waited for.
fn pnp_default_handler(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    let Some(next) = dx(fdo).next_stack_device.get() else {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    };
    io_skip_current_irp_stack_location(&mut irp);
    io_call_driver(next, irp)
}

/// PnpQueryRemoveDeviceHandler (as Wdm2's, l.5444–5466): no removal while
/// a handle is open, so DebugPrint cannot be removed while a traced driver
/// or the Monitor has it open (l.4091–4093); otherwise hold I/O and let
/// the lower drivers decide.
fn pnp_query_remove_device_handler(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    if dx.open_handle_count.load(Ordering::SeqCst) > 0 {
        return complete_irp(irp, STATUS_UNSUCCESSFUL, 0);
    }
    dx.set_paused(true);
    pnp_default_handler(fdo, irp)
}

/// PnpRemoveDeviceHandler (l.5200–5226 with DebugPrint's ClearQueues):
/// the held read is cancelled and the events freed, the device stopped,
/// the IRP passed down, the interface disabled, and the FDO detached and
/// deleted, taking its kernel name with it (l.9595).
fn pnp_remove_device_handler(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    clear_queues(dx);
    pnp_stop_device(dx);
    let status = pnp_default_handler(fdo, irp);
    if let Some(link) = dx.if_sym_link_name.get() {
        io_set_device_interface_state(link, false);
    }
    if let Some(next) = dx.next_stack_device.get() {
        io_detach_device(next);
    }
    io_delete_device(fdo);
    status
}

/// PnpStartDeviceHandler (l.5561–5580): the lower drivers start first;
/// then I/O is enabled, the interface enabled, and the driver's own event
/// stored (StoreStartedEvent, spec 04 §2.11), so that it is the first
/// thing a Monitor reads (l.4450).
fn pnp_start_device_handler(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let (status, irp) = forward_irp_and_wait(dx(fdo).next_stack_device.get(), irp, || {});
    let Some(irp) = irp else { return status };
    if !status.is_success() {
        let information = irp.io_status().information;
        return complete_irp(irp, status, information);
    }
    let dx = dx(fdo);
    dx.got_resources.store(true, Ordering::SeqCst);
    dx.set_paused(false);
    if let Some(link) = dx.if_sym_link_name.get() {
        io_set_device_interface_state(link, true);
    }
    store_started_event(dx);
    complete_irp(irp, STATUS_SUCCESS, 0)
}

/// StoreStartedEvent: the record a client would write for driver
/// "DebugPrint", message "Version 1.02 started", stamped with the system
/// time (GMT) split into calendar fields (l.9369). If the pool cannot
/// hold it the event is not stored, as a client drops an event it cannot
/// allocate (l.9400).
fn store_started_event(dx: &DebugPrintDeviceExtension) {
    let time = rtl_time_to_time_fields(ke_query_system_time());
    let bytes = record::encode(&time, NAME.as_bytes(), STARTED_MESSAGE.as_bytes());
    let Some(mut event) = ex_allocate_pool(PoolType::NonPagedPool, bytes.len()) else { return };
    event.copy_from_slice(&bytes);
    dx.event_list.acquire().push_back(event);
}

/// LockDevice (l.5664–5680): one more IRP in flight, unless PnpStopDevice
/// is waiting for the device to drain.
pub(super) fn lock_device(dx: &DebugPrintDeviceExtension) -> bool {
    interlocked_increment(&dx.usage_count);
    if dx.stopping.load(Ordering::SeqCst) {
        if interlocked_decrement(&dx.usage_count) == 0 {
            ke_set_event(&dx.stopping_event, 0, false);
        }
        return false;
    }
    true
}

/// UnlockDevice (l.5682–5695): one IRP fewer; the last one wakes
/// PnpStopDevice.
pub(super) fn unlock_device(dx: &DebugPrintDeviceExtension) {
    if interlocked_decrement(&dx.usage_count) == 0 {
        ke_set_event(&dx.stopping_event, 0, false);
    }
}

/// PnpStopDevice (l.5602–5636): refuse new I/O, wait for the I/O in flight
/// (dropping this PnP IRP's lock and the bias), and restore both counts.
///
/// Port deviation (spec 04 §2.11, "stop with a held read"): a held read
/// keeps a usage reference that, with I/O disabled, no write can release,
/// so the wait would never end. The read is cancelled first (STATUS_
/// CANCELLED, 0); the events stay for after the restart (REMOVE frees them
/// in ClearQueues). DbpRead checks IODisabled again under ReadIrpLock
/// before it holds a read, so a read that passed its entry check before
/// the stop cannot slip into the slot after this cancel.
fn pnp_stop_device(dx: &DebugPrintDeviceExtension) {
    dx.io_disabled.store(true, Ordering::SeqCst);
    cancel_held_read(dx);
    if !dx.got_resources.load(Ordering::SeqCst) {
        return;
    }
    dx.stopping.store(true, Ordering::SeqCst);
    ke_reset_event(&dx.stopping_event);
    unlock_device(dx);
    unlock_device(dx);
    ke_wait_for_single_object(&dx.stopping_event, None);
    dx.stopping.store(false, Ordering::SeqCst);
    // StopDevice: DebugPrint has no hardware; it is just not started now.
    dx.got_resources.store(false, Ordering::SeqCst);
    lock_device(dx);
    lock_device(dx);
}

/// DbpPower: DebugPrint owns no power policy; every power IRP goes down
/// after PoStartNextPowerIrp (spec 04 §2.5).
pub(super) fn dbp_power(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    po_start_next_power_irp(&irp);
    let Some(next) = dx(fdo).next_stack_device.get() else {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    };
    io_skip_current_irp_stack_location(&mut irp);
    po_call_driver(next, irp)
}
