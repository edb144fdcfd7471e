//! Run-time library: status conversion, debug output, time fields.

mod error;
mod print;
mod time;

pub use error::{ERROR_MR_MID_NOT_FOUND, nt_status_to_dos_error};
pub use print::dbg_print;
pub(crate) use print::dbg_print_unseen;
pub use time::{TimeFields, time_fields_to_time, time_to_time_fields};
