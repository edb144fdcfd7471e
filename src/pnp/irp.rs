//! The PnP manager's own IRPs: built for the top of a device's stack with
//! IoStatus.Status preset to STATUS_NOT_SUPPORTED (book l.5971), sent from
//! the PnP worker at PASSIVE_LEVEL, waited for.

use crate::io::codes::IRP_MJ_PNP;
use crate::io::device::get_attached_device;
use crate::io::irp::{IoStatusBlock, Parameters};
use crate::io::request::{Buffers, Request, Waiter};
use crate::io::{DeviceObject, call_driver};
use crate::ke::wait_for_single_object;
use crate::status::{NtStatus, STATUS_NOT_SUPPORTED, STATUS_PENDING};

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
    let status = call_driver(&top, irp);
    if status == STATUS_PENDING {
        wait_for_single_object(request.event(), None);
    }
    let io_status =
        request.done().map_or(IoStatusBlock { status, information: 0 }, |d| d.io_status);
    let information = request.pnp_information();
    request.recycle();
    Answer { io_status, information }
}
