//! GetLastError / SetLastError, per simulated thread, and the error codes
//! the API returns.

use std::cell::Cell;

use crate::rtl::nt_status_to_dos_error;
use crate::sim::pcr::{self, Mode};
use crate::sim::state::with_sim;
use crate::status::NtStatus;

pub const ERROR_SUCCESS: u32 = 0;
pub const ERROR_INVALID_FUNCTION: u32 = 1;
pub const ERROR_FILE_NOT_FOUND: u32 = 2;
pub const ERROR_ACCESS_DENIED: u32 = 5;
pub const ERROR_INVALID_HANDLE: u32 = 6;
pub const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;
pub const ERROR_HANDLE_EOF: u32 = 38;
pub const ERROR_INVALID_PARAMETER: u32 = 87;
pub const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
pub const ERROR_NEGATIVE_SEEK: u32 = 131;
pub const ERROR_MORE_DATA: u32 = 234;
pub const ERROR_NO_MORE_ITEMS: u32 = 259;
pub const ERROR_OPERATION_ABORTED: u32 = 995;
pub const ERROR_IO_INCOMPLETE: u32 = 996;
pub const ERROR_IO_PENDING: u32 = 997;
pub const ERROR_NOACCESS: u32 = 998;

thread_local! {
    /// Threaded mode: each OS thread is a user thread.
    static LAST_ERROR: Cell<u32> = const { Cell::new(0) };
}

/// GetLastError.
pub fn get_last_error() -> u32 {
    match pcr::mode() {
        Mode::Sim => with_sim(|s| {
            s.current_thread().and_then(|t| s.threads.get(t)).map_or(0, |t| t.last_error)
        }),
        _ => LAST_ERROR.with(Cell::get),
    }
}

/// SetLastError.
pub fn set_last_error(error: u32) {
    match pcr::mode() {
        Mode::Sim => with_sim(|s| {
            if let Some(rec) = s.current_thread().and_then(|t| s.threads.get_mut(t)) {
                rec.last_error = error;
            }
        }),
        _ => LAST_ERROR.with(|e| e.set(error)),
    }
}

/// Fails a call: sets the last error from `status`, returns FALSE.
pub(crate) fn fail(status: NtStatus) -> bool {
    set_last_error(nt_status_to_dos_error(status));
    false
}
