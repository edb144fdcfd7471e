//! DebugPrint (book chapter 14, l.9121–10093; spec 04): trace output from
//! drivers to a user-mode Monitor. Three pieces share the wire format of
//! [`record`]: the client library each traced driver links (its trace calls
//! queue events that a system thread writes to the DebugPrint device), the
//! DebugPrint driver (a queue of written events and a one-slot read queue),
//! and the Monitor application (overlapped reads, one event per read).

pub mod client;
pub mod record;

use crate::ddk::Guid;

/// The driver's service name, and the "Driver" column of its own event.
pub const NAME: &str = "DebugPrint";

/// The device's kernel name: traced drivers open it by this name
/// (book l.9508, l.9573).
pub const DEVICE_NAME: &str = r"\Device\PHDDebugPrint";

/// The hardware id of the DebugPrint device's INF models line. The book
/// does not print DebugPrint's INF; this follows Wdm1's pattern [sim].
pub const HARDWARE_ID: &str = "*wdmBook\\DebugPrint";

/// The device interface the Monitor looks for,
/// {ED6026A2-6813-11d2-AE43-00C0DFE4C1F3} (book l.9575).
pub const DEBUGPRINT_GUID: Guid =
    Guid::new(0xED60_26A2, 0x6813, 0x11D2, [0xAE, 0x43, 0x00, 0xC0, 0xDF, 0xE4, 0xC1, 0xF3]);
