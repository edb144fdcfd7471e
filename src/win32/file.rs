//! CreateFile, CloseHandle and SetFilePointer on devices.
//!
//! CreateFile maps `\\.\Name` and `\\?\path` to `\??\...`, resolves it in
//! the object namespace, and sends IRP_MJ_CREATE to the top of the device's
//! stack with the rest of the path as FileName (book l.4383). CloseHandle
//! sends IRP_MJ_CLEANUP, then IRP_MJ_CLOSE (book l.412, l.9711).
//! SetFilePointer on a synchronous device handle only moves the handle's
//! position (spec §1.14): no IRP.

use super::error::fail;
use super::handle::{self, Handle, INVALID_HANDLE_VALUE};
use super::io::call;
use crate::io::codes::{IRP_MJ_CLEANUP, IRP_MJ_CLOSE, IRP_MJ_CREATE};
use crate::io::irp::Parameters;
use crate::io::request::Buffers;
use crate::io::{
    DO_DEVICE_INITIALIZING, DO_EXCLUSIVE, DeviceObject, FileObject, get_attached_device,
};
use crate::ke::{Interval, wait_for_single_object};
use crate::sim::system::with_system;
use crate::status::{
    NtStatus, STATUS_ACCESS_DENIED, STATUS_INVALID_PARAMETER, STATUS_NO_SUCH_DEVICE,
    STATUS_OBJECT_NAME_NOT_FOUND,
};
use std::sync::atomic::Ordering;

pub const GENERIC_READ: u32 = 0x8000_0000;
pub const GENERIC_WRITE: u32 = 0x4000_0000;
pub const FILE_SHARE_READ: u32 = 0x1;
pub const FILE_SHARE_WRITE: u32 = 0x2;
pub const CREATE_NEW: u32 = 1;
pub const CREATE_ALWAYS: u32 = 2;
pub const OPEN_EXISTING: u32 = 3;
pub const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;
pub const FILE_FLAG_OVERLAPPED: u32 = 0x4000_0000;
pub const FILE_BEGIN: u32 = 0;
pub const FILE_CURRENT: u32 = 1;
pub const FILE_END: u32 = 2;
/// SetFilePointer's failure value.
pub const INVALID_SET_FILE_POINTER: u32 = 0xFFFF_FFFF;

/// The NT name of a Win32 path.
fn nt_path(path: &str) -> String {
    match path.strip_prefix("\\\\.\\").or_else(|| path.strip_prefix("\\\\?\\")) {
        Some(rest) => format!("\\??\\{rest}"),
        None => format!("\\??\\{path}"),
    }
}

/// Opens the device an NT object name resolves to (`\??\Wdm1`,
/// `\Device\PHDDebugPrint`), sending IRP_MJ_CREATE down its stack.
pub(crate) fn open_nt(
    name: &str,
    desired_access: u32,
    share_mode: u32,
    disposition: u32,
    flags: u32,
    kernel: bool,
) -> Result<Handle, NtStatus> {
    let (device, rest) = with_system(|s| s.namespace.lock().resolve(name))?;
    if device.is_deleted() {
        return Err(STATUS_OBJECT_NAME_NOT_FOUND);
    }
    if device.flags() & DO_DEVICE_INITIALIZING != 0 {
        return Err(STATUS_NO_SUCH_DEVICE);
    }
    // Exclusivity is the named device's (IopCheckDeviceAndDriver); a flag on
    // an FDO or filter above it has no effect.
    if device.flags() & DO_EXCLUSIVE != 0 && device.open_count() > 0 {
        return Err(STATUS_ACCESS_DENIED);
    }
    let overlapped = flags & FILE_FLAG_OVERLAPPED != 0;
    let file = FileObject::new(&device, &rest, !overlapped);
    let parameters = Parameters::Create {
        desired_access,
        options: disposition << 24,
        file_attributes: (flags & 0xFFFF) as u16,
        share_access: share_mode as u16,
    };
    let top = get_attached_device(&device);
    // The file object references the device before IRP_MJ_CREATE goes down
    // (NT's ReferenceCount): an open in progress already counts as a handle
    // for the PnP manager's removal check.
    device.0.open_count.fetch_add(1, Ordering::AcqRel);
    let (status, _) = call(file.clone(), &top, IRP_MJ_CREATE, parameters, no_buffers, &mut []);
    if !status.is_success() {
        device.0.open_count.fetch_sub(1, Ordering::AcqRel);
        return Err(status);
    }
    Ok(handle::insert(file, overlapped, kernel))
}

/// CreateFile: opens a device by its Win32 path. INVALID_HANDLE_VALUE on
/// failure, with the last error set (ERROR_FILE_NOT_FOUND for an unknown
/// name, ERROR_ACCESS_DENIED for a second open of an exclusive device, or
/// what the driver's create returned).
pub fn create_file(
    path: &str,
    desired_access: u32,
    share_mode: u32,
    creation_disposition: u32,
    flags_and_attributes: u32,
) -> Handle {
    match open_nt(
        &nt_path(path),
        desired_access,
        share_mode,
        creation_disposition,
        flags_and_attributes,
        false,
    ) {
        Ok(handle) => handle,
        Err(status) => {
            fail(status);
            INVALID_HANDLE_VALUE
        }
    }
}

/// CloseHandle: IRP_MJ_CLEANUP then IRP_MJ_CLOSE for the handle's file
/// object. ERROR_INVALID_HANDLE for a handle that is not open.
pub fn close_handle(handle: Handle) -> bool {
    match close(handle) {
        Ok(()) => true,
        Err(status) => fail(status),
    }
}

/// Closes a handle (spec 04 §4.2, Case 3): IRP_MJ_CLEANUP at once, the
/// driver's cue to cancel the file's IRPs it holds, with no cancel routine
/// called; IRP_MJ_CLOSE once nothing else refers to the file: at once, or
/// later from a system thread while IRPs still do (NT sends CLOSE when the
/// file object's last reference goes). That thread waits for the handle's
/// overlapped requests, then until the file's other references are gone:
/// IRPs in flight (a synchronous read another thread has pending, say)
/// wake it as they let go; a reference dropped elsewhere is seen on a
/// re-check, every 1 ms of virtual time at first, backing off to 1 s.
pub(super) fn close(handle: Handle) -> Result<(), NtStatus> {
    let (file, pending) = handle::remove(handle)?;
    let top = get_attached_device(file.device_object());
    call(file.clone(), &top, IRP_MJ_CLEANUP, Parameters::None, no_buffers, &mut []);
    let pending: Vec<_> = pending.into_iter().filter(|r| r.done().is_none()).collect();
    if pending.is_empty() && file.is_last_reference() {
        send_close(file);
        return Ok(());
    }
    let released = file.closing_event();
    let deferred = file.clone();
    let waiter = crate::ps::create_background_system_thread("deferred close", move || {
        for request in &pending {
            wait_for_single_object(request.event(), None);
        }
        let mut recheck_ms = 1;
        while !deferred.is_last_reference() {
            wait_for_single_object(&released, Some(Interval::relative_ms(recheck_ms)));
            recheck_ms = (recheck_ms * 2).min(1000);
        }
        send_close(deferred);
    });
    if waiter.is_err() {
        // Only above PASSIVE_LEVEL, where the verifier has already stopped.
        send_close(file);
    }
    Ok(())
}

fn no_buffers(_: &DeviceObject, _: &[u8]) -> Buffers {
    Buffers::default()
}

/// IRP_MJ_CLOSE for a file whose handle is gone; the device loses the
/// file's reference.
fn send_close(file: FileObject) {
    let top = get_attached_device(file.device_object());
    call(file.clone(), &top, IRP_MJ_CLOSE, Parameters::None, no_buffers, &mut []);
    file.device_object().0.open_count.fetch_sub(1, Ordering::AcqRel);
    crate::pnp::handle_closed(file.device_object());
}

/// ZwClose's half: the status instead of a BOOL and the last error.
pub(crate) fn close_kernel_handle(handle: Handle) -> NtStatus {
    match close(handle) {
        Ok(()) => crate::status::STATUS_SUCCESS,
        Err(status) => status,
    }
}

/// SetFilePointer: moves a handle's position by `distance` (and the high
/// 32 bits in `distance_high`) from the start, the current position or the
/// end, and returns the low 32 bits of the new position. A device has no
/// end (ERROR_INVALID_FUNCTION) and a position cannot be negative
/// (ERROR_NEGATIVE_SEEK).
pub fn set_file_pointer(
    handle: Handle,
    distance: i32,
    distance_high: Option<&mut i32>,
    move_method: u32,
) -> u32 {
    let file = match handle::lookup(handle) {
        Ok(open) => open.file,
        Err(status) => {
            fail(status);
            return INVALID_SET_FILE_POINTER;
        }
    };
    let high = distance_high.as_deref().copied();
    let delta = match high {
        Some(high) => (i64::from(high) << 32) | i64::from(distance as u32),
        None => i64::from(distance),
    };
    let base = match move_method {
        FILE_BEGIN => 0,
        FILE_CURRENT => file.current_byte_offset(),
        FILE_END => {
            super::error::set_last_error(super::error::ERROR_INVALID_FUNCTION);
            return INVALID_SET_FILE_POINTER;
        }
        _ => {
            fail(STATUS_INVALID_PARAMETER);
            return INVALID_SET_FILE_POINTER;
        }
    };
    let Some(position) = base.checked_add(delta).filter(|p| *p >= 0) else {
        super::error::set_last_error(super::error::ERROR_NEGATIVE_SEEK);
        return INVALID_SET_FILE_POINTER;
    };
    file.set_current_byte_offset(position);
    if let Some(high) = distance_high {
        *high = (position >> 32) as i32;
    }
    // A low part equal to INVALID_SET_FILE_POINTER is ambiguous; only then is the
    // last error cleared so the caller can tell success (ReactOS, Wine).
    let low = position as u32;
    if low == INVALID_SET_FILE_POINTER {
        super::error::set_last_error(super::error::ERROR_SUCCESS);
    }
    low
}
