//! Threads and time as a program sees them: Sleep, GetTickCount,
//! CreateThread and a wait for its end, GetSystemTime and the FILETIME
//! conversions, all on the machine's (virtual) clock.

use super::error::{ERROR_NOT_ENOUGH_MEMORY, set_last_error};
use super::overlapped::{WAIT_OBJECT_0, WAIT_TIMEOUT};
use crate::ke::{
    Interval, delay_execution_thread, query_interrupt_time, query_system_time,
    wait_for_single_object,
};
use crate::ps::{Thread, create_system_thread_named};
use crate::rtl::{TimeFields, time_fields_to_time, time_to_time_fields};
use crate::status::STATUS_TIMEOUT;

/// Sleep(dwMilliseconds).
pub fn sleep(milliseconds: u32) {
    delay_execution_thread(Interval::relative_ms(u64::from(milliseconds)));
}

/// GetTickCount: milliseconds since the machine booted (wrapping at 2^32).
pub fn get_tick_count() -> u32 {
    (query_interrupt_time() / 10_000) as u32
}

/// SYSTEMTIME: TIME_FIELDS's eight fields (Win32 orders them differently;
/// the values are the same).
pub type SystemTime = TimeFields;

/// GetSystemTime: the time now, in UTC.
pub fn get_system_time() -> SystemTime {
    time_to_time_fields(query_system_time())
}

/// SystemTimeToFileTime: 100 ns units since 1601-01-01, or `None` for
/// fields that name no time (ERROR_INVALID_PARAMETER in Win32).
pub fn system_time_to_file_time(time: &SystemTime) -> Option<u64> {
    time_fields_to_time(time)
}

/// FileTimeToSystemTime.
pub fn file_time_to_system_time(time: u64) -> SystemTime {
    time_to_time_fields(time)
}

/// A thread a program started, and the handle to wait for its end.
#[derive(Debug)]
pub struct ThreadHandle(Thread);

/// CreateThread: runs `start` on a new thread of the machine. `None`, with
/// ERROR_NOT_ENOUGH_MEMORY, if the thread cannot be created.
pub fn create_thread(
    name: &'static str,
    start: impl FnOnce() + Send + 'static,
) -> Option<ThreadHandle> {
    match create_system_thread_named(name, start) {
        Ok(thread) => Some(ThreadHandle(thread)),
        Err(_) => {
            set_last_error(ERROR_NOT_ENOUGH_MEMORY);
            None
        }
    }
}

/// WaitForSingleObject on a thread: WAIT_OBJECT_0 once it has ended,
/// WAIT_TIMEOUT if `milliseconds` (None: INFINITE) pass first.
pub fn wait_for_thread(thread: &ThreadHandle, milliseconds: Option<u32>) -> u32 {
    let timeout = milliseconds.map(|ms| Interval::relative_ms(u64::from(ms)));
    match wait_for_single_object(&thread.0, timeout) {
        STATUS_TIMEOUT => WAIT_TIMEOUT,
        _ => WAIT_OBJECT_0,
    }
}
