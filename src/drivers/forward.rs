//! ForwardIrpAndWait and ForwardedIrpCompletionRoutine (book Listing 9.7,
//! l.5508–5536): Wdm2's, which DebugPrint's unprinted PnP code shares
//! ("largely the same as earlier WDM drivers", l.9556).

use std::sync::Arc;

use crate::ddk::*;
use crate::sync::Mutex;

/// The context of ForwardedIrpCompletionRoutine: the event the book puts
/// on the stack, and the IRP the routine hands back.
struct Forwarded {
    event: Event,
    irp: Mutex<Option<Irp>>,
}

/// ForwardIrpAndWait (l.5508–5530): the lower drivers (`next`, the device
/// below) handle the IRP first; it comes back to this driver, which must
/// complete it. `waiting` runs before the wait if the IRP pended (Wdm2
/// traces it, l.5524). PASSIVE_LEVEL only. The IRP is `None` only if there
/// is no device below (the IRP is then completed with
/// STATUS_DEVICE_NOT_CONNECTED) or the completion routine never ran, which
/// the three invoke flags rule out.
pub(crate) fn forward_irp_and_wait(
    next: Option<&DeviceObject>,
    mut irp: Irp,
    waiting: impl FnOnce(),
) -> (NtStatus, Option<Irp>) {
    let Some(next) = next else {
        *irp.io_status_mut() =
            IoStatusBlock { status: STATUS_DEVICE_NOT_CONNECTED, information: 0 };
        io_complete_request(irp, IO_NO_INCREMENT);
        return (STATUS_DEVICE_NOT_CONNECTED, None);
    };
    let forwarded = Arc::new(Forwarded {
        event: Event::new(EventType::NotificationEvent, false),
        irp: Mutex::new(None),
    });
    io_copy_current_irp_stack_location_to_next(&mut irp);
    let context: CompletionContext = Some(forwarded.clone());
    io_set_completion_routine(
        &mut irp,
        forwarded_irp_completion_routine,
        context,
        true,
        true,
        true,
    );
    let mut status = io_call_driver(next, irp);
    if status == STATUS_PENDING {
        waiting();
        ke_wait_for_single_object(&forwarded.event, None);
    }
    let back = forwarded.irp.lock().take();
    if let Some(irp) = &back
        && status == STATUS_PENDING
    {
        status = irp.io_status().status;
    }
    (status, back)
}

/// ForwardedIrpCompletionRoutine (l.5532–5536): keeps the IRP for its
/// forwarder (STATUS_MORE_PROCESSING_REQUIRED) and wakes it.
fn forwarded_irp_completion_routine(
    _fdo: Option<&DeviceObject>,
    irp: Irp,
    context: &CompletionContext,
) -> Completion {
    let Some(forwarded) = context.as_deref().and_then(|c| c.downcast_ref::<Forwarded>()) else {
        return Completion::Continue(irp);
    };
    *forwarded.irp.lock() = Some(irp);
    ke_set_event(&forwarded.event, 0, false);
    Completion::MoreProcessingRequired
}
