//! Native system services a driver calls through their Zw names: yielding,
//! and the file calls a kernel thread uses on a device by its NT name
//! (DebugPrint's client opens `\Device\PHDDebugPrint`, book l.9506–9550).
//!
//! The file calls are PASSIVE_LEVEL only and synchronous; the handle they
//! return is good for [`write_file`], [`read_file`] and [`close`].

use crate::io::DeviceObject;
use crate::io::codes::{IRP_MJ_READ, IRP_MJ_WRITE};
use crate::io::irp::{IoStatusBlock, Parameters};
use crate::io::request::{Buffers, Caller};
use crate::ke::irql::{self, PASSIVE_LEVEL};
use crate::sim;
use crate::status::{NtStatus, STATUS_INVALID_DEVICE_STATE};
use crate::win32::Handle;

/// ZwYieldExecution: gives the processor to other ready work. In a
/// simulation it is a plain scheduling point; in threaded mode it yields
/// the OS thread.
pub fn yield_execution() {
    match sim::pcr::mode() {
        sim::pcr::Mode::Threaded => std::thread::yield_now(),
        _ => sim::yield_point(),
    }
}

/// ZwCreateFile's CreateDisposition FILE_OPEN: the device must exist.
pub const FILE_OPEN: u32 = 1;

/// ZwCreateFile on the device named `object_name` (case-insensitive, e.g.
/// `\Device\PHDDebugPrint`), for synchronous I/O: the handle, or the
/// status the open failed with (STATUS_OBJECT_NAME_NOT_FOUND if no such
/// device). A kernel caller names the device, not a Win32 link (l.9508).
pub fn create_file(
    object_name: &str,
    desired_access: u32,
    share_access: u32,
    create_disposition: u32,
) -> Result<Handle, NtStatus> {
    if !irql::check_max_irql("ZwCreateFile", PASSIVE_LEVEL) {
        return Err(STATUS_INVALID_DEVICE_STATE);
    }
    crate::win32::open_nt(object_name, desired_access, share_access, create_disposition, 0, true)
}

/// ZwWriteFile: writes `data` at `byte_offset` and waits; the status and the
/// IO_STATUS_BLOCK (written unless the status is an error).
pub fn write_file(
    handle: Handle,
    data: &[u8],
    byte_offset: i64,
) -> (NtStatus, Option<IoStatusBlock>) {
    if !irql::check_max_irql("ZwWriteFile", PASSIVE_LEVEL) {
        return (STATUS_INVALID_DEVICE_STATE, None);
    }
    let length = data.len() as u32;
    let parameters = Parameters::Write { length, key: 0, byte_offset };
    let buffers = |top: &DeviceObject, _: &[u8]| {
        Buffers::read_write(top, Caller::Bytes(data), data.len(), false)
    };
    crate::win32::kernel_call(handle, IRP_MJ_WRITE, parameters, buffers, &mut [])
}

/// ZwReadFile: reads into `buffer` at `byte_offset` and waits.
pub fn read_file(
    handle: Handle,
    buffer: &mut [u8],
    byte_offset: i64,
) -> (NtStatus, Option<IoStatusBlock>) {
    if !irql::check_max_irql("ZwReadFile", PASSIVE_LEVEL) {
        return (STATUS_INVALID_DEVICE_STATE, None);
    }
    let length = buffer.len() as u32;
    let parameters = Parameters::Read { length, key: 0, byte_offset };
    let buffers = |top: &DeviceObject, out: &[u8]| {
        Buffers::read_write(top, Caller::Bytes(out), out.len(), true)
    };
    crate::win32::kernel_call(handle, IRP_MJ_READ, parameters, buffers, buffer)
}

/// ZwClose: closes the handle (IRP_MJ_CLEANUP, then IRP_MJ_CLOSE).
pub fn close(handle: Handle) -> NtStatus {
    crate::win32::close_kernel_handle(handle)
}
