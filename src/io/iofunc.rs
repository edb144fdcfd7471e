//! IoBuildDeviceIoControlRequest, IoBuildSynchronousFsdRequest and
//! IoBuildAsynchronousFsdRequest: IRPs a driver builds to send to another.
//!
//! Each returns the IRP, ready for IoCallDriver, and an [`IoStatusHandle`]:
//! the caller's IO_STATUS_BLOCK and output buffer, filled when the request
//! finishes. The synchronous builders also set the caller's event then.

use std::fmt;
use std::sync::Arc;

use super::buffer::UserMemory;
use super::codes::{
    IRP_MJ_DEVICE_CONTROL, IRP_MJ_INTERNAL_DEVICE_CONTROL, IRP_MJ_READ, IRP_MJ_WRITE,
};
use super::device::DeviceObject;
use super::irp::{IoStatusBlock, Irp, Parameters};
use super::request::{Buffers, Caller, Request, Waiter};
use crate::ke::irql::{self, DISPATCH_LEVEL, PASSIVE_LEVEL};
use crate::ke::{Event, EventType};

/// The caller's side of a built request.
#[derive(Clone)]
pub struct IoStatusHandle {
    request: Arc<Request>,
    output: Option<UserMemory>,
}

impl fmt::Debug for IoStatusHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoStatusHandle").field("io_status", &self.io_status()).finish()
    }
}

impl IoStatusHandle {
    /// The IO_STATUS_BLOCK, once the request finished and the I/O manager
    /// wrote it (not for an error that was never marked pending).
    pub fn io_status(&self) -> Option<IoStatusBlock> {
        self.request
            .done()
            .filter(|d| d.pending_returned || !d.io_status.status.is_error())
            .map(|d| d.io_status)
    }

    /// The output buffer as the caller sees it now.
    pub fn output(&self) -> Vec<u8> {
        self.output.as_ref().map(UserMemory::to_vec).unwrap_or_default()
    }
}

/// IoBuildDeviceIoControlRequest: an IRP_MJ_(INTERNAL_)DEVICE_CONTROL for
/// `device` with `input` and an output buffer of `output_length` bytes;
/// `event` is set when it finishes. `None` under allocation failure.
pub fn build_device_io_control_request(
    io_control_code: u32,
    device: &DeviceObject,
    input: &[u8],
    output_length: u32,
    internal: bool,
    event: &Event,
) -> Option<(Irp, IoStatusHandle)> {
    irql::check_max_irql("IoBuildDeviceIoControlRequest", PASSIVE_LEVEL);
    if crate::ex::pool::take_injected_failure() {
        return None;
    }
    let output = UserMemory::zeroed(output_length as usize);
    let buffers = Buffers::device_control(
        io_control_code,
        input,
        Some(Caller::Memory(output.clone())),
        output_length as usize,
    );
    let major = if internal { IRP_MJ_INTERNAL_DEVICE_CONTROL } else { IRP_MJ_DEVICE_CONTROL };
    let parameters = Parameters::DeviceIoControl {
        output_buffer_length: output_length,
        input_buffer_length: input.len() as u32,
        io_control_code,
        type3_input_buffer: None,
    };
    let (request, irp) =
        Request::build(device, major, 0, parameters, buffers, Waiter::Event(event.clone()));
    Some((irp, IoStatusHandle { request, output: Some(output) }))
}

fn fsd_request(
    major: u8,
    device: &DeviceObject,
    buffer: &[u8],
    length: u32,
    byte_offset: i64,
    event: Event,
) -> (Irp, IoStatusHandle) {
    let mut bytes = buffer.to_vec();
    if bytes.len() < length as usize {
        bytes.resize(length as usize, 0);
    }
    let memory = UserMemory::new(bytes);
    let read = major == IRP_MJ_READ;
    let buffers = match major {
        IRP_MJ_READ | IRP_MJ_WRITE => {
            Buffers::read_write(device, Caller::Memory(memory.clone()), length as usize, read)
        }
        _ => Buffers::default(),
    };
    let parameters = match major {
        IRP_MJ_READ => Parameters::Read { length, key: 0, byte_offset },
        IRP_MJ_WRITE => Parameters::Write { length, key: 0, byte_offset },
        _ => Parameters::None,
    };
    let (request, irp) =
        Request::build(device, major, 0, parameters, buffers, Waiter::Event(event));
    (irp, IoStatusHandle { request, output: Some(memory) })
}

/// IoBuildSynchronousFsdRequest: a READ, WRITE, FLUSH_BUFFERS or SHUTDOWN
/// for `device`; for a write `buffer` holds the data, for a read its first
/// `length` bytes receive it. `event` is set when it finishes.
pub fn build_synchronous_fsd_request(
    major: u8,
    device: &DeviceObject,
    buffer: &[u8],
    length: u32,
    byte_offset: i64,
    event: &Event,
) -> Option<(Irp, IoStatusHandle)> {
    irql::check_max_irql("IoBuildSynchronousFsdRequest", PASSIVE_LEVEL);
    if crate::ex::pool::take_injected_failure() {
        return None;
    }
    Some(fsd_request(major, device, buffer, length, byte_offset, event.clone()))
}

/// IoBuildAsynchronousFsdRequest: as the synchronous builder, without an
/// event; callable up to DISPATCH_LEVEL. The caller learns of completion
/// through its completion routine or the handle.
pub fn build_asynchronous_fsd_request(
    major: u8,
    device: &DeviceObject,
    buffer: &[u8],
    length: u32,
    byte_offset: i64,
) -> Option<(Irp, IoStatusHandle)> {
    irql::check_max_irql("IoBuildAsynchronousFsdRequest", DISPATCH_LEVEL);
    if crate::ex::pool::take_injected_failure() {
        return None;
    }
    let event = Event::new(EventType::NotificationEvent, false);
    Some(fsd_request(major, device, buffer, length, byte_offset, event))
}
