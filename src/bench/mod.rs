//! Drivers and plain-Rust baselines for measuring the I/O path, as
//! `benches/` uses them and as a user benchmarking a scenario of their own
//! can: a three-layer stack and its senders, a direct-I/O device, a device
//! that pends every read for a DPC or timer to complete, and the same
//! three-layer work done by a call chain and by channel hops. Each driver
//! is built on `ddk` like any other; nothing here is on the kernel's path.

pub mod chain;
mod direct;
mod pended;
mod stack3;

use crate::ddk::*;

pub use direct::install as install_direct;
pub use pended::{Completer, install as install_pended};
pub use stack3::{HOLD_MAX, Stack3};

/// Sets IoStatus and completes; returns the status.
fn complete(mut irp: Irp, status: NtStatus, information: usize) -> NtStatus {
    *irp.io_status_mut() = IoStatusBlock { status, information };
    io_complete_request(irp, IO_NO_INCREMENT);
    status
}

/// Create and close: nothing to do.
fn succeed(_device: &DeviceObject, irp: Irp) -> NtStatus {
    complete(irp, STATUS_SUCCESS, 0)
}

/// `driver`'s device `\Device\<name>` holding `extension`, with `flags`
/// (its I/O method), linked as `\??\<name>`; returns the Win32 path that
/// opens it.
fn named_device<T: std::any::Any + Send + Sync>(
    driver: &Driver,
    name: &str,
    extension: T,
    flags: u32,
) -> Result<String, NtStatus> {
    let nt_name = format!("\\Device\\{name}");
    let device =
        io_create_device(driver, extension, Some(&nt_name), FILE_DEVICE_UNKNOWN, 0, false)?;
    device.set_flags(flags);
    device.clear_flags(DO_DEVICE_INITIALIZING);
    match io_create_symbolic_link(&format!("\\??\\{name}"), &nt_name) {
        STATUS_SUCCESS => Ok(format!("\\\\.\\{name}")),
        status => Err(status),
    }
}
