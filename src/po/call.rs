//! PoCallDriver, PoStartNextPowerIrp and PoSetPowerState: how power IRPs
//! travel down a stack and what the power manager keeps per device
//! (book l.6427–6431, l.6522–6541).
//!
//! The power manager lets one SET_POWER or QUERY_POWER of each kind
//! (system, device) be active at a device object at a time; another one
//! sent meanwhile is held, as if the driver below had pended it, until the
//! driver holding the current one calls PoStartNextPowerIrp. A device
//! without DO_POWER_PAGABLE gets its power IRPs at DISPATCH_LEVEL; a
//! pageable one at PASSIVE_LEVEL, from a system thread of the power
//! manager's when the IRP was sent at DISPATCH_LEVEL.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};

use super::states::{DevicePowerState, PowerState};
use crate::io::codes::IRP_MJ_POWER;
use crate::io::device::DO_POWER_PAGABLE;
use crate::io::irp::{Parameters, Via, call_driver_via, is_serialized_power, mark_sender_pending};
use crate::io::{DeviceObject, Irp};
use crate::ke::irql::{self, DISPATCH_LEVEL};
use crate::status::{NtStatus, STATUS_PENDING};
use crate::sync::Mutex;
use crate::verifier::{self, Rule};

/// Which power manager queue a power IRP belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    System,
    Device,
}

/// What the power manager keeps for one device object.
#[derive(Debug, Default)]
pub(crate) struct DevicePower {
    /// The state PoSetPowerState last recorded (a DevicePowerState value).
    state: AtomicU8,
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    system_busy: bool,
    device_busy: bool,
    held: VecDeque<(Kind, Irp)>,
}

impl Queue {
    fn busy(&mut self, kind: Kind) -> &mut bool {
        match kind {
            Kind::System => &mut self.system_busy,
            Kind::Device => &mut self.device_busy,
        }
    }
}

impl DevicePower {
    /// The state last recorded with PoSetPowerState.
    pub(crate) fn state(&self) -> DevicePowerState {
        match self.state.load(Ordering::Acquire) {
            1 => DevicePowerState::D0,
            2 => DevicePowerState::D1,
            3 => DevicePowerState::D2,
            4 => DevicePowerState::D3,
            _ => DevicePowerState::Unspecified,
        }
    }
}

/// The serialized kind of a power IRP about to go to the next location.
fn kind_of(irp: &Irp) -> Option<Kind> {
    let next = irp.next_location()?;
    if next.major_function != IRP_MJ_POWER || !is_serialized_power(next.minor_function) {
        return None;
    }
    match next.parameters {
        Parameters::Power { state: PowerState::System(_), .. } => Some(Kind::System),
        Parameters::Power { state: PowerState::Device(_), .. } => Some(Kind::Device),
        _ => None,
    }
}

/// PoCallDriver: passes a power IRP to `device`, holding it if the device
/// is busy with another of its kind (the caller then sees STATUS_PENDING).
pub fn call_driver(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    if let Some(kind) = kind_of(&irp) {
        let mut queue = device.0.power.queue.lock();
        if *queue.busy(kind) {
            mark_sender_pending(&mut irp);
            queue.held.push_back((kind, irp));
            return STATUS_PENDING;
        }
        *queue.busy(kind) = true;
    }
    present(device, irp, Via::Po)
}

/// Calls the driver at the IRQL its DO_POWER_PAGABLE flag asks for: a
/// pageable one at PASSIVE_LEVEL (sent from DISPATCH_LEVEL, say by a
/// completion routine's PoRequestPowerIrp, the IRP is held and presented
/// from a system thread), a non-pageable one at DISPATCH_LEVEL.
fn present(device: &DeviceObject, mut irp: Irp, via: Via) -> NtStatus {
    let irql = irql::get_current_irql();
    if device.flags() & DO_POWER_PAGABLE != 0 {
        if irql < DISPATCH_LEVEL {
            return call_driver_via(device, irp, via);
        }
        mark_sender_pending(&mut irp);
        let device = device.clone();
        let present = move || {
            call_driver_via(&device, irp, Via::Held);
        };
        crate::ps::start_thread(Some("power IRP presenter"), Box::new(present));
        return STATUS_PENDING;
    }
    if irql >= DISPATCH_LEVEL {
        return call_driver_via(device, irp, via);
    }
    let old = irql::raise_irql(DISPATCH_LEVEL);
    let status = call_driver_via(device, irp, via);
    irql::lower_irql(old);
    status
}

/// PoStartNextPowerIrp: the driver is ready for the next power IRP of this
/// kind at its device; a held one is presented, at PASSIVE_LEVEL on a
/// system thread of its own.
pub fn start_next_power_irp(irp: &Irp) {
    let location = irp.current_stack_location();
    let Some(device) = location.device_object().cloned() else { return };
    irp.shared_record().power_started(&device);
    let kind = match location.parameters {
        Parameters::Power { state: PowerState::System(_), .. } => Kind::System,
        Parameters::Power { state: PowerState::Device(_), .. } => Kind::Device,
        _ => return,
    };
    let next = {
        let mut queue = device.0.power.queue.lock();
        match queue.held.iter().position(|(k, _)| *k == kind) {
            Some(at) => queue.held.remove(at),
            None => {
                *queue.busy(kind) = false;
                None
            }
        }
    };
    if let Some((_, held)) = next {
        let name = Some("power IRP presenter");
        crate::ps::start_thread(
            name,
            Box::new(move || {
                present(&device, held, Via::Held);
            }),
        );
    }
    crate::sim::yield_point();
}

/// PoSetPowerState: records `device`'s new device power state and returns
/// the previous one. Drivers may only record device states (l.6530).
pub fn set_power_state(device: &DeviceObject, state: PowerState) -> PowerState {
    irql::check_max_irql("PoSetPowerState", DISPATCH_LEVEL);
    let new = match state {
        PowerState::Device(new) => new,
        PowerState::System(system) => {
            verifier::io_violation(
                Rule::SystemPowerStateByDriver,
                [u64::from(device.id().0), system as u64, 0],
                || format!("PoSetPowerState({state}) on {}: a system state", device.label()),
            );
            return state;
        }
    };
    let previous = device.0.power.state();
    device.0.power.state.store(new as u8, Ordering::Release);
    crate::sim::yield_point();
    PowerState::Device(previous)
}

/// The device state `device` last recorded with PoSetPowerState.
pub fn device_power_state(device: &DeviceObject) -> DevicePowerState {
    device.0.power.state()
}
