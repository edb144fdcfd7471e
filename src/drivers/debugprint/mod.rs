//! DebugPrint (book chapter 14, l.9121–10093; spec 04): trace output from
//! drivers to a user-mode Monitor. Three pieces share the wire format of
//! [`record`]: the client library each traced driver links (its trace calls
//! queue events that a system thread writes to the DebugPrint device), the
//! DebugPrint driver (a queue of written events and a one-slot read queue),
//! and the Monitor application (overlapped reads, one event per read).
//!
//! The driver is one file per book source file: `init.rs` (Init.cpp),
//! `extension.rs` (the device extension of DebugPrint.h), `pnp.rs`
//! (Pnp.cpp: AddDevice, PnP, power, LockDevice, PnpStopDevice) and
//! `dispatch.rs` (Dispatch.cpp: create, close, read, write, ReadEvent, the
//! cancel routine, cleanup, ClearQueues).
//!
//! Two variants, chosen by the DriverEntry the package names. The default
//! port is correct (spec 04's PORT DEVIATIONs). The `book` one keeps the
//! races of the code the book prints (spec 04 §4.3): DbpRead publishes the
//! read and installs the cancel routine afterwards without looking at
//! `Cancel` (R1), the write path ignores what removing the cancel routine
//! returns (R2), DbpCancelIrp completes the IRP whether or not it found it
//! (R2: bug check 0x44), and there is no IRP_MJ_CLEANUP handler (the held
//! read outlives its handle). Each difference is one `is_book` test in the
//! code, commented with its race id. The PnP code the book does not print
//! (ClearQueues, stop with a held read) is the port's in both variants.

pub mod client;
mod dispatch;
mod extension;
mod init;
mod pnp;
pub mod record;

pub use extension::{DebugPrintDeviceExtension, DebugPrintState};
pub use init::{DebugPrintGlobals, Variant, driver_entry, driver_entry_book};

use crate::ddk::{DeviceObject, Guid};

/// The driver's service name, and the "Driver" column of its own event.
pub const NAME: &str = "DebugPrint";

/// The device's kernel name: traced drivers open it by this name
/// (book l.9508, l.9573).
pub const DEVICE_NAME: &str = r"\Device\PHDDebugPrint";

/// The hardware id of the DebugPrint device's INF models line. The book
/// does not print DebugPrint's INF; this follows Wdm1's pattern \[sim\].
pub const HARDWARE_ID: &str = "*wdmBook\\DebugPrint";

/// The device interface the Monitor looks for,
/// {ED6026A2-6813-11d2-AE43-00C0DFE4C1F3} (book l.9575).
pub const DEBUGPRINT_GUID: Guid =
    Guid::new(0xED60_26A2, 0x6813, 0x11D2, [0xAE, 0x43, 0x00, 0xC0, 0xDF, 0xE4, 0xC1, 0xF3]);

/// The message of the event the driver stores for itself at START (book
/// l.4450 shows it ahead of every client line; spec 04 §2.11).
pub const STARTED_MESSAGE: &str = "Version 1.02 started";

/// What DebugPrint's INF installs: the correct port bound to its hardware
/// id, in the Other Devices class (book l.9556).
pub fn package() -> crate::pnp::DriverPackage {
    let service = crate::pnp::Service::new(NAME, driver_entry);
    crate::pnp::DriverPackage::new(HARDWARE_ID, service).description("DebugPrint driver")
}

/// The same package with the book's code, races included.
pub fn package_book() -> crate::pnp::DriverPackage {
    let service = crate::pnp::Service::new(NAME, driver_entry_book);
    crate::pnp::DriverPackage::new(HARDWARE_ID, service).description("DebugPrint driver")
}

/// Whether `device`'s driver was loaded as the book's variant.
fn is_book(device: &DeviceObject) -> bool {
    device.driver_object().extension::<DebugPrintGlobals>().variant() == Variant::Book
}
