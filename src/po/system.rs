//! System power transitions: the power manager walks the device tree to put
//! the system to sleep and to wake it (book l.6362–6395, l.6441–6477; spec
//! 02 §4.1–4.3, §4.9).
//!
//! Going to sleep (S1–S4) or shutting down (S5): applications are told
//! (PBT_APMQUERYSUSPEND), every started device gets QUERY_POWER, children
//! before their parents; one failure aborts (the devices already asked get
//! SET_POWER(S0), applications PBT_APMQUERYSUSPENDFAILED). Otherwise
//! PBT_APMSUSPEND, then SET_POWER to every device, children first. Waking
//! sends SET_POWER(S0), parents first, with no query, then
//! PBT_APMRESUMESUSPEND. One transition runs at a time, on the power
//! manager's worker.

use super::call::call_driver;
use super::states::{PowerAction, PowerState, SystemPowerState};
use crate::ex::worker::{WorkQueue, queue_work_item, run_and_wait};
use crate::io::DeviceObject;
use crate::io::codes::{IRP_MJ_POWER, IRP_MN_QUERY_POWER, IRP_MN_SET_POWER};
use crate::io::device::get_attached_device;
use crate::io::irp::{IoStatusBlock, Parameters};
use crate::io::request::{Buffers, Request, Waiter};
use crate::ke::wait_for_single_object;
use crate::sim::system::with_system;
use crate::status::{NtStatus, STATUS_INVALID_DEVICE_STATE, STATUS_NOT_SUPPORTED, STATUS_PENDING};

/// A WM_POWERBROADCAST event, as a Win32 program such as Wdm2Power sees it
/// (the PBT_* value is the enum's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerBroadcast {
    /// PBT_APMQUERYSUSPEND.
    QuerySuspend = 0x0000,
    /// PBT_APMQUERYSUSPENDFAILED.
    QuerySuspendFailed = 0x0002,
    /// PBT_APMSUSPEND.
    Suspend = 0x0004,
    /// PBT_APMRESUMESUSPEND.
    ResumeSuspend = 0x0007,
}

/// The power manager's system-wide state.
#[derive(Debug, Default)]
pub(crate) struct SystemPower {
    state: SystemPowerState,
    broadcasts: Vec<PowerBroadcast>,
}

fn broadcast(event: PowerBroadcast) {
    with_system(|s| s.system_power.lock().broadcasts.push(event));
}

/// The power broadcasts so far, oldest first, and forgets them.
pub fn take_power_broadcasts() -> Vec<PowerBroadcast> {
    with_system(|s| std::mem::take(&mut s.system_power.lock().broadcasts))
}

/// The system power state (S0 once running).
pub fn system_power_state() -> SystemPowerState {
    match with_system(|s| s.system_power.lock().state) {
        SystemPowerState::Unspecified => SystemPowerState::Working,
        state => state,
    }
}

/// Sends a power IRP the power manager itself owns to the top of `pdo`'s
/// stack and waits for it.
pub(crate) fn send_and_wait(pdo: &DeviceObject, minor: u8, parameters: Parameters) -> NtStatus {
    let top = get_attached_device(pdo);
    let (request, mut irp) = Request::build(
        &top,
        IRP_MJ_POWER,
        minor,
        parameters,
        Buffers::default(),
        Waiter::Synchronous,
    );
    irp.io_status_mut().status = STATUS_NOT_SUPPORTED;
    let status = call_driver(&top, irp);
    if status == STATUS_PENDING {
        wait_for_single_object(request.event(), None);
    }
    let io_status =
        request.done().map_or(IoStatusBlock { status, information: 0 }, |d| d.io_status);
    request.recycle();
    io_status.status
}

fn system_irp(
    pdo: &DeviceObject,
    minor: u8,
    state: SystemPowerState,
    action: PowerAction,
) -> NtStatus {
    let parameters = Parameters::Power { state: PowerState::System(state), shutdown_type: action };
    send_and_wait(pdo, minor, parameters)
}

/// Puts the system into `state` (S1–S5) for `action` (Sleep, Hibernate,
/// ShutdownOff, ShutdownReset). Fails with the status of the device that
/// refused the query, or STATUS_INVALID_DEVICE_STATE for S0 (use
/// [`wake_system`]) or when the system is not working.
pub fn set_system_power_state(
    state: SystemPowerState,
    action: PowerAction,
) -> Result<(), NtStatus> {
    if !state.is_sleep() {
        return Err(STATUS_INVALID_DEVICE_STATE);
    }
    run_and_wait(WorkQueue::Power, move || {
        if system_power_state() != SystemPowerState::Working {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        let devices = crate::pnp::started_pdos_children_first();
        broadcast(PowerBroadcast::QuerySuspend);
        for (i, pdo) in devices.iter().enumerate() {
            let status = system_irp(pdo, IRP_MN_QUERY_POWER, state, action);
            if !status.is_success() {
                for asked in &devices[..=i] {
                    system_irp(
                        asked,
                        IRP_MN_SET_POWER,
                        SystemPowerState::Working,
                        PowerAction::None,
                    );
                }
                broadcast(PowerBroadcast::QuerySuspendFailed);
                return Err(status);
            }
        }
        broadcast(PowerBroadcast::Suspend);
        for pdo in &devices {
            system_irp(pdo, IRP_MN_SET_POWER, state, action);
        }
        with_system(|s| s.system_power.lock().state = state);
        Ok(())
    })
}

/// Wakes a sleeping system: SET_POWER(S0) to every started device, parents
/// first (never queried), then PBT_APMRESUMESUSPEND.
pub fn wake_system() -> Result<(), NtStatus> {
    run_and_wait(WorkQueue::Power, wake)
}

fn wake() -> Result<(), NtStatus> {
    if system_power_state() == SystemPowerState::Working {
        return Err(STATUS_INVALID_DEVICE_STATE);
    }
    let mut devices = crate::pnp::started_pdos_children_first();
    devices.reverse();
    for pdo in &devices {
        system_irp(pdo, IRP_MN_SET_POWER, SystemPowerState::Working, PowerAction::None);
    }
    with_system(|s| s.system_power.lock().state = SystemPowerState::Working);
    broadcast(PowerBroadcast::ResumeSuspend);
    Ok(())
}

/// A device's WAIT_WAKE completed: if the system sleeps, the power manager
/// wakes it, on its worker (callable up to DISPATCH_LEVEL).
pub(crate) fn wake_on_device() {
    queue_work_item(
        WorkQueue::Power,
        Box::new(|| {
            // Awake already (or woken meanwhile): nothing to do.
            let _ = wake();
        }),
    );
}
