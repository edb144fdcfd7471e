//! ReadFile, WriteFile, DeviceIoControl and NtDeviceIoControlFile on a
//! synchronous handle.
//!
//! What the caller sees follows Windows (Wine's `test_return_status`):
//! the call's status is the dispatch routine's return value, or, when that
//! is STATUS_PENDING, the final IoStatus.Status after the wait; the status
//! block (and so the byte count) is written only when IoStatus.Status is not
//! an error; a buffered request's output is copied back under the same rule.

use std::sync::Arc;

use super::error::{ERROR_INVALID_PARAMETER, fail, set_last_error};
use super::handle::{Handle, Open, lookup};
use crate::io::codes::{IRP_MJ_DEVICE_CONTROL, IRP_MJ_READ, IRP_MJ_WRITE};
use crate::io::irp::{IoStatusBlock, Parameters};
use crate::io::request::{Buffers, Caller, Request, Waiter};
use crate::io::{DeviceObject, FileObject, call_driver};
use crate::ke::wait_for_single_object;
use crate::status::{
    NtStatus, STATUS_ACCESS_VIOLATION, STATUS_END_OF_FILE, STATUS_NO_SUCH_DEVICE, STATUS_PENDING,
};

/// Sends a request on `file` to `top`, the top of its device's stack;
/// returns what IoCallDriver returned and the request (finished unless
/// STATUS_PENDING).
pub(crate) fn send(
    file: FileObject,
    top: &DeviceObject,
    major: u8,
    parameters: Parameters,
    buffers: Buffers,
) -> (NtStatus, Arc<Request>) {
    let waiter = if file.is_synchronous() { Waiter::Synchronous } else { Waiter::Overlapped };
    let (request, mut irp) = Request::build(top, major, 0, parameters, buffers, waiter);
    irp.next_stack_location_mut().file_object = Some(file);
    let status = call_driver(top, irp);
    (status, request)
}

/// A synchronous request on `file` through `top`, start to end: builds its
/// buffers (given the top device and the caller's output buffer `out`),
/// sends it, waits if it pended, copies the output into `out`, and returns
/// the caller's status and the status block if the I/O manager wrote it.
pub(crate) fn call(
    file: FileObject,
    top: &DeviceObject,
    major: u8,
    parameters: Parameters,
    buffers: impl FnOnce(&DeviceObject, &[u8]) -> Buffers,
    out: &mut [u8],
) -> (NtStatus, Option<IoStatusBlock>) {
    if top.is_deleted() {
        // A handle outliving its device: the I/O manager fails the call
        // without a driver (spec 02 §2.4.9, NotPresent row).
        return (STATUS_NO_SUCH_DEVICE, None);
    }
    let buffers = buffers(top, out);
    let direct = buffers.direct_memory();
    let (returned, request) = send(file, top, major, parameters, buffers);
    if returned == STATUS_PENDING {
        wait_for_single_object(request.event(), None);
    }
    let done = request.done();
    let status = match done {
        Some(done) if returned == STATUS_PENDING => done.io_status.status,
        _ => returned,
    };
    let iosb = done.map(|d| d.io_status).filter(|iosb| !iosb.status.is_error());
    match &direct {
        Some(memory) => {
            memory.read(0, out);
            request.recycle();
        }
        None => request.conclude(out),
    }
    if let Some(memory) = direct {
        // The request and its IRP are done with it: the memory can serve
        // the next synchronous call (when this was the last view).
        crate::io::lookaside::give_memory(memory);
    }
    (status, iosb)
}

/// A synchronous request on a kernel handle (ZwReadFile, ZwWriteFile):
/// the status and the status block, never the last error.
pub(crate) fn kernel_call(
    handle: Handle,
    major: u8,
    parameters: Parameters,
    buffers: impl FnOnce(&DeviceObject, &[u8]) -> Buffers,
    out: &mut [u8],
) -> (NtStatus, Option<IoStatusBlock>) {
    match synchronous_file(handle) {
        Ok(Open { file, top, .. }) => call(file, &top, major, parameters, buffers, out),
        Err(status) => (status, None),
    }
}

fn synchronous_file(handle: Handle) -> Result<Open, NtStatus> {
    let open = lookup(handle)?;
    if open.overlapped {
        // An overlapped handle needs an OVERLAPPED: this API has none.
        return Err(crate::status::STATUS_INVALID_PARAMETER);
    }
    Ok(open)
}

/// ReadFile on a synchronous handle: reads `bytes_to_read` bytes at the
/// handle's file position (which a device read does not move). A read at
/// end of file succeeds with 0 bytes.
pub fn read_file(
    handle: Handle,
    buffer: &mut [u8],
    bytes_to_read: u32,
    bytes_read: &mut u32,
) -> bool {
    *bytes_read = 0;
    let Open { file, top, .. } = match synchronous_file(handle) {
        Ok(open) => open,
        Err(status) => return fail(status),
    };
    let Some(out) = buffer.get_mut(..bytes_to_read as usize) else {
        return fail(STATUS_ACCESS_VIOLATION);
    };
    let parameters =
        Parameters::Read { length: bytes_to_read, key: 0, byte_offset: file.current_byte_offset() };
    let buffers = |top: &DeviceObject, out: &[u8]| {
        Buffers::read_write(top, Caller::Bytes(out), out.len(), true)
    };
    let (status, iosb) = call(file, &top, IRP_MJ_READ, parameters, buffers, out);
    if status == STATUS_END_OF_FILE {
        return true;
    }
    if let Some(iosb) = iosb {
        *bytes_read = iosb.information as u32;
    }
    status.is_success() || fail(status)
}

/// WriteFile on a synchronous handle, at the handle's file position.
pub fn write_file(
    handle: Handle,
    buffer: &[u8],
    bytes_to_write: u32,
    bytes_written: &mut u32,
) -> bool {
    *bytes_written = 0;
    let Open { file, top, .. } = match synchronous_file(handle) {
        Ok(open) => open,
        Err(status) => return fail(status),
    };
    // A length past the caller's buffer fails the I/O manager's probe.
    let Some(input) = buffer.get(..bytes_to_write as usize) else {
        return fail(STATUS_ACCESS_VIOLATION);
    };
    let parameters = Parameters::Write {
        length: bytes_to_write,
        key: 0,
        byte_offset: file.current_byte_offset(),
    };
    let buffers = |top: &DeviceObject, _: &[u8]| {
        Buffers::read_write(top, Caller::Bytes(input), input.len(), false)
    };
    let (status, iosb) = call(file, &top, IRP_MJ_WRITE, parameters, buffers, &mut []);
    if let Some(iosb) = iosb {
        *bytes_written = iosb.information as u32;
    }
    status.is_success() || fail(status)
}

/// NtDeviceIoControlFile on a synchronous handle: the status the caller
/// gets and the status block, if the I/O manager wrote it. `output` is the
/// caller's buffer; its first `output_length` bytes are the output buffer.
pub fn nt_device_io_control_file(
    handle: Handle,
    io_control_code: u32,
    input: &[u8],
    output: &mut [u8],
    output_length: u32,
) -> (NtStatus, Option<IoStatusBlock>) {
    let Open { file, top, .. } = match synchronous_file(handle) {
        Ok(open) => open,
        Err(status) => return (status, None),
    };
    let Some(out) = output.get_mut(..output_length as usize) else {
        return (STATUS_ACCESS_VIOLATION, None);
    };
    let parameters = Parameters::DeviceIoControl {
        output_buffer_length: output_length,
        input_buffer_length: input.len() as u32,
        io_control_code,
        type3_input_buffer: None,
    };
    let buffers = |_: &DeviceObject, out: &[u8]| {
        let caller = (!out.is_empty()).then_some(Caller::Bytes(out));
        Buffers::device_control(io_control_code, input, caller, out.len())
    };
    call(file, &top, IRP_MJ_DEVICE_CONTROL, parameters, buffers, out)
}

/// DeviceIoControl on a synchronous handle. `input_size` and `output_size`
/// are the lengths the caller claims; beyond its buffers they are
/// ERROR_NOACCESS. TRUE iff the final status is a success; the byte count
/// is written unless that status is an error.
pub fn device_io_control(
    handle: Handle,
    io_control_code: u32,
    input: &[u8],
    input_size: u32,
    output: &mut [u8],
    output_size: u32,
    bytes_returned: &mut u32,
) -> bool {
    let Some(input) = input.get(..input_size as usize) else {
        return fail(STATUS_ACCESS_VIOLATION);
    };
    if lookup(handle).is_ok_and(|open| open.overlapped) {
        set_last_error(ERROR_INVALID_PARAMETER);
        return false;
    }
    let (status, iosb) =
        nt_device_io_control_file(handle, io_control_code, input, output, output_size);
    if !status.is_error() {
        *bytes_returned = iosb.map_or(0, |iosb| iosb.information as u32);
    }
    status.is_success() || fail(status)
}
