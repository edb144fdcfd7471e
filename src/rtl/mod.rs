//! Run-time library: status conversion and debug output.

mod error;
mod print;

pub use error::{ERROR_MR_MID_NOT_FOUND, nt_status_to_dos_error};
pub use print::dbg_print;
