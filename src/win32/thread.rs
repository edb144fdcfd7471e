//! Sleep: the calling program's thread waits (virtual) milliseconds.

use crate::ke::{Interval, delay_execution_thread};

/// Sleep(dwMilliseconds).
pub fn sleep(milliseconds: u32) {
    delay_execution_thread(Interval::relative_ms(u64::from(milliseconds)));
}
