//! I/O control codes: the CTL_CODE layout (book l.4656–4668; spec §1.6) and
//! the buffer-transfer methods (book l.4428–4438).
//!
//! ```text
//!  31                16 15 14 13                          2 1  0
//! +--------------------+-----+-----------------------------+----+
//! |    DeviceType      |Acc. |          Function           |Meth|
//! +--------------------+-----+-----------------------------+----+
//! ```

/// A device type (FILE_DEVICE_xxx).
pub const FILE_DEVICE_UNKNOWN: u32 = 0x22;

pub const METHOD_BUFFERED: u32 = 0;
pub const METHOD_IN_DIRECT: u32 = 1;
pub const METHOD_OUT_DIRECT: u32 = 2;
pub const METHOD_NEITHER: u32 = 3;

pub const FILE_ANY_ACCESS: u32 = 0;
pub const FILE_READ_ACCESS: u32 = 1;
pub const FILE_WRITE_ACCESS: u32 = 2;

/// How an IOCTL's buffers travel between caller and driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferMethod {
    /// Input and output share one system buffer.
    Buffered,
    /// Input in the system buffer; the output buffer, described by an MDL,
    /// carries data to the device.
    InDirect,
    /// Input in the system buffer; the output buffer, described by an MDL,
    /// receives data from the device.
    OutDirect,
    /// Raw caller pointers: Type3InputBuffer and UserBuffer.
    Neither,
}

/// CTL_CODE(DeviceType, Function, Method, Access).
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// The fields of an I/O control code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtlCode {
    pub device_type: u32,
    pub access: u32,
    pub function: u32,
    pub method: TransferMethod,
}

impl CtlCode {
    pub const fn decode(code: u32) -> CtlCode {
        CtlCode {
            device_type: code >> 16,
            access: (code >> 14) & 3,
            function: (code >> 2) & 0xFFF,
            method: method_of(code),
        }
    }
}

/// The transfer method in the two low bits of `code`.
pub const fn method_of(code: u32) -> TransferMethod {
    match code & 3 {
        METHOD_BUFFERED => TransferMethod::Buffered,
        METHOD_IN_DIRECT => TransferMethod::InDirect,
        METHOD_OUT_DIRECT => TransferMethod::OutDirect,
        _ => TransferMethod::Neither,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wdm1_codes_round_trip() {
        // The codes in the book's trace (l.4487–4517).
        let codes = [
            (0x801, 0x0022_2004),
            (0x802, 0x0022_2008),
            (0x803, 0x0022_200C),
            (0x804, 0x0022_2010),
        ];
        for (function, code) in codes {
            assert_eq!(
                ctl_code(FILE_DEVICE_UNKNOWN, function, METHOD_BUFFERED, FILE_ANY_ACCESS),
                code
            );
            let decoded = CtlCode::decode(code);
            assert_eq!(decoded.function, function);
            assert_eq!(
                (decoded.device_type, decoded.access),
                (FILE_DEVICE_UNKNOWN, FILE_ANY_ACCESS)
            );
            assert_eq!(decoded.method, TransferMethod::Buffered);
        }
        assert_eq!(method_of(0x0022_202A), TransferMethod::OutDirect);
        assert_eq!(method_of(0x0022_202B), TransferMethod::Neither);
        assert_eq!(CtlCode::decode(ctl_code(0x8000, 0xFFF, 1, 3)).access, 3);
    }
}
