//! ListenThreadFunction (book Listing 14.12, l.9955–10090): one overlapped
//! read of up to 1024 bytes at a time; while it is pending, wake every
//! 100 ms to see whether the application wants to stop, and if so cancel
//! the read from this thread (CancelIo from another thread would not reach
//! it, book l.9965) and wait for the cancellation before leaving.

use std::sync::atomic::Ordering;

use super::Shared;
use super::document::latin1;
use crate::drivers::debugprint::record::{TIME_FIELDS_LEN, decode};
use crate::win32::{
    ERROR_IO_PENDING, Handle, WAIT_TIMEOUT, cancel_io, close_handle, get_last_error,
    get_overlapped_result, read_file_overlapped, wait_for_overlapped,
};

/// The read buffer (MAX_EVENT_LEN, book l.9988).
pub(super) const MAX_EVENT_LEN: u32 = 1024;

/// The first row, as the book's Listing 7.1 shows it (l.4448).
pub(super) const START_MESSAGE: &str =
    "Version 1.02 starting to listen under Windows 2000 (5.0 build 1877)";

/// How the wait for one read ended.
enum Read {
    Bytes(Vec<u8>),
    Stop,
}

pub(super) fn listen_thread_function(handle: Handle, shared: &Shared) {
    shared.post_monitor(START_MESSAGE.to_string(), false);
    // The book looks at KeepGoing only while a read waits; events that
    // keep arriving would then never let it stop.
    while shared.keep_going.load(Ordering::Acquire) {
        let bytes = match read_one(handle, shared) {
            Ok(Read::Bytes(bytes)) => bytes,
            Ok(Read::Stop) => break,
            Err(message) => {
                shared.post_monitor(message, true);
                break;
            }
        };
        post_event(shared, &bytes);
    }
    close_handle(handle);
    shared.post_monitor(STOPPED_MESSAGE.to_string(), true);
}

/// The Monitor's last row.
pub(super) const STOPPED_MESSAGE: &str = "Stopped listening";

/// What one read brought: a row for its event, or "Short read msg".
pub(super) fn post_event(shared: &Shared, bytes: &[u8]) {
    // At least the time fields and two NULs (l.10056).
    if bytes.len() < TIME_FIELDS_LEN + 2 {
        shared.post_monitor("Short read msg".to_string(), true);
        return;
    }
    // The parse sees the bytes received, nothing older (spec 04 §3.3).
    let Some(event) = decode(bytes) else { return };
    let time = shared.local_time(&event.time);
    shared.post(&latin1(&event.driver), time, latin1(&event.message), true);
}

/// One read: the bytes of one event, a stop request, or the Monitor row
/// that ends the loop.
fn read_one(handle: Handle, shared: &Shared) -> Result<Read, String> {
    let read = read_file_overlapped(handle, MAX_EVENT_LEN, 0);
    if !read.started() {
        let error = get_last_error();
        if error != ERROR_IO_PENDING {
            return Err(format!("Read didn't return pending {error}"));
        }
        while wait_for_overlapped(&read, 100) == WAIT_TIMEOUT {
            if !shared.keep_going.load(Ordering::Acquire) {
                cancel_io(handle);
                // The driver may still write the buffer until the read is
                // done: wait for it (spec 04 §3.3).
                let mut bytes = 0;
                get_overlapped_result(&read, &mut bytes, true);
                return Ok(Read::Stop);
            }
        }
    }
    let mut bytes = 0;
    if !get_overlapped_result(&read, &mut bytes, false) {
        return Err("GetOverlappedResult failed".to_string());
    }
    let mut data = read.buffer();
    data.truncate(bytes as usize);
    Ok(Read::Bytes(data))
}
