//! Power.cpp: Wdm2Power and its helpers (book Listings 10.2–10.8,
//! l.6569–6890; spec 02 §4.5). Wdm2 is its device's power policy owner:
//! system states map to D0 (working) or D3 (any sleep); it powers down
//! before the lower drivers see a power-down IRP and powers up in
//! completion routines, after they have.
//!
//! The book calls PoStartNextPowerIrp before passing a power-up IRP down
//! and again in its completion routine (P-16), not at all when it refuses
//! a power IRP (P-12), and waits for its device IRP inside the system
//! IRP's completion routine (P-13). The correct port calls it once on
//! every path and, on the way up, holds the system IRP until the device
//! IRP it requested has finished, without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::deviceio::set_power_state;
use super::dispatch::complete_irp;
use super::pnp::{dx, lock_device, unlock_device};
use super::{DEBUGPRINT, is_book};
use crate::ddk::*;
use crate::drivers::debugprint::client::DpArg;
use crate::sync::Mutex;

/// Wdm2Power (Listing 10.2, l.6569–6590): only a started device handles
/// power IRPs; SET_POWER is PowerSetPower's, the rest go down.
pub(super) fn wdm2_power(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    if dx.io_disabled() {
        return refuse(fdo, irp, STATUS_DEVICE_NOT_CONNECTED);
    }
    if !lock_device(dx) {
        return refuse(fdo, irp, STATUS_DELETE_PENDING);
    }
    let minor = io_get_current_irp_stack_location(&irp).minor_function;
    DEBUGPRINT.print(b"Power %I", &[DpArg::Irp(&irp)]); // l.6578
    let status = if minor == IRP_MN_SET_POWER {
        power_set_power(fdo, irp)
    } else {
        default_power_handler(fdo, irp)
    };
    // Even while the IRP is still pending below (P-15, both variants).
    unlock_device(dx);
    status
}

/// Completes a power IRP Wdm2 will not handle.
fn refuse(fdo: &DeviceObject, irp: Irp, status: NtStatus) -> NtStatus {
    // The book forgets PoStartNextPowerIrp here (P-12): the power manager
    // then never sends the device another power IRP of this kind.
    if !is_book(fdo) {
        po_start_next_power_irp(&irp);
    }
    complete_irp(irp, status, 0)
}

/// DefaultPowerHandler (l.6592–6600): as Wdm1Power, straight down.
fn default_power_handler(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    po_start_next_power_irp(&irp);
    let Some(next) = dx(fdo).next_stack_device.get() else {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    };
    io_skip_current_irp_stack_location(&mut irp);
    po_call_driver(next, irp)
}

/// The device state Wdm2 wants in a system state (l.6445): D0 only when
/// working (an unspecified state counts as working).
fn device_state_for(system: SystemPowerState) -> DevicePowerState {
    if system <= SystemPowerState::Working { DevicePowerState::D0 } else { DevicePowerState::D3 }
}

/// The power state a SET_POWER or QUERY_POWER carries.
fn power_state_of(irp: &Irp) -> Option<PowerState> {
    match io_get_current_irp_stack_location(irp).parameters {
        Parameters::Power { state, .. } => Some(state),
        _ => None,
    }
}

/// PowerSetPower (Listing 10.3, l.6603–6695).
fn power_set_power(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    match power_state_of(&irp) {
        Some(PowerState::System(system)) => {
            let desired = device_state_for(system);
            if desired < dx.power_state() {
                DEBUGPRINT.print(
                    b"System state %d. Increase device power to %d", // l.6624
                    &[DpArg::I32(system as i32), DpArg::I32(desired as i32)],
                );
                return pass_down_power_up(fdo, irp, on_complete_increase_system_power);
            }
            if desired > dx.power_state() {
                DEBUGPRINT.print(
                    b"System state %d. Decrease device power to %d", // l.6638
                    &[DpArg::I32(system as i32), DpArg::I32(desired as i32)],
                );
                let status = send_device_set_power(fdo, desired);
                if !status.is_success() {
                    po_start_next_power_irp(&irp);
                    return complete_irp(irp, status, 0);
                }
            }
        }
        Some(PowerState::Device(desired)) => {
            if desired < dx.power_state() {
                let desired_state = DpArg::I32(desired as i32);
                DEBUGPRINT.print(b"Increase device power to %d", &[desired_state]); // l.6665
                return pass_down_power_up(fdo, irp, on_complete_increase_device_power);
            }
            if desired > dx.power_state() {
                let desired_state = DpArg::I32(desired as i32);
                DEBUGPRINT.print(b"Decrease device power to %d", &[desired_state]); // l.6679
                set_power_state(fdo, desired);
            }
        }
        // The book prints the PowerType (l.6691); a port IRP without power
        // parameters has none to print.
        None => DEBUGPRINT.msg(b"Power: unrecognised power type"),
    }
    default_power_handler(fdo, irp)
}

/// The way up (l.6441): the lower drivers power up first, `routine` does
/// the rest as the IRP comes back.
fn pass_down_power_up(fdo: &DeviceObject, mut irp: Irp, routine: CompletionRoutine) -> NtStatus {
    po_start_next_power_irp(&irp);
    let Some(next) = dx(fdo).next_stack_device.get() else {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    };
    io_copy_current_irp_stack_location_to_next(&mut irp);
    io_set_completion_routine(&mut irp, routine, None, true, true, true);
    if is_book(fdo) {
        return po_call_driver(next, irp);
    }
    // In the correct port a system IRP may finish after this routine
    // returns (it waits for a device IRP, P-13): pending from here.
    io_mark_irp_pending(&mut irp);
    po_call_driver(next, irp);
    STATUS_PENDING
}

/// OnCompleteIncreaseSystemPower (Listing 10.4, l.6709–6730): the lower
/// drivers are at the new system state; now the device itself.
fn on_complete_increase_system_power(
    fdo: Option<&DeviceObject>,
    mut irp: Irp,
    _context: &CompletionContext,
) -> Completion {
    if irp.pending_returned() {
        io_mark_irp_pending(&mut irp);
    }
    let status = irp.io_status().status;
    DEBUGPRINT.print(b"OnCompleteIncreaseSystemPower %x", &[DpArg::U32(status.0)]); // l.6718
    let Some(fdo) = fdo.filter(|_| status.is_success()) else {
        return Completion::Continue(irp);
    };
    let Some(PowerState::System(system)) = power_state_of(&irp) else {
        return Completion::Continue(irp);
    };
    // A device IRP may have powered the device up meanwhile (l.6705).
    let desired = device_state_for(system);
    let wanted = desired < dx(fdo).power_state();
    if is_book(fdo) {
        if wanted {
            // P-13: waits for the device IRP here, at DISPATCH_LEVEL.
            send_device_set_power(fdo, desired);
        }
        po_start_next_power_irp(&irp); // P-16: the second call for this IRP
        return Completion::Continue(irp);
    }
    if wanted {
        return hold_for_device_set_power(fdo, irp, desired);
    }
    Completion::Continue(irp)
}

/// The correct port's system power-up: keep the system IRP, ask for the
/// device IRP, and let its PowerCompletion routine complete the system
/// IRP (the DDK's pattern; no wait in a completion routine).
fn hold_for_device_set_power(
    fdo: &DeviceObject,
    irp: Irp,
    desired: DevicePowerState,
) -> Completion {
    let held = Arc::new(HeldSystemIrp { fdo: fdo.clone(), irp: Mutex::new(Some(irp)) });
    let context: CompletionContext = Some(held.clone());
    let status = request_device_set_power(fdo, desired, on_complete_held_device_set_power, context);
    if status == STATUS_PENDING {
        return Completion::MoreProcessingRequired;
    }
    // Not sent: the system IRP finishes as the lower drivers left it.
    let irp = held.irp.lock().take();
    match irp {
        Some(irp) => Completion::Continue(irp),
        None => Completion::MoreProcessingRequired,
    }
}

/// A system IRP held until the device IRP it waits for has finished.
struct HeldSystemIrp {
    fdo: DeviceObject,
    irp: Mutex<Option<Irp>>,
}

/// The PowerCompletion routine of the correct port's power-up device IRP:
/// the system IRP goes on up with the lower drivers' status, as the
/// book's does (its completion routine's own return is ignored).
fn on_complete_held_device_set_power(
    _device: &DeviceObject,
    _minor: u8,
    state: PowerState,
    context: &CompletionContext,
    io_status: IoStatusBlock,
) {
    let Some(held) = context.as_deref().and_then(|c| c.downcast_ref::<HeldSystemIrp>()) else {
        return;
    };
    if let PowerState::Device(new) = state {
        check_device_power_state(&held.fdo, new, io_status.status);
    }
    let irp = held.irp.lock().take();
    if let Some(irp) = irp {
        io_complete_request(irp, IO_NO_INCREMENT);
    }
}

/// OnCompleteIncreaseDevicePower (Listing 10.6, l.6810–6830): the lower
/// drivers have powered up; now Wdm2 does.
fn on_complete_increase_device_power(
    fdo: Option<&DeviceObject>,
    mut irp: Irp,
    _context: &CompletionContext,
) -> Completion {
    if irp.pending_returned() {
        io_mark_irp_pending(&mut irp);
    }
    let status = irp.io_status().status;
    DEBUGPRINT.print(b"OnCompleteIncreaseDevicePower %x", &[DpArg::U32(status.0)]); // l.6819
    let Some(fdo) = fdo.filter(|_| status.is_success()) else {
        return Completion::Continue(irp);
    };
    if let Some(PowerState::Device(new)) = power_state_of(&irp) {
        set_power_state(fdo, new);
    }
    if is_book(fdo) {
        po_start_next_power_irp(&irp); // P-16: the second call for this IRP
    }
    Completion::Continue(irp)
}

/// SDSP (Listing 10.5): what OnCompleteDeviceSetPower hands back.
struct Sdsp {
    event: Event,
    status: AtomicU32,
}

/// SendDeviceSetPower (Listing 10.5, l.6752–6790): asks the power manager
/// for a device SET_POWER to this stack and waits for it. PASSIVE_LEVEL
/// only: the book also calls it at DISPATCH_LEVEL (P-13).
fn send_device_set_power(fdo: &DeviceObject, new: DevicePowerState) -> NtStatus {
    let sdsp = Arc::new(Sdsp {
        event: Event::new(EventType::NotificationEvent, false),
        status: AtomicU32::new(STATUS_SUCCESS.0),
    });
    let context: CompletionContext = Some(sdsp.clone());
    let mut status = request_device_set_power(fdo, new, on_complete_device_set_power, context);
    if status == STATUS_PENDING {
        ke_wait_for_single_object(&sdsp.event, None);
        status = NtStatus(sdsp.status.load(Ordering::SeqCst));
    }
    check_device_power_state(fdo, new, status);
    status
}

/// PoRequestPowerIrp for a device SET_POWER to `new` on Wdm2's stack.
fn request_device_set_power(
    fdo: &DeviceObject,
    new: DevicePowerState,
    completion: PowerCompletion,
    context: CompletionContext,
) -> NtStatus {
    DEBUGPRINT.print(b"SendDeviceSetPower to %d", &[DpArg::I32(new as i32)]); // l.6761
    let state = PowerState::Device(new);
    po_request_power_irp(&dx(fdo).pdo, IRP_MN_SET_POWER, state, Some(completion), context)
}

/// The W98 workaround (l.6748, l.6899): a device IRP that succeeded
/// without reaching Wdm2 still changes its state.
fn check_device_power_state(fdo: &DeviceObject, new: DevicePowerState, status: NtStatus) {
    if status.is_success() && dx(fdo).power_state() != new {
        DEBUGPRINT.msg(b"SendDeviceSetPower: Device state not set properly by us. Setting again"); // l.6785
        set_power_state(fdo, new);
    }
}

/// OnCompleteDeviceSetPower (l.6792–6800): the power manager's callback;
/// no PoStartNextPowerIrp here (l.6744).
fn on_complete_device_set_power(
    _device: &DeviceObject,
    _minor: u8,
    _state: PowerState,
    context: &CompletionContext,
    io_status: IoStatusBlock,
) {
    let Some(sdsp) = context.as_deref().and_then(|c| c.downcast_ref::<Sdsp>()) else {
        return;
    };
    sdsp.status.store(io_status.status.0, Ordering::SeqCst);
    ke_set_event(&sdsp.event, 0, false);
}

/// PowerUpDevice (Listing 10.8, l.6864–6885): D0 before any I/O, and the
/// idle clock starts again.
pub(super) fn power_up_device(fdo: &DeviceObject) -> NtStatus {
    let dx = dx(fdo);
    if dx.power_state() > DevicePowerState::D0 {
        let status = send_device_set_power(fdo, DevicePowerState::D0);
        if !status.is_success() {
            return status;
        }
    }
    if let Some(counter) = dx.power_idle_counter.get() {
        po_set_device_busy(counter);
    }
    STATUS_SUCCESS
}
