//! `NTSTATUS`: the real values, `NT_SUCCESS`, severity and facility.
//!
//! A status is a 32-bit value whose top two bits give the severity
//! (00 success, 01 informational, 10 warning, 11 error). `NT_SUCCESS` is true
//! for the first two, so warnings are not success (book l.3005).

use std::fmt;

/// An `NTSTATUS` value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtStatus(pub u32);

/// The severity field of a status (bits 30–31).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Success,
    Informational,
    Warning,
    Error,
}

impl NtStatus {
    /// `NT_SUCCESS(Status)`: success or informational.
    #[inline]
    pub const fn is_success(self) -> bool {
        (self.0 as i32) >= 0
    }

    pub const fn severity(self) -> Severity {
        match self.0 >> 30 {
            0 => Severity::Success,
            1 => Severity::Informational,
            2 => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// The facility field (bits 16–27).
    pub const fn facility(self) -> u16 {
        ((self.0 >> 16) & 0x0FFF) as u16
    }

    /// NT_ERROR: the error severity (top two bits 11).
    #[inline]
    pub const fn is_error(self) -> bool {
        self.0 >> 30 == 3
    }

    /// NT_WARNING: the warning severity (top two bits 10).
    #[inline]
    pub const fn is_warning(self) -> bool {
        self.0 >> 30 == 2
    }

    /// The symbolic name, for the statuses this crate knows.
    pub fn name(self) -> Option<&'static str> {
        KNOWN.iter().find(|(s, _)| *s == self).map(|(_, n)| *n)
    }
}

macro_rules! statuses {
    ($($name:ident = $value:expr;)*) => {
        $(pub const $name: NtStatus = NtStatus($value);)*
        const KNOWN: &[(NtStatus, &str)] = &[$(($name, stringify!($name))),*];
    };
}

statuses! {
    STATUS_SUCCESS = 0x0000_0000;
    STATUS_WAIT_1 = 0x0000_0001;
    STATUS_WAIT_2 = 0x0000_0002;
    STATUS_WAIT_3 = 0x0000_0003;
    STATUS_WAIT_63 = 0x0000_003F;
    STATUS_ABANDONED = 0x0000_0080;
    STATUS_ALERTED = 0x0000_0101;
    STATUS_TIMEOUT = 0x0000_0102;
    STATUS_PENDING = 0x0000_0103;
    STATUS_OBJECT_NAME_EXISTS = 0x4000_0000;
    STATUS_BUFFER_OVERFLOW = 0x8000_0005;
    STATUS_NO_MORE_ENTRIES = 0x8000_001A;
    STATUS_UNSUCCESSFUL = 0xC000_0001;
    STATUS_NOT_IMPLEMENTED = 0xC000_0002;
    STATUS_INVALID_INFO_CLASS = 0xC000_0003;
    STATUS_INFO_LENGTH_MISMATCH = 0xC000_0004;
    STATUS_ACCESS_VIOLATION = 0xC000_0005;
    STATUS_INVALID_HANDLE = 0xC000_0008;
    STATUS_INVALID_PARAMETER = 0xC000_000D;
    STATUS_NO_SUCH_DEVICE = 0xC000_000E;
    STATUS_NO_SUCH_FILE = 0xC000_000F;
    STATUS_INVALID_DEVICE_REQUEST = 0xC000_0010;
    STATUS_END_OF_FILE = 0xC000_0011;
    STATUS_NO_MEDIA_IN_DEVICE = 0xC000_0013;
    STATUS_MORE_PROCESSING_REQUIRED = 0xC000_0016;
    STATUS_NO_MEMORY = 0xC000_0017;
    STATUS_CONFLICTING_ADDRESSES = 0xC000_0018;
    STATUS_ACCESS_DENIED = 0xC000_0022;
    STATUS_BUFFER_TOO_SMALL = 0xC000_0023;
    STATUS_OBJECT_NAME_INVALID = 0xC000_0033;
    STATUS_OBJECT_NAME_NOT_FOUND = 0xC000_0034;
    STATUS_OBJECT_NAME_COLLISION = 0xC000_0035;
    STATUS_SHARING_VIOLATION = 0xC000_0043;
    STATUS_DELETE_PENDING = 0xC000_0056;
    STATUS_INSUFFICIENT_RESOURCES = 0xC000_009A;
    STATUS_DEVICE_NOT_CONNECTED = 0xC000_009D;
    STATUS_NOT_SUPPORTED = 0xC000_00BB;
    STATUS_INVALID_PARAMETER_2 = 0xC000_00F0;
    STATUS_CANCELLED = 0xC000_0120;
    STATUS_DEVICE_CONFIGURATION_ERROR = 0xC000_0182;
    STATUS_INVALID_DEVICE_STATE = 0xC000_0184;
}

/// `STATUS_WAIT_0`: the first object of a wait satisfied it.
pub const STATUS_WAIT_0: NtStatus = STATUS_SUCCESS;

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "NtStatus({:#010X})", self.0),
        }
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#010X})", self.0),
            None => write!(f, "{:#010X}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_covers_informational_but_not_warnings() {
        assert!(STATUS_SUCCESS.is_success());
        assert!(STATUS_PENDING.is_success());
        assert!(STATUS_TIMEOUT.is_success());
        assert!(STATUS_OBJECT_NAME_EXISTS.is_success());
        assert_eq!(STATUS_OBJECT_NAME_EXISTS.severity(), Severity::Informational);
        assert!(!STATUS_BUFFER_OVERFLOW.is_success());
        assert_eq!(STATUS_BUFFER_OVERFLOW.severity(), Severity::Warning);
        assert!(!STATUS_INVALID_PARAMETER.is_success());
        assert_eq!(STATUS_INVALID_PARAMETER.severity(), Severity::Error);
    }

    #[test]
    fn names_and_formatting() {
        assert_eq!(format!("{:?}", STATUS_CANCELLED), "STATUS_CANCELLED");
        assert_eq!(STATUS_END_OF_FILE.to_string(), "STATUS_END_OF_FILE (0xC0000011)");
        assert_eq!(NtStatus(0xC0DE_0001).to_string(), "0xC0DE0001");
        assert_eq!(NtStatus(0xC00A_0001).facility(), 0x00A);
    }
}
