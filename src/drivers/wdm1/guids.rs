//! GUIDs.h (book l.2719–2721): the Wdm1 device interface.

use crate::ddk::Guid;

/// WDM1_GUID, {C0CF0640-5F6E-11D2-B677-00C0DFE4C1F3} (book l.3169).
pub const WDM1_GUID: Guid =
    Guid::new(0xC0CF_0640, 0x5F6E, 0x11D2, [0xB6, 0x77, 0x00, 0xC0, 0xDF, 0xE4, 0xC1, 0xF3]);
