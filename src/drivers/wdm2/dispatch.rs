//! Dispatch.cpp: create, close, read, write, device control and system
//! control (Wdm1's, book l.2119–2548, l.4527–4652, with Wdm2's entry and
//! exit code: Listing 9.10 l.5647, Listing 10.8 l.6864).
//!
//! Read, write and device control refuse I/O while IODisabled, hold the
//! device lock while they run, and power the device up first. The buffer
//! logic is Wdm1's: a read starting at or past the end is
//! STATUS_END_OF_FILE, and a request whose end passes 2^32 - 1 is
//! STATUS_INVALID_PARAMETER (spec 01 §2.6).

use super::pnp::{dx, lock_device, unlock_device};
use super::power::power_up_device;
use super::{DEBUGPRINT, Wdm2Globals, is_book};
use crate::ddk::*;
use crate::drivers::debugprint::client::DpArg;
use crate::drivers::wdm1::{
    IOCTL_WDM1_GET_BUFFER, IOCTL_WDM1_GET_BUFFER_SIZE, IOCTL_WDM1_REMOVE_BUFFER,
    IOCTL_WDM1_ZERO_BUFFER,
};

fn globals(fdo: &DeviceObject) -> &Wdm2Globals {
    fdo.driver_object().extension::<Wdm2Globals>()
}

/// CompleteIrp: sets IoStatus, completes, returns the status.
pub(super) fn complete_irp(mut irp: Irp, status: NtStatus, information: usize) -> NtStatus {
    *irp.io_status_mut() = IoStatusBlock { status, information };
    io_complete_request(irp, IO_NO_INCREMENT);
    status
}

/// Wdm2Create: no handle while I/O is disabled; otherwise count it, for
/// the QUERY_REMOVE veto (l.5437–5441).
pub(super) fn wdm2_create(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    if dx.io_disabled() {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    }
    interlocked_increment(&dx.open_handle_count);
    let location = io_get_current_irp_stack_location(&irp);
    let name = location.file_object.as_ref().map_or("", |f| f.file_name());
    DEBUGPRINT.print(b"Create File is %T", &[DpArg::Unicode(name)]);
    complete_irp(irp, STATUS_SUCCESS, 0)
}

/// Wdm2Close: always succeeds, even on a removed device, so handles can
/// be closed.
pub(super) fn wdm2_close(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    interlocked_decrement(&dx(fdo).open_handle_count);
    DEBUGPRINT.msg(b"Close");
    complete_irp(irp, STATUS_SUCCESS, 0)
}

/// The entry code of Listings 9.10 and 10.8: `Err` is the IRP already
/// completed with the reason it was refused.
fn begin_io(fdo: &DeviceObject, irp: Irp) -> Result<Irp, NtStatus> {
    let dx = dx(fdo);
    if dx.io_disabled() {
        return Err(complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0));
    }
    if !lock_device(dx) {
        return Err(complete_irp(irp, STATUS_DELETE_PENDING, 0));
    }
    let status = power_up_device(fdo);
    if !status.is_success() {
        // The book returns without UnlockDevice (P-14): the usage count
        // leaks and the next STOP or REMOVE waits for ever.
        if !is_book(fdo) {
            unlock_device(dx);
        }
        return Err(complete_irp(irp, status, 0));
    }
    Ok(irp)
}

/// The exit code: complete, then UnlockDevice.
fn end_io(fdo: &DeviceObject, irp: Irp, status: NtStatus, information: usize) -> NtStatus {
    let status = complete_irp(irp, status, information);
    unlock_device(dx(fdo));
    status
}

/// The C code's 32-bit `FilePointer + Length` must not wrap.
fn end_fits(offset: i64, length: u32) -> bool {
    (offset as u64).saturating_add(u64::from(length)) <= u64::from(u32::MAX)
}

/// Wdm2Read: Wdm1Read (l.2242–2290) behind the entry code.
pub(super) fn wdm2_read(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let mut irp = match begin_io(fdo, irp) {
        Ok(irp) => irp,
        Err(status) => return status,
    };
    let Parameters::Read { length, byte_offset, .. } =
        io_get_current_irp_stack_location(&irp).parameters
    else {
        return end_io(fdo, irp, STATUS_INVALID_PARAMETER, 0);
    };
    let (read_len, file_pointer) = (DpArg::I32(length as i32), DpArg::I32(byte_offset as i32));
    DEBUGPRINT.print(b"Read %d bytes from file pointer %d", &[read_len, file_pointer]);
    let mut status = STATUS_SUCCESS;
    let mut count = 0usize;
    {
        let buffer = globals(fdo).buffer.acquire();
        if byte_offset < 0 {
            status = STATUS_INVALID_PARAMETER;
        } else if byte_offset as u64 >= buffer.len() as u64 {
            status = STATUS_END_OF_FILE;
        } else if !end_fits(byte_offset, length) {
            status = STATUS_INVALID_PARAMETER;
        } else {
            let offset = byte_offset as usize;
            count = (length as usize).min(buffer.len() - offset);
            if count > 0
                && let Some(system) = irp.system_buffer_mut()
            {
                system[..count].copy_from_slice(&buffer[offset..offset + count]);
            }
        }
    }
    DEBUGPRINT.print(b"Read: %d bytes returned", &[DpArg::I32(count as i32)]);
    end_io(fdo, irp, status, count)
}

/// Wdm2Write: Wdm1Write (Listing 7.2, l.4538–4605) behind the entry code:
/// the buffer grows to `offset + length`, zero-filled; if it cannot, as
/// much as fits is written, still with success (l.4632–4640).
pub(super) fn wdm2_write(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let irp = match begin_io(fdo, irp) {
        Ok(irp) => irp,
        Err(status) => return status,
    };
    let Parameters::Write { length, byte_offset, .. } =
        io_get_current_irp_stack_location(&irp).parameters
    else {
        return end_io(fdo, irp, STATUS_INVALID_PARAMETER, 0);
    };
    let (write_len, file_pointer) = (DpArg::I32(length as i32), DpArg::I32(byte_offset as i32));
    DEBUGPRINT.print(b"Write %d bytes from file pointer %d", &[write_len, file_pointer]);
    let mut status = STATUS_SUCCESS;
    let mut count = 0usize;
    if byte_offset < 0 || !end_fits(byte_offset, length) {
        status = STATUS_INVALID_PARAMETER;
    } else {
        let offset = byte_offset as usize;
        let mut buffer = globals(fdo).buffer.acquire();
        count = length as usize;
        if offset + count > buffer.len() {
            match ex_allocate_pool(PoolType::NonPagedPool, offset + count) {
                Some(mut grown) => {
                    grown[..buffer.len()].copy_from_slice(&buffer);
                    *buffer = grown;
                }
                None => count = buffer.len().saturating_sub(offset),
            }
        }
        if count > 0
            && let Some(system) = irp.system_buffer()
        {
            buffer[offset..offset + count].copy_from_slice(&system[..count]);
        }
    }
    DEBUGPRINT.print(b"Write: %d bytes written", &[DpArg::I32(count as i32)]);
    end_io(fdo, irp, status, count)
}

/// Wdm2DeviceControl: Wdm1's four IOCTLs (l.2408–2482) behind the entry
/// code; only the output length is checked.
pub(super) fn wdm2_device_control(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let mut irp = match begin_io(fdo, irp) {
        Ok(irp) => irp,
        Err(status) => return status,
    };
    let Parameters::DeviceIoControl {
        io_control_code: code,
        input_buffer_length: input_length,
        output_buffer_length: output_length,
        ..
    } = io_get_current_irp_stack_location(&irp).parameters
    else {
        return end_io(fdo, irp, STATUS_INVALID_PARAMETER, 0);
    };
    DEBUGPRINT.print(
        b"DeviceIoControl: Control code %x InputLength %d OutputLength %d",
        &[DpArg::U32(code), DpArg::I32(input_length as i32), DpArg::I32(output_length as i32)],
    );
    let mut status = STATUS_SUCCESS;
    let mut count = 0usize;
    {
        let mut buffer = globals(fdo).buffer.acquire();
        match code {
            IOCTL_WDM1_ZERO_BUFFER => buffer.fill(0),
            IOCTL_WDM1_REMOVE_BUFFER => *buffer = Vec::new(),
            IOCTL_WDM1_GET_BUFFER_SIZE => {
                if output_length < 4 {
                    status = STATUS_INVALID_PARAMETER;
                } else if let Some(system) = irp.system_buffer_mut() {
                    system[..4].copy_from_slice(&(buffer.len() as u32).to_le_bytes());
                    count = 4;
                }
            }
            IOCTL_WDM1_GET_BUFFER => {
                let wanted = output_length as usize;
                if wanted > buffer.len() {
                    status = STATUS_INVALID_PARAMETER;
                } else {
                    if let Some(system) = irp.system_buffer_mut() {
                        system[..wanted].copy_from_slice(&buffer[..wanted]);
                    }
                    count = wanted;
                }
            }
            _ => status = STATUS_INVALID_DEVICE_REQUEST,
        }
    }
    DEBUGPRINT.print(b"DeviceIoControl: %d bytes written", &[DpArg::I32(count as i32)]);
    end_io(fdo, irp, status, count)
}

/// Wdm2SystemControl: WMI IRPs go down, under the entry checks and the
/// device lock (no power-up: nothing here touches the device).
pub(super) fn wdm2_system_control(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    let dx = dx(fdo);
    if dx.io_disabled() {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    }
    if !lock_device(dx) {
        return complete_irp(irp, STATUS_DELETE_PENDING, 0);
    }
    let status = match dx.next_stack_device.get() {
        Some(next) => {
            io_skip_current_irp_stack_location(&mut irp);
            io_call_driver(next, irp)
        }
        None => complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0),
    };
    unlock_device(dx);
    status
}
