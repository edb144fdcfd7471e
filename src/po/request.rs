//! PoRequestPowerIrp: a driver asks the power manager for a power IRP to
//! the top of its own stack, and is called back when it finishes
//! (book l.6437, l.6736–6750). The power manager allocates the IRP, sends
//! it, calls the PowerCompletion routine with the final status, and frees
//! it; the routine may not free it or call PoStartNextPowerIrp.

use super::call::call_driver;
use super::states::{PowerAction, PowerSequence, PowerState};
use crate::io::Shared;
use crate::io::codes::*;
use crate::io::device::get_attached_device;
use crate::io::irp::{IoStatusBlock, Parameters};
use crate::io::request::{Buffers, Callback, Request, Waiter};
use crate::io::{CompletionContext, DeviceObject};
use crate::ke::irql::{self, DISPATCH_LEVEL};
use crate::status::{NtStatus, STATUS_INVALID_PARAMETER_2, STATUS_NOT_SUPPORTED, STATUS_PENDING};
use crate::verifier::{self, Rule};

/// A PowerCompletion routine: `(DeviceObject, MinorFunction, PowerState,
/// Context, IoStatus)`.
pub type PowerCompletion = fn(&DeviceObject, u8, PowerState, &CompletionContext, IoStatusBlock);

/// PoRequestPowerIrp: sends a SET_POWER or QUERY_POWER for a device state,
/// or a WAIT_WAKE (with the system state to wake from), to the top of
/// `pdo`'s stack; `completion` runs when it finishes. STATUS_PENDING once
/// sent; STATUS_INVALID_PARAMETER_2 for another minor function or a system
/// state (only the power manager sends those, l.6437).
pub fn request_power_irp(
    pdo: &DeviceObject,
    minor: u8,
    state: PowerState,
    completion: Option<PowerCompletion>,
    context: CompletionContext,
) -> NtStatus {
    irql::check_max_irql("PoRequestPowerIrp", DISPATCH_LEVEL);
    let parameters = match (minor, state) {
        (IRP_MN_SET_POWER | IRP_MN_QUERY_POWER, PowerState::Device(_)) => {
            Parameters::Power { state, shutdown_type: PowerAction::None }
        }
        (IRP_MN_SET_POWER | IRP_MN_QUERY_POWER, PowerState::System(system)) => {
            verifier::io_violation(
                Rule::SystemPowerStateByDriver,
                [u64::from(pdo.id().0), system as u64, 0],
                || format!("PoRequestPowerIrp for {state}: a system state"),
            );
            return STATUS_INVALID_PARAMETER_2;
        }
        (IRP_MN_WAIT_WAKE, PowerState::System(power_state)) => Parameters::WaitWake { power_state },
        _ => return STATUS_INVALID_PARAMETER_2,
    };
    let target = pdo.clone();
    let call = move |io_status: IoStatusBlock| {
        if let Some(completion) = completion {
            completion(&target, minor, state, &context, io_status);
        }
        // A WAIT_WAKE that completes while the system sleeps is the device
        // waking it (book l.6980–6985).
        if minor == IRP_MN_WAIT_WAKE && io_status.status.is_success() {
            super::system::wake_on_device();
        }
    };
    send(pdo, minor, parameters, Waiter::Callback(Callback(Box::new(call))));
    STATUS_PENDING
}

/// Builds a power IRP for the top of `pdo`'s stack, status preset to
/// STATUS_NOT_SUPPORTED, and passes it down with PoCallDriver.
pub(crate) fn send(pdo: &DeviceObject, minor: u8, parameters: Parameters, waiter: Waiter) {
    let top = get_attached_device(pdo);
    let (request, mut irp) =
        Request::build(&top, IRP_MJ_POWER, minor, parameters, Buffers::default(), waiter);
    irp.io_status_mut().status = STATUS_NOT_SUPPORTED;
    call_driver(&top, irp);
    drop(request);
}

/// IRP_MN_POWER_SEQUENCE to `pdo`'s stack, waited for: the bus driver's
/// counts of entries into D1, D2 and D3, or `None` if it keeps none.
pub fn query_power_sequence(pdo: &DeviceObject) -> Option<PowerSequence> {
    let sequence = Shared::new(PowerSequence::default());
    let parameters = Parameters::PowerSequence { sequence: sequence.clone() };
    let status = super::system::send_and_wait(pdo, IRP_MN_POWER_SEQUENCE, parameters);
    status.is_success().then(|| sequence.get())
}
