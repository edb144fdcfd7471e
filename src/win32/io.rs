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
use super::handle::{Handle, lookup};
use crate::io::codes::{IRP_MJ_DEVICE_CONTROL, IRP_MJ_READ, IRP_MJ_WRITE};
use crate::io::irp::{IoStatusBlock, Parameters};
use crate::io::request::{Buffers, Request};
use crate::io::{FileObject, UserMemory, call_driver, get_attached_device};
use crate::ke::wait_for_single_object;
use crate::status::{NtStatus, STATUS_ACCESS_VIOLATION, STATUS_END_OF_FILE, STATUS_PENDING};

/// Sends a request on `file` to the top of its device's stack; returns what
/// IoCallDriver returned and the request (finished unless STATUS_PENDING).
pub(crate) fn send(
    file: &FileObject,
    major: u8,
    minor: u8,
    parameters: Parameters,
    buffers: Buffers,
) -> (NtStatus, Arc<Request>) {
    let top = get_attached_device(file.device_object());
    let request = Request::with_own_event(buffers.copy_back.clone(), file.is_synchronous());
    let mut irp = request.irp(&top, major, minor, parameters, buffers);
    irp.next_stack_location_mut().file_object = Some(file.clone());
    let status = call_driver(&top, irp);
    (status, request)
}

/// The synchronous end of a request: waits if it pended; returns the
/// caller's status and the status block if the I/O manager wrote it.
pub(crate) fn wait(returned: NtStatus, request: &Request) -> (NtStatus, Option<IoStatusBlock>) {
    let status = if returned == STATUS_PENDING {
        wait_for_single_object(request.event(), None);
        request.done().map_or(returned, |d| d.io_status.status)
    } else {
        returned
    };
    let iosb = request.done().map(|d| d.io_status).filter(|iosb| !iosb.status.is_error());
    (status, iosb)
}

/// A caller's buffer as user memory, or STATUS_ACCESS_VIOLATION if the
/// length it claims runs past the buffer (the I/O manager's probe fails).
fn probe(buffer: &[u8], length: u32) -> Result<UserMemory, NtStatus> {
    buffer
        .get(..length as usize)
        .map(|b| UserMemory::new(b.to_vec()))
        .ok_or(STATUS_ACCESS_VIOLATION)
}

fn synchronous_file(handle: Handle) -> Result<FileObject, NtStatus> {
    let (file, overlapped) = lookup(handle)?;
    if overlapped {
        // An overlapped handle needs an OVERLAPPED: this API has none.
        return Err(crate::status::STATUS_INVALID_PARAMETER);
    }
    Ok(file)
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
    let file = match synchronous_file(handle) {
        Ok(file) => file,
        Err(status) => return fail(status),
    };
    let memory = match probe(buffer, bytes_to_read) {
        Ok(memory) => memory,
        Err(status) => return fail(status),
    };
    let top = get_attached_device(file.device_object());
    let buffers = Buffers::read_write(&top, memory.clone(), bytes_to_read as usize, true);
    let parameters =
        Parameters::Read { length: bytes_to_read, key: 0, byte_offset: file.current_byte_offset() };
    let (returned, request) = send(&file, IRP_MJ_READ, 0, parameters, buffers);
    let (status, iosb) = wait(returned, &request);
    memory.read(0, &mut buffer[..bytes_to_read as usize]);
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
    let file = match synchronous_file(handle) {
        Ok(file) => file,
        Err(status) => return fail(status),
    };
    let memory = match probe(buffer, bytes_to_write) {
        Ok(memory) => memory,
        Err(status) => return fail(status),
    };
    let top = get_attached_device(file.device_object());
    let buffers = Buffers::read_write(&top, memory, bytes_to_write as usize, false);
    let parameters = Parameters::Write {
        length: bytes_to_write,
        key: 0,
        byte_offset: file.current_byte_offset(),
    };
    let (returned, request) = send(&file, IRP_MJ_WRITE, 0, parameters, buffers);
    let (status, iosb) = wait(returned, &request);
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
    let file = match synchronous_file(handle) {
        Ok(file) => file,
        Err(status) => return (status, None),
    };
    let memory = match probe(output, output_length) {
        Ok(memory) => memory,
        Err(status) => return (status, None),
    };
    let out = (output_length > 0).then(|| memory.clone());
    let buffers = Buffers::device_control(io_control_code, input, out, output_length as usize);
    let parameters = Parameters::DeviceIoControl {
        output_buffer_length: output_length,
        input_buffer_length: input.len() as u32,
        io_control_code,
        type3_input_buffer: None,
    };
    let (returned, request) = send(&file, IRP_MJ_DEVICE_CONTROL, 0, parameters, buffers);
    let result = wait(returned, &request);
    memory.read(0, &mut output[..output_length as usize]);
    result
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
    if lookup(handle).is_ok_and(|(_, overlapped)| overlapped) {
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
