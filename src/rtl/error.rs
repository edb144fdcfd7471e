//! RtlNtStatusToDosError: the Win32 error code a failed NTSTATUS becomes.
//!
//! The table holds every status this crate produces, with the values Windows
//! returns (as Wine's conformance tests pin them against real Windows; where
//! Windows versions differ, the Windows 2000 value the book targets is noted
//! and the current one used). The rules around it: 0 and customer statuses
//! (bit 29) pass through; facility-Win32 statuses (0x8007xxxx, 0xC007xxxx)
//! carry the error in their low 16 bits; anything else unknown is
//! ERROR_MR_MID_NOT_FOUND (317).

use crate::status::*;

/// ERROR_MR_MID_NOT_FOUND: no mapping.
pub const ERROR_MR_MID_NOT_FOUND: u32 = 317;

const TABLE: &[(NtStatus, u32)] = &[
    (STATUS_WAIT_1, 731),
    (STATUS_WAIT_2, 732),
    (STATUS_WAIT_3, 733),
    (STATUS_WAIT_63, 734),
    (STATUS_ABANDONED, 128),
    (STATUS_TIMEOUT, 1460),
    (STATUS_PENDING, 997),
    (STATUS_OBJECT_NAME_EXISTS, 698),
    (STATUS_BUFFER_OVERFLOW, 234),
    (STATUS_NO_MORE_ENTRIES, 259),
    (STATUS_UNSUCCESSFUL, 31),
    (STATUS_NOT_IMPLEMENTED, 1),
    (STATUS_INVALID_INFO_CLASS, 87),
    (STATUS_INFO_LENGTH_MISMATCH, 24),
    (STATUS_ACCESS_VIOLATION, 998),
    (STATUS_INVALID_HANDLE, 6),
    (STATUS_INVALID_PARAMETER, 87),
    // Windows 2000 returned ERROR_FILE_NOT_FOUND (2) here.
    (STATUS_NO_SUCH_DEVICE, 433),
    (STATUS_NO_SUCH_FILE, 2),
    (STATUS_INVALID_DEVICE_REQUEST, 1),
    (STATUS_END_OF_FILE, 38),
    (STATUS_NO_MEDIA_IN_DEVICE, 21),
    (STATUS_MORE_PROCESSING_REQUIRED, 234),
    (STATUS_NO_MEMORY, 8),
    (STATUS_CONFLICTING_ADDRESSES, 487),
    (STATUS_ACCESS_DENIED, 5),
    (STATUS_BUFFER_TOO_SMALL, 122),
    (STATUS_OBJECT_NAME_INVALID, 123),
    (STATUS_OBJECT_NAME_NOT_FOUND, 2),
    (STATUS_OBJECT_NAME_COLLISION, 183),
    (STATUS_SHARING_VIOLATION, 32),
    (STATUS_DELETE_PENDING, 5),
    (STATUS_INSUFFICIENT_RESOURCES, 1450),
    // Windows 2000 returned ERROR_NOT_READY (21) here.
    (STATUS_DEVICE_NOT_CONNECTED, 1167),
    (STATUS_NOT_SUPPORTED, 50),
    (STATUS_INVALID_PARAMETER_2, 87),
    (STATUS_CANCELLED, 995),
    (STATUS_DEVICE_CONFIGURATION_ERROR, 87),
    (STATUS_INVALID_DEVICE_STATE, 22),
];

/// RtlNtStatusToDosError.
pub fn nt_status_to_dos_error(status: NtStatus) -> u32 {
    let code = status.0;
    if code == 0 || code & 0x2000_0000 != 0 {
        return code;
    }
    // 0xDxxxxxxx is treated as 0xCxxxxxxx.
    let code = if code >> 28 == 0xD { code & !0x1000_0000 } else { code };
    if matches!(code >> 16, 0x8007 | 0xC007 | 0xC001) {
        return code & 0xFFFF;
    }
    TABLE.iter().find(|(s, _)| s.0 == code).map_or(ERROR_MR_MID_NOT_FOUND, |(_, error)| *error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statuses_the_book_shows_map_as_windows_maps_them() {
        assert_eq!(nt_status_to_dos_error(STATUS_INVALID_PARAMETER), 87); // book l.3379
        assert_eq!(nt_status_to_dos_error(STATUS_INVALID_DEVICE_REQUEST), 1); // book l.3395
        assert_eq!(nt_status_to_dos_error(STATUS_END_OF_FILE), 38);
        assert_eq!(nt_status_to_dos_error(STATUS_CANCELLED), 995);
        assert_eq!(nt_status_to_dos_error(STATUS_SUCCESS), 0);
    }

    #[test]
    fn the_rules_around_the_table() {
        assert_eq!(nt_status_to_dos_error(NtStatus(0x8007_0057)), 87);
        assert_eq!(nt_status_to_dos_error(NtStatus(0xC007_0005)), 5);
        assert_eq!(nt_status_to_dos_error(NtStatus(0xD000_000D)), 87);
        assert_eq!(nt_status_to_dos_error(NtStatus(0xE000_0001)), 0xE000_0001, "customer bit");
        assert_eq!(nt_status_to_dos_error(NtStatus(0xC0DE_0001)), ERROR_MR_MID_NOT_FOUND);
        assert_eq!(nt_status_to_dos_error(NtStatus(0x0000_0004)), ERROR_MR_MID_NOT_FOUND);
    }
}
