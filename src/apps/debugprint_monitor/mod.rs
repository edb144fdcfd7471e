//! The DebugPrint Monitor (book l.9878–10093, spec 04 §3): finds the first
//! DebugPrint device by its interface, opens it for overlapped I/O, and a
//! listener thread reads one event per read and posts it as a row (Driver,
//! Time, Event). No GUI: the rows are a [`Document`] the caller reads,
//! renders as the book's Listing 7.1, saves and loads as `.dpm`, and can
//! mirror into `tracing`.
//!
//! Times: an event carries its GMT time; the Monitor shows local time,
//! with the UTC offset given in [`MonitorOptions`] so runs are
//! deterministic. The Monitor's own rows take the machine's clock.

mod document;
mod listener;
mod task;

pub use document::{Document, Row};
pub use task::{AsyncMonitor, Listening};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Console;
use super::wdm1_test::get_device_via_interface01;
use crate::drivers::debugprint::DEBUGPRINT_GUID;
use crate::sync::Mutex;
use crate::win32::{
    Handle, SystemTime, ThreadHandle, create_thread, file_time_to_system_time, get_system_time,
    system_time_to_file_time, wait_for_thread,
};

/// FILETIME units (100 ns) per second.
const FILE_TIME_PER_SECOND: i64 = 10_000_000;

/// How the Monitor shows times, and whether it mirrors rows to `tracing`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonitorOptions {
    /// Local time minus UTC, in minutes.
    pub utc_offset_minutes: i32,
    /// Show `HH:MM:SS.mmm` (later versions' option; off as in the book).
    pub show_milliseconds: bool,
    /// Log each event row to `tracing` (target `debugprint`, the driver in
    /// a field) as well.
    pub mirror_to_tracing: bool,
}

/// A running Monitor.
#[derive(Debug)]
pub struct Monitor {
    shared: Arc<Shared>,
    listener: Option<ThreadHandle>,
}

/// What the listener thread shares with the application (LISTENER_INFO).
#[derive(Debug)]
struct Shared {
    document: Mutex<Document>,
    keep_going: AtomicBool,
    options: MonitorOptions,
}

impl Shared {
    /// DebugPrint_Event::SendEvent: a row for the view.
    fn post(&self, driver: &str, time: String, message: String, set_modified: bool) {
        if self.options.mirror_to_tracing {
            tracing::info!(target: "debugprint", driver, time = time.as_str(), "{message}");
        }
        let row = Row { driver: driver.to_string(), time, message };
        self.document.lock().post(row, set_modified);
    }

    /// A row from the Monitor itself, stamped with the machine's clock.
    fn post_monitor(&self, message: String, set_modified: bool) {
        let time = self.local_time(&get_system_time());
        self.post("Monitor", time, message, set_modified);
    }

    /// GMTtoLocalTime, then the Time column's text.
    fn local_time(&self, gmt: &SystemTime) -> String {
        local_time_text(gmt, self.options)
    }
}

/// `gmt` shifted by the offset and shown as `HH:MM:SS` (or with `.mmm`).
/// Fields that name no time are shown as they came.
fn local_time_text(gmt: &SystemTime, options: MonitorOptions) -> String {
    let offset = i64::from(options.utc_offset_minutes) * 60 * FILE_TIME_PER_SECOND;
    let local = system_time_to_file_time(gmt)
        .and_then(|t| t.checked_add_signed(offset))
        .map_or(*gmt, file_time_to_system_time);
    let seconds = format!("{:02}:{:02}:{:02}", local.hour, local.minute, local.second);
    match options.show_milliseconds {
        true => format!("{seconds}.{:03}", local.milliseconds),
        false => seconds,
    }
}

/// The rows and the first DebugPrint device opened for overlapped I/O
/// (GetDeviceViaInterface01, book l.9905); without a device, a row saying
/// so and no handle (the book leaves this case open).
fn open(options: MonitorOptions) -> (Arc<Shared>, Option<Handle>) {
    let shared = Arc::new(Shared {
        document: Mutex::new(Document::default()),
        keep_going: AtomicBool::new(true),
        options,
    });
    let (mut out, mut input) = (std::io::sink(), std::io::empty());
    let mut console = Console::new(&mut out, &mut input);
    let handle = get_device_via_interface01(&mut console, &DEBUGPRINT_GUID, 0);
    if handle.is_none() {
        shared.post_monitor("Could not open the DebugPrint device".to_string(), false);
    }
    (shared, handle)
}

impl Monitor {
    /// StartListener (book l.9891–9909): opens the first DebugPrint device
    /// for overlapped I/O and starts the listener thread. Without a device
    /// it posts a row saying so and starts nothing (the book leaves this
    /// case open).
    pub fn start(options: MonitorOptions) -> Monitor {
        let (shared, handle) = open(options);
        let Some(handle) = handle else { return Monitor { shared, listener: None } };
        let listening = shared.clone();
        let listener = create_thread("Monitor listener", move || {
            listener::listen_thread_function(handle, &listening);
        });
        Monitor { shared, listener }
    }

    /// The rows so far.
    pub fn document(&self) -> Document {
        self.shared.document.lock().clone()
    }

    /// Edit → Delete events.
    pub fn clear(&self) {
        self.shared.document.lock().clear();
    }

    /// StopListener (book l.9891): asks the listener to stop, waits until
    /// it has cancelled its read and closed the device, and gives back the
    /// rows.
    pub fn stop(self) -> Document {
        self.shared.keep_going.store(false, Ordering::Release);
        if let Some(listener) = &self.listener {
            wait_for_thread(listener, None);
        }
        self.document()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gmt(hour: i16, minute: i16, second: i16, milliseconds: i16) -> SystemTime {
        SystemTime { year: 2000, month: 2, day: 17, hour, minute, second, milliseconds, weekday: 4 }
    }

    #[test]
    fn local_time_applies_the_offset_across_midnight_and_drops_milliseconds() {
        let east = MonitorOptions { utc_offset_minutes: 60, ..MonitorOptions::default() };
        assert_eq!(local_time_text(&gmt(23, 30, 5, 999), east), "00:30:05");
        let west = MonitorOptions { utc_offset_minutes: -330, show_milliseconds: true, ..east };
        assert_eq!(local_time_text(&gmt(1, 0, 0, 42), west), "19:30:00.042");
        let garbage = SystemTime { month: 13, ..gmt(25, 61, 70, 0) };
        assert_eq!(local_time_text(&garbage, MonitorOptions::default()), "25:61:70");
    }
}
