//! Wdm1 (book chapters 4–7): a virtual function driver whose devices share
//! one driver-global byte buffer, read and written at the handle's file
//! position and managed through four IOCTLs. Every IRP completes at once;
//! PnP and power IRPs pass straight down.
//!
//! One file per book source file: `init.rs` (Init.cpp), `pnp.rs` (Pnp.cpp),
//! `dispatch.rs` (Dispatch.cpp), `ioctl.rs` (Ioctl.h), `guids.rs` (GUIDs.h).

mod dispatch;
mod guids;
mod init;
mod ioctl;
mod pnp;

pub use guids::WDM1_GUID;
pub use init::{Wdm1Globals, driver_entry};
pub use ioctl::*;

use crate::drivers::debugprint::client::DebugPrint;

/// The driver's name in traces (the DebugPrint "Driver" column), and its
/// service name.
pub const NAME: &str = "Wdm1";

/// The hardware id of Wdm1's INF models line (book l.7205, l.7409).
pub const HARDWARE_ID: &str = "*wdmBook\\Wdm1";

/// What Wdm1's INF installs: its hardware id bound to the Wdm1 service.
pub fn package() -> crate::pnp::DriverPackage {
    let service = crate::pnp::Service::new(NAME, driver_entry);
    crate::pnp::DriverPackage::new(HARDWARE_ID, service).description("WDM Book Wdm1 Example")
}

/// The driver's DebugPrint calls: DebugPrint.c linked in (book l.1763,
/// l.4039); its lines show under "Wdm1" (Listing 7.1).
static DEBUGPRINT: DebugPrint = DebugPrint::for_driver(NAME);
