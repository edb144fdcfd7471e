//! Init.cpp: DriverEntry and Wdm2Unload (as Wdm1's, book l.1847–1913),
//! with the entry points of Wdm2's dispatch table (spec 02 §2.4: no
//! CLEANUP handler) and the variant chosen at load.

use super::{DEBUGPRINT, dispatch, pnp, power};
use crate::ddk::*;
use crate::drivers::debugprint::client::DpArg;

/// Which code a loaded Wdm2 runs: fixed at DriverEntry for the driver's
/// whole life, like a build flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The corrected port (the default).
    Correct,
    /// The book's code with its power bugs P-12, P-13, P-14 and P-16.
    Book,
}

/// The driver's globals: the buffer every Wdm2 device shares (as Wdm1's,
/// book l.4610–4628; it lives until the driver unloads) and the variant.
#[derive(Debug)]
pub struct Wdm2Globals {
    pub(super) buffer: SpinLock<Vec<u8>>,
    variant: Variant,
}

impl Wdm2Globals {
    /// The buffer's contents (for tests and tools; takes BufferLock).
    pub fn buffer(&self) -> Vec<u8> {
        self.buffer.acquire().clone()
    }

    pub fn variant(&self) -> Variant {
        self.variant
    }
}

/// DriverEntry of the correct port.
pub fn driver_entry(driver: &mut DriverObject, registry_path: &str) -> NtStatus {
    wdm2_driver_entry(driver, registry_path, Variant::Correct)
}

/// DriverEntry of the book's variant.
pub fn driver_entry_book(driver: &mut DriverObject, registry_path: &str) -> NtStatus {
    wdm2_driver_entry(driver, registry_path, Variant::Book)
}

/// DriverEntry (book l.1847–1888, Wdm2's table per spec 02 §2.4), with
/// DebugPrint started first.
fn wdm2_driver_entry(driver: &mut DriverObject, registry_path: &str, variant: Variant) -> NtStatus {
    DEBUGPRINT.init();
    DEBUGPRINT.print(b"RegistryPath is %T", &[DpArg::Unicode(registry_path)]);
    driver.driver_extension.add_device = Some(pnp::wdm2_add_device);
    driver.driver_unload = Some(wdm2_unload);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp::wdm2_pnp);
    driver.major_function[IRP_MJ_POWER as usize] = Some(power::wdm2_power);
    driver.major_function[IRP_MJ_CREATE as usize] = Some(dispatch::wdm2_create);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(dispatch::wdm2_close);
    driver.major_function[IRP_MJ_READ as usize] = Some(dispatch::wdm2_read);
    driver.major_function[IRP_MJ_WRITE as usize] = Some(dispatch::wdm2_write);
    driver.major_function[IRP_MJ_DEVICE_CONTROL as usize] = Some(dispatch::wdm2_device_control);
    driver.major_function[IRP_MJ_SYSTEM_CONTROL as usize] = Some(dispatch::wdm2_system_control);
    let globals = Wdm2Globals { buffer: SpinLock::default(), variant };
    if let Err(status) = io_allocate_driver_object_extension(driver.driver(), globals) {
        // No Unload follows a failed DriverEntry: stop DebugPrint here.
        DEBUGPRINT.close();
        return status;
    }
    DEBUGPRINT.msg(b"DriverEntry completed");
    STATUS_SUCCESS
}

/// Wdm2Unload (book l.1907–1913): frees the shared buffer, then closes
/// DebugPrint (book l.4039); the "Wdm2Unload" line is the port's.
fn wdm2_unload(driver: &Driver) {
    paged_code();
    driver.extension::<Wdm2Globals>().buffer.acquire().clear();
    DEBUGPRINT.msg(b"Wdm2Unload");
    DEBUGPRINT.close();
}
