//! Wdm2 (book chapters 8–10, l.4685–7039): Wdm1's shared-buffer device made a full PnP
//! and power citizen. It tracks its own PnP state (GotResources, Paused,
//! IODisabled), counts open handles to veto removal, counts I/O in flight
//! so STOP, SURPRISE_REMOVAL and REMOVE can wait for it, and owns its
//! device's power policy: system states map to D0 or D3, idle detection
//! powers it down after 60 s, the next I/O powers it up again.
//!
//! One file per book source file: `init.rs` (Init.cpp), `extension.rs`
//! (the device extension of Wdm2.h), `pnp.rs` (Pnp.cpp), `dispatch.rs`
//! (Dispatch.cpp), `deviceio.rs` (DeviceIo.cpp), `power.rs` (Power.cpp),
//! `guids.rs` (GUIDs.h). The IOCTL codes are Wdm1's.
//!
//! Two variants, chosen by the DriverEntry the package names: the default
//! port is correct, the `book` one keeps the book's power bugs (spec 02
//! §6: P-12 missing PoStartNextPowerIrp, P-13 waits at DISPATCH_LEVEL and
//! in a completion routine, P-14 leaked usage count, P-16 duplicate
//! PoStartNextPowerIrp). Each difference is one `is_book` test in the code,
//! commented with its pitfall id.

mod deviceio;
mod dispatch;
mod extension;
mod guids;
mod init;
mod pnp;
mod power;

pub use extension::{Wdm2DeviceExtension, Wdm2Resources, Wdm2State};
pub use guids::WDM2_GUID;
pub use init::{Variant, Wdm2Globals, driver_entry, driver_entry_book};

use crate::ddk::DeviceObject;
use crate::drivers::debugprint::client::DebugPrint;

/// The driver's name in traces (the DebugPrint "Driver" column), and its
/// service name.
pub const NAME: &str = "Wdm2";

/// The hardware id of Wdm2's INF models line.
pub const HARDWARE_ID: &str = "*wdmBook\\Wdm2";

/// What Wdm2's INF installs: the correct port bound to its hardware id.
pub fn package() -> crate::pnp::DriverPackage {
    let service = crate::pnp::Service::new(NAME, driver_entry);
    crate::pnp::DriverPackage::new(HARDWARE_ID, service).description("WDM Book Wdm2 Example")
}

/// The same package with the book's code, bugs included.
pub fn package_book() -> crate::pnp::DriverPackage {
    let service = crate::pnp::Service::new(NAME, driver_entry_book);
    crate::pnp::DriverPackage::new(HARDWARE_ID, service).description("WDM Book Wdm2 Example")
}

/// The driver's DebugPrint calls (DebugPrint.c linked in, as Wdm1's).
static DEBUGPRINT: DebugPrint = DebugPrint::for_driver(NAME);

/// Whether `device`'s driver was loaded as the book's variant.
fn is_book(device: &DeviceObject) -> bool {
    device.driver_object().extension::<Wdm2Globals>().variant() == Variant::Book
}
