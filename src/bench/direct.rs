//! A driver doing direct I/O, for measuring direct reads (Wdm1, the
//! buffered case, is buffered only). One device, `\Device\BenchDirect` with
//! DO_DIRECT_IO and the link `\??\BenchDirect`, holding a byte buffer
//! under a spin lock. Its IRP_MJ_READ copies from the buffer at the read's
//! offset into the caller's pages through the IRP's MDL
//! (MmGetSystemAddressForMdlSafe) and completes with the count, as Wdm1Read
//! does into its system buffer; create and close just succeed.

use super::{complete, named_device, succeed};
use crate::ddk::*;
use crate::io;

/// The device's data.
struct Data(SpinLock<Vec<u8>>);

fn entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_CREATE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_READ as usize] = Some(direct_read);
    STATUS_SUCCESS
}

/// Copies up to the read's length from the data at its offset into the
/// MDL's pages.
fn direct_read(device: &DeviceObject, irp: Irp) -> NtStatus {
    let Parameters::Read { length, byte_offset, .. } =
        io_get_current_irp_stack_location(&irp).parameters
    else {
        return complete(irp, STATUS_INVALID_PARAMETER, 0);
    };
    let Ok(offset) = usize::try_from(byte_offset) else {
        return complete(irp, STATUS_INVALID_PARAMETER, 0);
    };
    let mut count = 0;
    if let Some(mdl) = irp.mdl_address() {
        let data = device.extension::<Data>().0.acquire();
        let from = data.get(offset..).unwrap_or_default();
        let wanted = (length as usize).min(mdl.byte_count());
        count = mm_get_system_address_for_mdl_safe(mdl).write(0, &from[..wanted.min(from.len())]);
    }
    complete(irp, STATUS_SUCCESS, count)
}

/// Loads the driver and creates its device holding `data`; returns the
/// Win32 path that opens it.
pub fn install(data: Vec<u8>) -> Result<String, NtStatus> {
    let driver = io::load_driver("BenchDirect", entry)?;
    named_device(&driver, "BenchDirect", Data(SpinLock::named("data", data)), DO_DIRECT_IO)
}
