//! Pnp.cpp: Wdm1AddDevice, Wdm1Pnp and Wdm1Power (book l.1974–2114,
//! l.3007–3091, l.3171–3204).

use std::sync::OnceLock;

use super::{DEBUGPRINT, WDM1_GUID};
use crate::ddk::*;
use crate::drivers::debugprint::client::DpArg;

/// WDM1_DEVICE_EXTENSION (book l.2988–2993). The fdo back-pointer is the
/// device object dispatch routines are given.
#[derive(Debug, Default)]
pub(super) struct Wdm1DeviceExtension {
    /// What IoAttachDeviceToDeviceStack returned.
    next_stack_device: OnceLock<DeviceObject>,
    /// The interface's symbolic link name.
    if_sym_link_name: OnceLock<String>,
}

/// Wdm1AddDevice (book l.1974–2017).
pub(super) fn wdm1_add_device(driver: &Driver, pdo: &DeviceObject) -> NtStatus {
    paged_code();
    DEBUGPRINT.msg(b"AddDevice");
    let fdo = match io_create_device(
        driver,
        Wdm1DeviceExtension::default(),
        None,
        FILE_DEVICE_UNKNOWN,
        0,
        false,
    ) {
        Ok(fdo) => fdo,
        Err(status) => return status, // l.1987
    };
    DEBUGPRINT.print(b"FDO is %x", &[DpArg::U32(fdo.address())]); // l.1994
    let dx = fdo.extension::<Wdm1DeviceExtension>();
    let link = match io_register_device_interface(pdo, &WDM1_GUID, None) {
        Ok(link) => link,
        Err(status) => {
            io_delete_device(&fdo); // l.2003
            return status;
        }
    };
    io_set_device_interface_state(&link, true); // l.2006, result ignored
    DEBUGPRINT.print(b"Symbolic Link Name is %T", &[DpArg::Unicode(&link)]); // l.2008
    let _ = dx.if_sym_link_name.set(link);
    if let Some(next) = io_attach_device_to_device_stack(&fdo, pdo) {
        let _ = dx.next_stack_device.set(next); // l.2012
    }
    fdo.set_flags(DO_BUFFERED_IO | DO_POWER_PAGABLE); // l.2017
    fdo.clear_flags(DO_DEVICE_INITIALIZING); // l.3091
    STATUS_SUCCESS
}

/// Wdm1Pnp (book l.2025–2082): every PnP IRP goes down; on REMOVE the
/// device disables its interface, detaches and deletes itself.
pub(super) fn wdm1_pnp(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    paged_code();
    let minor = io_get_current_irp_stack_location(&irp).minor_function;
    DEBUGPRINT.print(b"PnP %I", &[DpArg::Irp(&irp)]); // l.2050
    let dx = fdo.extension::<Wdm1DeviceExtension>();
    let Some(next) = dx.next_stack_device.get() else {
        return complete(irp, STATUS_DEVICE_NOT_CONNECTED);
    };
    io_skip_current_irp_stack_location(&mut irp);
    let status = io_call_driver(next, irp);
    if minor == IRP_MN_REMOVE_DEVICE {
        DEBUGPRINT.print(b"PnP RemoveDevice", &[]); // l.2068
        if let Some(link) = dx.if_sym_link_name.get() {
            io_set_device_interface_state(link, false);
        }
        io_detach_device(next);
        io_delete_device(fdo);
    }
    status
}

/// Wdm1Power (book l.2107–2114): passed down with PoCallDriver.
pub(super) fn wdm1_power(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    paged_code();
    DEBUGPRINT.print(b"Power %I", &[DpArg::Irp(&irp)]); // l.2107
    po_start_next_power_irp(&irp);
    let Some(next) = fdo.extension::<Wdm1DeviceExtension>().next_stack_device.get() else {
        return complete(irp, STATUS_DEVICE_NOT_CONNECTED);
    };
    io_skip_current_irp_stack_location(&mut irp);
    po_call_driver(next, irp)
}

/// The next device, for Wdm1SystemControl.
pub(super) fn next_stack_device(fdo: &DeviceObject) -> Option<&DeviceObject> {
    fdo.extension::<Wdm1DeviceExtension>().next_stack_device.get()
}

fn complete(irp: Irp, status: NtStatus) -> NtStatus {
    super::dispatch::complete_irp(irp, status, 0)
}
