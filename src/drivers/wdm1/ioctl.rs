//! Ioctl.h: Wdm1's control codes, all METHOD_BUFFERED and FILE_ANY_ACCESS
//! on FILE_DEVICE_UNKNOWN (function numbers from the book's trace,
//! l.4487–4517, and the surviving 0x801/0x803 lines, l.2700, l.4660).

use crate::ddk::{FILE_ANY_ACCESS, FILE_DEVICE_UNKNOWN, METHOD_BUFFERED, ctl_code};

/// Sets every byte of the buffer to zero (0x00222004).
pub const IOCTL_WDM1_ZERO_BUFFER: u32 =
    ctl_code(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS);
/// Frees the buffer (0x00222008).
pub const IOCTL_WDM1_REMOVE_BUFFER: u32 =
    ctl_code(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS);
/// Returns the buffer size as a 4-byte ULONG (0x0022200C).
pub const IOCTL_WDM1_GET_BUFFER_SIZE: u32 =
    ctl_code(FILE_DEVICE_UNKNOWN, 0x803, METHOD_BUFFERED, FILE_ANY_ACCESS);
/// Returns the first OutputLength bytes of the buffer (0x00222010).
pub const IOCTL_WDM1_GET_BUFFER: u32 =
    ctl_code(FILE_DEVICE_UNKNOWN, 0x804, METHOD_BUFFERED, FILE_ANY_ACCESS);
/// Defined only so Wdm1Test can send a code the driver rejects (0x00222014).
pub const IOCTL_WDM1_UNRECOGNISED: u32 =
    ctl_code(FILE_DEVICE_UNKNOWN, 0x805, METHOD_BUFFERED, FILE_ANY_ACCESS);
