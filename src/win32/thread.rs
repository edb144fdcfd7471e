//! Sleep and GetTickCount: a program's thread waits, and reads the time
//! since boot, in (virtual) milliseconds.

use crate::ke::{Interval, delay_execution_thread, query_interrupt_time};

/// Sleep(dwMilliseconds).
pub fn sleep(milliseconds: u32) {
    delay_execution_thread(Interval::relative_ms(u64::from(milliseconds)));
}

/// GetTickCount: milliseconds since the machine booted (wrapping at 2^32).
pub fn get_tick_count() -> u32 {
    (query_interrupt_time() / 10_000) as u32
}
