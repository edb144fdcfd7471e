//! Init.cpp: DriverEntry and Wdm1Unload (book l.1441–1478, l.1847–1913).

use super::{DEBUGPRINT, dispatch, pnp};
use crate::ddk::*;
use crate::drivers::debugprint::client::DpArg;

/// The driver's globals (book l.4610–4628): the shared buffer guarded by
/// BufferLock. An empty vector is the book's `Buffer == NULL`,
/// `BufferSize == 0`.
#[derive(Debug, Default)]
pub struct Wdm1Globals {
    pub(super) buffer: SpinLock<Vec<u8>>,
}

impl Wdm1Globals {
    /// The buffer's contents (for tests and tools; takes BufferLock).
    pub fn buffer(&self) -> Vec<u8> {
        self.buffer.acquire().clone()
    }
}

/// DriverEntry (book l.1847–1888): starts DebugPrint, sets the entry
/// points and the buffer lock. No device is created here (book l.2946) and
/// ReadReg is not called (book l.1487).
pub fn driver_entry(driver: &mut DriverObject, registry_path: &str) -> NtStatus {
    DEBUGPRINT.init(); // l.1853
    DEBUGPRINT.print(b"RegistryPath is %T", &[DpArg::Unicode(registry_path)]); // l.1859
    driver.driver_extension.add_device = Some(pnp::wdm1_add_device); // l.1863
    driver.driver_unload = Some(wdm1_unload);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp::wdm1_pnp);
    driver.major_function[IRP_MJ_POWER as usize] = Some(pnp::wdm1_power);
    driver.major_function[IRP_MJ_CREATE as usize] = Some(dispatch::wdm1_create);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(dispatch::wdm1_close);
    driver.major_function[IRP_MJ_READ as usize] = Some(dispatch::wdm1_read);
    driver.major_function[IRP_MJ_WRITE as usize] = Some(dispatch::wdm1_write);
    driver.major_function[IRP_MJ_DEVICE_CONTROL as usize] = Some(dispatch::wdm1_device_control);
    driver.major_function[IRP_MJ_SYSTEM_CONTROL as usize] = Some(dispatch::wdm1_system_control);
    // KeInitializeSpinLock(&BufferLock) (l.4621): the lock lives with the
    // buffer in the driver's own state.
    if let Err(status) =
        io_allocate_driver_object_extension(driver.driver(), Wdm1Globals::default())
    {
        // No Unload follows a failed DriverEntry: stop DebugPrint here.
        DEBUGPRINT.close();
        return status;
    }
    DEBUGPRINT.msg(b"DriverEntry completed"); // l.1886
    STATUS_SUCCESS
}

/// Wdm1Unload (book l.1907–1913): frees the buffer. The book frees it
/// without the lock, as no I/O can be in flight; taking it costs nothing.
/// DebugPrintClose goes last, in the unload routine (book l.4039); the
/// "Wdm1Unload" line before it is the port's.
pub fn wdm1_unload(driver: &Driver) {
    paged_code();
    driver.extension::<Wdm1Globals>().buffer.acquire().clear();
    DEBUGPRINT.msg(b"Wdm1Unload");
    DEBUGPRINT.close();
}
