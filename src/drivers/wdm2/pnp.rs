//! Pnp.cpp: Wdm2AddDevice, the PnP dispatch routine and its handlers,
//! ForwardIrpAndWait, LockDevice/UnlockDevice and PnpStopDevice (book
//! Listings 9.1–9.12, l.5122–5706), and the QUERY_CAPABILITIES handler
//! (Listing 10.9, l.6915–6960).

use std::sync::atomic::Ordering;

use super::deviceio::{start_device, stop_device};
use super::dispatch::complete_irp;
use super::extension::Wdm2DeviceExtension;
use super::{DEBUGPRINT, WDM2_GUID, is_book};
use crate::ddk::*;
use crate::drivers::debugprint::client::DpArg;
use crate::drivers::forward;

pub(super) fn dx(fdo: &DeviceObject) -> &Wdm2DeviceExtension {
    fdo.extension::<Wdm2DeviceExtension>()
}

/// Wdm2AddDevice (Listing 9.1, l.5122–5195): the FDO starts with I/O
/// disabled and its power off, registers and enables its interface at once
/// (Wdm3 later moves that to START), and registers the PDO for idle
/// detection (30 s conserving, 60 s performance, then D3).
pub(super) fn wdm2_add_device(driver: &Driver, pdo: &DeviceObject) -> NtStatus {
    paged_code();
    DEBUGPRINT.msg(b"AddDevice");
    let extension = Wdm2DeviceExtension::new(pdo);
    let fdo = match io_create_device(driver, extension, None, FILE_DEVICE_UNKNOWN, 0, false) {
        Ok(fdo) => fdo,
        Err(status) => return status,
    };
    DEBUGPRINT.print(b"FDO is %x", &[DpArg::U32(fdo.address())]); // l.5160
    let dx = dx(&fdo);
    po_set_power_state(&fdo, PowerState::Device(dx.power_state())); // l.5160
    let link = match io_register_device_interface(pdo, &WDM2_GUID, None) {
        Ok(link) => link,
        Err(status) => {
            io_delete_device(&fdo);
            return status;
        }
    };
    io_set_device_interface_state(&link, true);
    DEBUGPRINT.print(b"Symbolic Link Name is %T", &[DpArg::Unicode(&link)]); // l.5181
    let _ = dx.if_sym_link_name.set(link);
    // The book does not check for NULL (pitfall P-17); without a lower
    // device every IRP is refused with STATUS_DEVICE_NOT_CONNECTED.
    if let Some(next) = io_attach_device_to_device_stack(&fdo, pdo) {
        let _ = dx.next_stack_device.set(next);
    }
    fdo.set_flags(DO_BUFFERED_IO);
    if !is_book(&fdo) {
        // Deviation (as Wdm3): power IRPs come at PASSIVE_LEVEL, where
        // SendDeviceSetPower may wait (pitfall P-13).
        fdo.set_flags(DO_POWER_PAGABLE);
    }
    if let Some(counter) = po_register_device_for_idle_detection(pdo, 30, 60, DevicePowerState::D3)
    {
        let _ = dx.power_idle_counter.set(counter);
    }
    fdo.clear_flags(DO_DEVICE_INITIALIZING);
    STATUS_SUCCESS
}

/// Wdm2Pnp (Listing 9.3, l.5231–5294): every PnP IRP holds the device
/// lock while it is handled, except REMOVE, after which there is no device.
pub(super) fn wdm2_pnp(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    paged_code();
    let minor = io_get_current_irp_stack_location(&irp).minor_function;
    DEBUGPRINT.print(b"PnP %I", &[DpArg::Irp(&irp)]); // l.5235
    let dx = dx(fdo);
    if !lock_device(dx) {
        return complete_irp(irp, STATUS_DELETE_PENDING, 0);
    }
    let status = match minor {
        IRP_MN_START_DEVICE => pnp_start_device_handler(fdo, irp),
        IRP_MN_QUERY_REMOVE_DEVICE => pnp_query_remove_device_handler(fdo, irp),
        IRP_MN_SURPRISE_REMOVAL => pnp_stop_device_handler(fdo, irp),
        IRP_MN_REMOVE_DEVICE => return pnp_remove_device_handler(fdo, irp),
        IRP_MN_QUERY_STOP_DEVICE => {
            dx.set_paused(true);
            pnp_default_handler(fdo, irp)
        }
        IRP_MN_STOP_DEVICE => pnp_stop_device_handler(fdo, irp),
        IRP_MN_QUERY_CAPABILITIES => pnp_query_capabilities_handler(fdo, irp),
        // On the way down, not up as l.5474 recommends (P-26).
        IRP_MN_CANCEL_REMOVE_DEVICE | IRP_MN_CANCEL_STOP_DEVICE => {
            dx.set_paused(false);
            pnp_default_handler(fdo, irp)
        }
        _ => pnp_default_handler(fdo, irp),
    };
    unlock_device(dx);
    if status != STATUS_SUCCESS {
        DEBUGPRINT.print(b"PnP completed %x", &[DpArg::U32(status.0)]); // l.5296
    }
    status
}

/// PnpDefaultHandler (Listing 9.4, l.5316): down the stack, not waited for.
fn pnp_default_handler(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    let Some(next) = dx(fdo).next_stack_device.get() else {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    };
    io_skip_current_irp_stack_location(&mut irp);
    io_call_driver(next, irp)
}

/// PnpQueryRemoveDeviceHandler (Listing 9.6, l.5444–5466): no removal
/// while a handle is open; otherwise hold I/O and let the lower drivers
/// decide.
fn pnp_query_remove_device_handler(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    let handles = dx.open_handle_count.load(Ordering::SeqCst);
    if handles > 0 {
        let open = DpArg::I32(handles);
        DEBUGPRINT.print(b"PnpQueryRemoveDeviceHandler: %d handles still open", &[open]); // l.5456
        return complete_irp(irp, STATUS_UNSUCCESSFUL, 0);
    }
    dx.set_paused(true);
    pnp_default_handler(fdo, irp)
}

/// The STOP and SURPRISE_REMOVAL handlers (Listing 9.12, l.5697): stop
/// using the device, then pass the IRP down.
fn pnp_stop_device_handler(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    pnp_stop_device(dx(fdo));
    pnp_default_handler(fdo, irp)
}

/// PnpRemoveDeviceHandler (Listing 9.2, l.5200–5226).
fn pnp_remove_device_handler(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
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

/// PnpStartDeviceHandler (Listing 9.8, l.5561–5580): the lower drivers
/// start first, then StartDevice with the translated resources.
fn pnp_start_device_handler(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let (status, irp) = forward_irp_and_wait(fdo, irp);
    let Some(irp) = irp else { return status };
    if !status.is_success() {
        let information = irp.io_status().information;
        return complete_irp(irp, status, information);
    }
    DEBUGPRINT.print(b"PnpStartDeviceHandler: post-processing", &[]); // l.5572
    let translated = match &io_get_current_irp_stack_location(&irp).parameters {
        Parameters::StartDevice { allocated_resources_translated, .. } => {
            allocated_resources_translated.clone()
        }
        _ => None,
    };
    let status = start_device(fdo, translated.as_deref());
    if status.is_success() {
        dx(fdo).set_paused(false);
    }
    complete_irp(irp, status, 0)
}

/// Which system state wants which device state at most (Listing 10.9):
/// D0 when working, D3 in every sleep.
const MOST_POWERED: [(SystemPowerState, DevicePowerState); 6] = [
    (SystemPowerState::Working, DevicePowerState::D0),
    (SystemPowerState::Sleeping1, DevicePowerState::D3),
    (SystemPowerState::Sleeping2, DevicePowerState::D3),
    (SystemPowerState::Sleeping3, DevicePowerState::D3),
    (SystemPowerState::Hibernate, DevicePowerState::D3),
    (SystemPowerState::Shutdown, DevicePowerState::D3),
];

/// PnpQueryCapabilitiesHandler (Listing 10.9, l.6915–6960): after the bus
/// filled DeviceState, each entry left unspecified or less powered than
/// Wdm2's wish becomes the wish (SetMostPoweredState).
fn pnp_query_capabilities_handler(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let (status, irp) = forward_irp_and_wait(fdo, irp);
    let Some(irp) = irp else { return status };
    if status.is_success()
        && let Parameters::QueryCapabilities { capabilities } =
            &io_get_current_irp_stack_location(&irp).parameters
    {
        let from_bus = capabilities.with(|c| c.device_state);
        for system in &SystemPowerState::ALL[1..] {
            let state = from_bus[*system as usize];
            DEBUGPRINT.print(
                b"Capabilities from bus: DeviceState[%d]=%d", // l.6941
                &[DpArg::I32(*system as i32), DpArg::I32(state as i32)],
            );
        }
        capabilities.with_mut(|c| {
            for (system, ours) in MOST_POWERED {
                let bus = c.device_state_for(system);
                if bus == DevicePowerState::Unspecified || bus > ours {
                    c.set_device_state_for(system, ours);
                }
            }
        });
    }
    let information = irp.io_status().information;
    complete_irp(irp, status, information)
}

/// ForwardIrpAndWait (Listing 9.7, l.5508–5530), with its trace lines.
fn forward_irp_and_wait(fdo: &DeviceObject, irp: Irp) -> (NtStatus, Option<Irp>) {
    let waiting = || DEBUGPRINT.msg(b"ForwardIrpAndWait: waiting for completion"); // l.5524
    let (status, back) =
        forward::forward_irp_and_wait(dx(fdo).next_stack_device.get(), irp, waiting);
    if back.is_some() && status != STATUS_SUCCESS {
        DEBUGPRINT.print(b"ForwardIrpAndWait: completed %x", &[DpArg::U32(status.0)]); // l.5533
    }
    (status, back)
}

/// LockDevice (Listing 9.11, l.5664–5680): one more IRP in flight, unless
/// PnpStopDevice is waiting for the device to drain.
pub(super) fn lock_device(dx: &Wdm2DeviceExtension) -> bool {
    interlocked_increment(&dx.usage_count);
    if dx.stopping.load(Ordering::SeqCst) {
        if interlocked_decrement(&dx.usage_count) == 0 {
            ke_set_event(&dx.stopping_event, 0, false);
        }
        return false;
    }
    true
}

/// UnlockDevice (Listing 9.11, l.5682–5695): one IRP fewer; the last one
/// wakes PnpStopDevice.
pub(super) fn unlock_device(dx: &Wdm2DeviceExtension) {
    if interlocked_decrement(&dx.usage_count) == 0 {
        DEBUGPRINT.msg(b"UnlockDevice: setting StoppingEvent flag"); // l.5689
        ke_set_event(&dx.stopping_event, 0, false);
    }
}

/// PnpStopDevice (Listing 9.9, l.5602–5636): refuse new I/O, wait for the
/// I/O in flight (dropping this PnP IRP's lock and the bias), release the
/// resources, and restore both counts.
fn pnp_stop_device(dx: &Wdm2DeviceExtension) {
    dx.io_disabled.store(true, Ordering::SeqCst);
    if !dx.got_resources.load(Ordering::SeqCst) {
        return;
    }
    dx.stopping.store(true, Ordering::SeqCst);
    ke_reset_event(&dx.stopping_event);
    unlock_device(dx);
    unlock_device(dx);
    ke_wait_for_single_object(&dx.stopping_event, None);
    DEBUGPRINT.print(b"PnpStopDevice: All pending I/O completed", &[]); // l.5629
    dx.stopping.store(false, Ordering::SeqCst);
    stop_device(dx);
    lock_device(dx);
    lock_device(dx);
}
