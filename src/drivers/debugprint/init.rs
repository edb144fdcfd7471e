//! Init.cpp: DriverEntry and DbpUnload (the chapter 9 pattern the book
//! says DebugPrint shares, book l.9556), with DebugPrint's dispatch table
//! and the variant chosen at load.

use super::{dispatch, pnp};
use crate::ddk::*;

/// Which code a loaded DebugPrint runs: fixed at DriverEntry for the
/// driver's whole life, like a build flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The corrected port (the default).
    Correct,
    /// The book's code with its cancel races R1 and R2 and no cleanup
    /// handler (spec 04 §4.3).
    Book,
}

/// The driver's globals: only the variant (every other piece of state is
/// per device, in the extension).
#[derive(Debug)]
pub struct DebugPrintGlobals {
    variant: Variant,
}

impl DebugPrintGlobals {
    pub fn variant(&self) -> Variant {
        self.variant
    }
}

/// DriverEntry of the correct port.
pub fn driver_entry(driver: &mut DriverObject, registry_path: &str) -> NtStatus {
    dbp_driver_entry(driver, registry_path, Variant::Correct)
}

/// DriverEntry of the book's variant.
pub fn driver_entry_book(driver: &mut DriverObject, registry_path: &str) -> NtStatus {
    dbp_driver_entry(driver, registry_path, Variant::Book)
}

/// DriverEntry: the entry points of spec 04 §2.5–2.11. The book's driver
/// registers no IRP_MJ_CLEANUP handler (book l.9727); the port adds
/// DbpCleanup, as the book says a driver ought to (l.9689, l.9717).
fn dbp_driver_entry(driver: &mut DriverObject, _registry_path: &str, variant: Variant) -> NtStatus {
    driver.driver_extension.add_device = Some(pnp::dbp_add_device);
    driver.driver_unload = Some(dbp_unload);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp::dbp_pnp);
    driver.major_function[IRP_MJ_POWER as usize] = Some(pnp::dbp_power);
    driver.major_function[IRP_MJ_CREATE as usize] = Some(dispatch::dbp_create);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(dispatch::dbp_close);
    driver.major_function[IRP_MJ_READ as usize] = Some(dispatch::dbp_read);
    driver.major_function[IRP_MJ_WRITE as usize] = Some(dispatch::dbp_write);
    driver.major_function[IRP_MJ_DEVICE_CONTROL as usize] = Some(dispatch::dbp_device_control);
    driver.major_function[IRP_MJ_SYSTEM_CONTROL as usize] = Some(dispatch::dbp_system_control);
    // The book's variant has no cleanup handler: closing the Monitor's
    // handle leaves its read held until the next event (spec 04 §2.10).
    if variant != Variant::Book {
        driver.major_function[IRP_MJ_CLEANUP as usize] = Some(dispatch::dbp_cleanup);
    }
    let globals = DebugPrintGlobals { variant };
    if let Err(status) = io_allocate_driver_object_extension(driver.driver(), globals) {
        return status;
    }
    STATUS_SUCCESS
}

/// DbpUnload: nothing to free; REMOVE deleted the device and its queues
/// (spec 04 §2.11).
fn dbp_unload(_driver: &Driver) {
    paged_code();
}
