//! DeviceIo.cpp: StartDevice, StopDevice, RetrieveResources and
//! SetPowerState (book l.5714–5922, Listing 9.13, Listing 10.7 l.6840–6855).
//! Wdm2 has no hardware: the mapping, interrupt connection and power
//! switching the book shows commented out are left out here.

use std::sync::atomic::Ordering;

use super::DEBUGPRINT;
use super::extension::{Wdm2DeviceExtension, Wdm2Resources};
use super::pnp::dx;
use crate::ddk::*;
use crate::drivers::debugprint::client::DpArg;

/// StartDevice (l.5889–5905): a second START (after a rebalance that kept
/// the resources) changes nothing; otherwise check the resources, note
/// them, and power the device up.
pub(super) fn start_device(fdo: &DeviceObject, translated: Option<&CmResourceList>) -> NtStatus {
    let dx = dx(fdo);
    if dx.got_resources.load(Ordering::SeqCst) {
        return STATUS_SUCCESS;
    }
    let status = retrieve_resources(dx, translated);
    if !status.is_success() {
        return status;
    }
    dx.got_resources.store(true, Ordering::SeqCst);
    // "StartDevice powers up its device" (l.5905): directly, as a power IRP
    // to itself would meet IODisabled, still set (spec 02 §2.4.6).
    set_power_state(fdo, DevicePowerState::D0);
    STATUS_SUCCESS
}

/// StopDevice (l.5718): releases the resources (Wdm2 holds none).
pub(super) fn stop_device(dx: &Wdm2DeviceExtension) {
    dx.got_resources.store(false, Ordering::SeqCst);
}

/// A descriptor's CM_RESOURCE_TYPE number, as the trace of an unrecognised
/// one prints it.
fn resource_type(resource: &PartialResource) -> u8 {
    match resource {
        PartialResource::Port { .. } => 1,
        PartialResource::Interrupt { .. } => 2,
        PartialResource::Memory { .. } => 3,
        PartialResource::Dma { .. } => 4,
        PartialResource::DeviceSpecific { .. } => 5,
        PartialResource::BusNumber { .. } => 6,
    }
}

/// RetrieveResources (Listing 9.13, l.5766–5885): at most one port or
/// memory range and any interrupt; anything else, or a second range, is
/// STATUS_DEVICE_CONFIGURATION_ERROR. No resources at all is fine.
fn retrieve_resources(dx: &Wdm2DeviceExtension, translated: Option<&CmResourceList>) -> NtStatus {
    let Some(list) = translated.filter(|list| !list.is_empty()) else {
        DEBUGPRINT.msg(b"RetrieveResources: No allocated translated resources"); // l.5776
        return STATUS_SUCCESS;
    };
    let resources = DpArg::I32(list.descriptors.len() as i32);
    DEBUGPRINT
        .print(b"RetrieveResources: %d resource lists %d resources", &[DpArg::I32(1), resources]); // l.5789
    let mut found = Wdm2Resources::default();
    let mut got_error = false;
    for descriptor in &list.descriptors {
        match &descriptor.resource {
            PartialResource::Port { start, length, io_space } => {
                if found.got_port_or_memory {
                    got_error = true;
                    continue;
                }
                found.got_port_or_memory = true;
                found.port_start_address = *start;
                found.port_length = *length;
                found.port_needs_mapping = !io_space;
                found.port_in_io_space = *io_space;
                // The book prints the BOOLEAN with %c (l.5827): FALSE is a
                // NUL, which ends the line.
                DEBUGPRINT.print(
                    b"RetrieveResources: Port %x%x Length %d NeedsMapping %c",
                    &[
                        DpArg::U32((start >> 32) as u32),
                        DpArg::U32(*start as u32),
                        DpArg::I32(*length as i32),
                        DpArg::Char(u8::from(!io_space)),
                    ],
                );
            }
            PartialResource::Interrupt { level, vector, affinity, mode } => {
                found.got_interrupt = true;
                found.irql = *level;
                found.vector = *vector;
                found.affinity = *affinity;
                found.mode = Some(*mode);
                DEBUGPRINT.print(
                    b"RetrieveResources: Interrupt vector %x IRQL %d Affinity %d Mode %d", // l.5844
                    &[
                        DpArg::U32(*vector),
                        DpArg::I32(*level as i32),
                        DpArg::I32(*affinity as i32),
                        DpArg::I32(i32::from(*mode == InterruptMode::Latched)),
                    ],
                );
            }
            PartialResource::Memory { start, length } => {
                if found.got_port_or_memory {
                    got_error = true;
                    continue;
                }
                found.got_port_or_memory = true;
                found.port_start_address = *start;
                found.port_length = *length;
                found.port_needs_mapping = true;
                DEBUGPRINT.print(
                    b"RetrieveResources: Memory %x%x Length %d", // l.5861
                    &[
                        DpArg::U32((start >> 32) as u32),
                        DpArg::U32(*start as u32),
                        DpArg::I32(*length as i32),
                    ],
                );
            }
            other => {
                DEBUGPRINT.print(
                    b"RetrieveResources: Unrecognised resource type %d", // l.5873
                    &[DpArg::I32(i32::from(resource_type(other)))],
                );
                got_error = true;
            }
        }
    }
    *dx.resources.lock() = found;
    if got_error { STATUS_DEVICE_CONFIGURATION_ERROR } else { STATUS_SUCCESS }
}

/// SetPowerState (Listing 10.7, l.6840–6855): note the new state and tell
/// the power manager.
pub(super) fn set_power_state(fdo: &DeviceObject, new: DevicePowerState) {
    DEBUGPRINT.print(b"SetPowerState %d", &[DpArg::I32(new as i32)]); // l.6844
    dx(fdo).set_power_state(new);
    po_set_power_state(fdo, PowerState::Device(new));
}
