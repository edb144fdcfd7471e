//! Dispatch.cpp: create, close, read, write, device control and system
//! control (book l.2119–2548, l.4527–4652).
//!
//! Read, write and device control take BufferLock (so they run at
//! DISPATCH_LEVEL for a moment and are not pageable, spec §2.12). Offsets
//! are 64-bit; where the book adds `(ULONG)offset + length` in 32 bits, the
//! port refuses a request whose end passes 2^32 - 1 with
//! STATUS_INVALID_PARAMETER instead of corrupting memory (spec §2.6).

use super::ioctl::*;
use super::{DEBUGPRINT, Wdm1Globals};
use crate::ddk::*;
use crate::drivers::debugprint::client::DpArg;

fn globals(fdo: &DeviceObject) -> &Wdm1Globals {
    fdo.driver_object().extension::<Wdm1Globals>()
}

/// CompleteIrp (book l.2539–2548): sets IoStatus, completes, and returns
/// the status from a local copy (the IRP is gone after completion).
pub(super) fn complete_irp(mut irp: Irp, status: NtStatus, information: usize) -> NtStatus {
    *irp.io_status_mut() = IoStatusBlock { status, information };
    io_complete_request(irp, IO_NO_INCREMENT);
    status
}

/// Wdm1Create (book l.2185–2200): traces the FileName, always succeeds.
pub(super) fn wdm1_create(_fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let location = io_get_current_irp_stack_location(&irp);
    let name = location.file_object.as_ref().map_or("", |f| f.file_name());
    DEBUGPRINT.print(b"Create File is %T", &[DpArg::Unicode(name)]); // l.2187
    complete_irp(irp, STATUS_SUCCESS, 0)
}

/// Wdm1Close (book l.2205–2215).
pub(super) fn wdm1_close(_fdo: &DeviceObject, irp: Irp) -> NtStatus {
    DEBUGPRINT.msg(b"Close");
    complete_irp(irp, STATUS_SUCCESS, 0)
}

/// The C code's 32-bit `FilePointer + Length` must not wrap.
fn end_fits(offset: i64, length: u32) -> bool {
    (offset as u64).saturating_add(u64::from(length)) <= u64::from(u32::MAX)
}

/// Wdm1Read (book l.2242–2290, l.4647): copies from the buffer at the file
/// pointer; a read starting at or past the end is STATUS_END_OF_FILE, one
/// running past the end is cut short.
pub(super) fn wdm1_read(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    let Parameters::Read { length, byte_offset, .. } =
        io_get_current_irp_stack_location(&irp).parameters
    else {
        return complete_irp(irp, STATUS_INVALID_PARAMETER, 0);
    };
    let (read_len, file_pointer) = (DpArg::I32(length as i32), DpArg::I32(byte_offset as i32));
    DEBUGPRINT.print(b"Read %d bytes from file pointer %d", &[read_len, file_pointer]); // l.2253
    let mut status = STATUS_SUCCESS;
    let mut count = 0usize;
    {
        let buffer = globals(fdo).buffer.acquire();
        let size = buffer.len() as u64;
        if byte_offset < 0 {
            status = STATUS_INVALID_PARAMETER;
        }
        if byte_offset >= 0 && byte_offset as u64 >= size {
            status = STATUS_END_OF_FILE;
        }
        if status == STATUS_SUCCESS && !end_fits(byte_offset, length) {
            status = STATUS_INVALID_PARAMETER;
        }
        if status == STATUS_SUCCESS {
            let offset = byte_offset as usize;
            count = (length as usize).min(buffer.len() - offset);
            if count > 0
                && let Some(system) = irp.system_buffer_mut()
            {
                system[..count].copy_from_slice(&buffer[offset..offset + count]);
            }
        }
    }
    DEBUGPRINT.print(b"Read: %d bytes returned", &[DpArg::I32(count as i32)]); // l.2286
    complete_irp(irp, status, count)
}

/// Wdm1Write (book l.2317–2381, Listing 7.2 l.4538–4605): writes at the
/// file pointer, growing the buffer to exactly `offset + length` with zeros
/// in any gap. If the larger buffer cannot be allocated, as much as fits in
/// the old one is written, still with STATUS_SUCCESS (l.4632–4640).
pub(super) fn wdm1_write(fdo: &DeviceObject, irp: Irp) -> NtStatus {
    let Parameters::Write { length, byte_offset, .. } =
        io_get_current_irp_stack_location(&irp).parameters
    else {
        return complete_irp(irp, STATUS_INVALID_PARAMETER, 0);
    };
    let (write_len, file_pointer) = (DpArg::I32(length as i32), DpArg::I32(byte_offset as i32));
    DEBUGPRINT.print(b"Write %d bytes from file pointer %d", &[write_len, file_pointer]); // l.2328
    let mut status = STATUS_SUCCESS;
    let mut count = 0usize;
    if byte_offset < 0 || !end_fits(byte_offset, length) {
        status = STATUS_INVALID_PARAMETER; // the lock is not taken
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
    DEBUGPRINT.print(b"Write: %d bytes written", &[DpArg::I32(count as i32)]); // l.2377
    complete_irp(irp, status, count)
}

/// Wdm1DeviceControl (book l.2408–2482, l.4650–4652): the four IOCTLs,
/// each under BufferLock; only the output length is checked.
pub(super) fn wdm1_device_control(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    let Parameters::DeviceIoControl {
        io_control_code: code,
        input_buffer_length: input_length,
        output_buffer_length: output_length,
        ..
    } = io_get_current_irp_stack_location(&irp).parameters
    else {
        return complete_irp(irp, STATUS_INVALID_PARAMETER, 0);
    };
    DEBUGPRINT.print(
        b"DeviceIoControl: Control code %x InputLength %d OutputLength %d", // l.2419
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
    DEBUGPRINT.print(b"DeviceIoControl: %d bytes written", &[DpArg::I32(count as i32)]); // l.2478
    complete_irp(irp, status, count)
}

/// Wdm1SystemControl (book l.2508–2512): passed down untouched.
pub(super) fn wdm1_system_control(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
    let Some(next) = super::pnp::next_stack_device(fdo) else {
        return complete_irp(irp, STATUS_DEVICE_NOT_CONNECTED, 0);
    };
    io_skip_current_irp_stack_location(&mut irp);
    io_call_driver(next, irp)
}
