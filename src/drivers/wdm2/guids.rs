//! GUIDs.h (book l.2719–2735): the Wdm2 device interface.

use crate::ddk::Guid;

/// WDM2_GUID, {C0CF0641-5F6E-11D2-B677-00C0DFE4C1F3} (book l.2726; the
/// comment line is authoritative, the scraped byte list is garbled).
pub const WDM2_GUID: Guid =
    Guid::new(0xC0CF_0641, 0x5F6E, 0x11D2, [0xB6, 0x77, 0x00, 0xC0, 0xDF, 0xE4, 0xC1, 0xF3]);
