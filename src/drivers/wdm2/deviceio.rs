//! DeviceIo.cpp: StartDevice, StopDevice, RetrieveResources and
//! SetPowerState (book l.5714–5922, Listing 9.13, Listing 10.7 l.6840–6855).
//! Wdm2 has no hardware: the mapping, interrupt connection and power
//! switching the book shows commented out are left out here.

use std::sync::atomic::Ordering;

use super::extension::{Wdm2DeviceExtension, Wdm2Resources};
use super::pnp::dx;
use super::trace;
use crate::ddk::*;

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
        trace(format_args!("RetrieveResources: No allocated translated resources"));
        return STATUS_SUCCESS;
    };
    trace(format_args!("RetrieveResources: 1 resource lists {} resources", list.descriptors.len()));
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
                trace(format_args!(
                    "RetrieveResources: Port {:x}{:x} Length {} NeedsMapping {}",
                    start >> 32,
                    start & 0xFFFF_FFFF,
                    length,
                    u8::from(!io_space)
                ));
            }
            PartialResource::Interrupt { level, vector, affinity, mode } => {
                found.got_interrupt = true;
                found.irql = *level;
                found.vector = *vector;
                found.affinity = *affinity;
                found.mode = Some(*mode);
                trace(format_args!(
                    "RetrieveResources: Interrupt vector {vector:x} IRQL {level} Affinity {affinity} Mode {}",
                    u8::from(*mode == InterruptMode::Latched)
                ));
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
                trace(format_args!(
                    "RetrieveResources: Memory {:x}{:x} Length {}",
                    start >> 32,
                    start & 0xFFFF_FFFF,
                    length
                ));
            }
            other => {
                trace(format_args!(
                    "RetrieveResources: Unrecognised resource type {}",
                    resource_type(other)
                ));
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
    trace(format_args!("SetPowerState {}", new as u8));
    dx(fdo).set_power_state(new);
    po_set_power_state(fdo, PowerState::Device(new));
}
