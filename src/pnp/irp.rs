//! The PnP manager's own IRPs: built for the top of a device's stack with
//! IoStatus.Status preset to STATUS_NOT_SUPPORTED (book l.5971), sent from
//! the PnP worker at PASSIVE_LEVEL, waited for.

use crate::io::codes::{
    IRP_MJ_PNP, IRP_MN_CANCEL_REMOVE_DEVICE, IRP_MN_CANCEL_STOP_DEVICE, IRP_MN_REMOVE_DEVICE,
    IRP_MN_SURPRISE_REMOVAL, function_name,
};
use crate::io::device::get_attached_device;
use crate::io::irp::{IoStatusBlock, Parameters};
use crate::io::request::{Buffers, Request, Waiter};
use crate::io::{DeviceObject, call_driver};
use crate::ke::wait_for_single_object;
use crate::status::{NtStatus, STATUS_NOT_SUPPORTED, STATUS_PENDING};
use crate::verifier::{self, Rule};

use super::query::PnpInformation;

/// How a PnP IRP came back.
#[derive(Debug)]
pub(super) struct Answer {
    pub io_status: IoStatusBlock,
    pub information: Option<PnpInformation>,
}

impl Answer {
    pub(super) fn status(&self) -> NtStatus {
        self.io_status.status
    }
}

/// Sends PnP `minor` with `parameters` to the top of `pdo`'s stack and
/// waits for it to finish.
pub(super) fn send(pdo: &DeviceObject, minor: u8, parameters: Parameters) -> Answer {
    send_information(pdo, minor, parameters, None)
}

/// As [`send`], with IoStatus.Information already pointing at `information`
/// (FILTER_RESOURCE_REQUIREMENTS carries the list in).
pub(super) fn send_information(
    pdo: &DeviceObject,
    minor: u8,
    parameters: Parameters,
    information: Option<PnpInformation>,
) -> Answer {
    let top = get_attached_device(pdo);
    let (request, mut irp) = Request::build(
        &top,
        IRP_MJ_PNP,
        minor,
        parameters,
        Buffers::default(),
        Waiter::Synchronous,
    );
    irp.io_status_mut().status = STATUS_NOT_SUPPORTED;
    irp.set_pnp_information(information);
    let number = irp.number();
    let status = call_driver(&top, irp);
    if status == STATUS_PENDING {
        wait_for_single_object(request.event(), None);
    }
    let io_status =
        request.done().map_or(IoStatusBlock { status, information: 0 }, |d| d.io_status);
    let information = request.pnp_information();
    request.recycle();
    if may_not_fail(minor) && !io_status.status.is_success() {
        verifier::io_violation(
            Rule::PnpRemoveFailed,
            [u64::from(minor), u64::from(number), u64::from(io_status.status.0)],
            || {
                format!(
                    "{} failed {} with {}",
                    top.label(),
                    function_name(IRP_MJ_PNP, minor),
                    io_status.status
                )
            },
        );
    }
    Answer { io_status, information }
}

/// The PnP IRPs a driver may not fail (DDI rule PnpRemove).
fn may_not_fail(minor: u8) -> bool {
    matches!(
        minor,
        IRP_MN_REMOVE_DEVICE
            | IRP_MN_SURPRISE_REMOVAL
            | IRP_MN_CANCEL_REMOVE_DEVICE
            | IRP_MN_CANCEL_STOP_DEVICE
    )
}
