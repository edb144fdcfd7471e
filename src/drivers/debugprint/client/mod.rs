//! The DebugPrint client library: the code each traced driver links
//! (DebugPrint.c, book l.3990–4050 and l.9150–9550; spec 04 §1).
//!
//! A trace call (DebugPrintMsg, DebugPrint, DebugPrint2; at most
//! DISPATCH_LEVEL) stamps the message with the GMT time of the call,
//! appends it to the driver's event list under a spin lock and returns: it
//! never does I/O (book l.9172–9180). A system thread per driver, started
//! by DebugPrintInit, opens `\Device\PHDDebugPrint` (retrying for up to five
//! minutes), wakes once a second, and writes each queued event to the
//! device with one synchronous ZwWriteFile (book l.9449–9484).
//! DebugPrintClose queues "DebugPrint logging ended", tells the thread to
//! finish and waits for it.
//!
//! The client state is a driver image's globals in the book; here it is one
//! per driver name per machine (the machine's image globals), so
//! the many machines of a test run never share it. The machine option
//! `debug_print` is the book's checked build (`DBG=1`, book l.3998): off,
//! every call is a no-op for DebugPrint (no thread, no allocation, no IRP).
//! On or off, each trace line also goes to `tracing` and, in a simulation
//! that records, into the run's trace as a print (as DbgPrint would), and
//! is formatted only if someone records it.
//!
//! Port deviations (spec 04 §1.5): the thread drains its list once more
//! after it sees ExitNow, so every event queued before Close is written
//! (drain-on-exit), and Close waits for the thread object itself rather
//! than an event the thread sets just before it ends (join).

mod format;

pub use format::{BAD_ARGUMENT, DpArg, format};

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use self::format::{Formatted, Latin1};
use super::{DEVICE_NAME, record};
use crate::ddk::*;
use crate::ke::irql::check_max_irql;
use crate::rtl::dbg_print_unseen;
use crate::sim::pcr;
use crate::sim::system::with_system;
use crate::sync::Mutex;

/// The size of DebugPrint's formatting buffer (book l.4041).
pub const PRINT_BUFFER_LEN: usize = 100;

/// The first message a client logs (book l.4450; text \[src\]).
pub const LOGGING_STARTED: &[u8] = b"DebugPrint logging started";

/// The last message a client logs, from DebugPrintClose \[src\].
pub const LOGGING_ENDED: &[u8] = b"DebugPrint logging ended";

/// What DebugPrint logs when it cannot allocate its formatting buffer
/// (spec 04 §1.8 \[src\]).
pub const NO_BUFFER: &[u8] = b"DebugPrint: Could not allocate buffer";

/// How long the thread tries to open the device before giving up: five
/// minutes, so a driver loaded at boot before DebugPrint still finds it
/// (book l.9518).
pub const OPEN_GIVE_UP_SECONDS: u32 = 300;

/// Seconds between two attempts to open the device \[src\].
pub const OPEN_RETRY_SECONDS: u32 = 20;

/// The thread's wait: one second, relative (book l.9310, l.9353).
const ONE_SECOND: Interval = Interval::relative_secs(1);

/// One traced driver's DebugPrint calls: `DebugPrintInit(name)` made a
/// value. A driver keeps one in a `static` and calls it from anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebugPrint {
    name: &'static str,
}

/// Where a driver's client stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientStatus {
    /// No client: never initialised, closed, or DebugPrint is off.
    Inactive,
    /// Started: trace calls queue events (DebugPrintStarted).
    Started,
    /// The thread gave up opening the device; trace calls are no-ops until
    /// Close.
    Stopped,
}

/// DebugPrint.c's globals (book l.9196–9260, l.9433–9443).
struct Client {
    /// DebugPrintStarted: trace calls test it first (book l.9379).
    started: AtomicBool,
    /// DriverName: the private nonpaged copy, with its NUL (book l.9504).
    driver_name: Vec<u8>,
    /// EventList and EventListLock: the events waiting for the thread,
    /// each a nonpaged block holding one wire record (book l.9420).
    events: SpinLock<VecDeque<Vec<u8>>>,
    /// ThreadEvent: wakes the thread (synchronization event, book l.9295).
    thread_event: Event,
    /// ExitNow: asks the thread to finish (book l.9192).
    exit_now: AtomicBool,
    /// ThreadObjectPointer: the referenced thread object (book l.9190).
    thread: Mutex<Option<Thread>>,
}

/// A trace call refused for its IRQL (the bug check is already raised).
struct Refused;

impl DebugPrint {
    /// The calls of the driver named `name` (the Monitor's Driver column).
    pub const fn for_driver(name: &'static str) -> DebugPrint {
        DebugPrint { name }
    }

    /// The driver name events carry.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// DebugPrintInit (Listing 14.1, l.9196–9215): copies the name,
    /// prepares the list and events, starts the system thread, marks the
    /// client started and logs "DebugPrint logging started". PASSIVE_LEVEL
    /// only. A second Init before Close changes nothing.
    pub fn init(&self) {
        if !debug_print_on() || !check_max_irql("DebugPrintInit", PASSIVE_LEVEL) {
            return;
        }
        if self.client().is_some() {
            return;
        }
        // The caller's string may be in a discardable INIT section (l.9504).
        let Some(mut driver_name) = ex_allocate_pool(PoolType::NonPagedPool, self.name.len() + 1)
        else {
            return;
        };
        driver_name[..self.name.len()].copy_from_slice(self.name.as_bytes());
        let client = Arc::new(Client {
            started: AtomicBool::new(false),
            driver_name,
            events: SpinLock::named("EventListLock", VecDeque::new()),
            thread_event: Event::named("ThreadEvent", EventType::SynchronizationEvent, false),
            exit_now: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let for_thread = client.clone();
        // A background thread: like the book's, it lives as long as the
        // driver, and a machine with nothing else to do may stop under it.
        let Ok(thread) = ps_create_background_system_thread("DebugPrint", move || {
            debug_print_system_thread(&for_thread);
        }) else {
            return;
        };
        *client.thread.lock() = Some(thread);
        client.started.store(true, Ordering::SeqCst);
        with_system(|s| s.set_image_global(self.name, Some(client.clone())));
        self.log(&client, LOGGING_STARTED);
    }

    /// DebugPrintMsg (Listing 14.2, l.9377–9420): logs `msg` (up to its
    /// first NUL). At most DISPATCH_LEVEL.
    pub fn msg(&self, msg: &[u8]) {
        if self.unseen() {
            return;
        }
        let msg = shown(msg);
        match self.trace_client("DebugPrintMsg") {
            Err(Refused) => {}
            Ok(Some(client)) => self.log(&client, msg),
            Ok(None) => dbg_print(self.name, format_args!("{}", Latin1(msg))),
        }
    }

    /// DebugPrint: formats `fmt` with `args` into a 100-byte buffer
    /// (book l.4041) and logs it. At most DISPATCH_LEVEL.
    pub fn print(&self, fmt: &[u8], args: &[DpArg<'_>]) {
        self.print2(PRINT_BUFFER_LEN, fmt, args);
    }

    /// DebugPrint2: as [`print`](Self::print) with a `max`-byte buffer;
    /// at most `max - 1` characters survive. A `max` of 0 is taken as 1
    /// (the C code would write before its buffer), one beyond what a
    /// record carries as [`record::MESSAGE_MAX`] + 1.
    pub fn print2(&self, max: usize, fmt: &[u8], args: &[DpArg<'_>]) {
        if self.unseen() {
            return;
        }
        let max = max.clamp(1, record::MESSAGE_MAX + 1);
        let client = match self.trace_client("DebugPrint") {
            Err(Refused) => return,
            Ok(Some(client)) => client,
            Ok(None) => {
                let text = Formatted { max, fmt, args };
                return dbg_print(self.name, format_args!("{text}"));
            }
        };
        // DebugPrintVA [src]: a fresh nonpaged buffer for every call.
        match ex_allocate_pool(PoolType::NonPagedPool, max) {
            Some(mut buffer) => {
                let len = format(&mut buffer, fmt, args);
                self.log(&client, &buffer[..len]);
            }
            None => self.log(&client, NO_BUFFER),
        }
    }

    /// DebugPrintClose (Listing 14.1, l.9227–9235): logs "DebugPrint logging
    /// ended", marks the client stopped, tells the thread to finish and
    /// waits until it has; frees the client. PASSIVE_LEVEL only. After a
    /// give-up there is nothing to log or write; the (finished) thread is
    /// still joined.
    pub fn close(&self) {
        if !debug_print_on() || !check_max_irql("DebugPrintClose", PASSIVE_LEVEL) {
            return;
        }
        let Some(client) = self.client() else { return };
        if client.started.load(Ordering::SeqCst) {
            self.log(&client, LOGGING_ENDED);
            client.started.store(false, Ordering::SeqCst);
        }
        client.exit_now.store(true, Ordering::SeqCst);
        ke_set_event(&client.thread_event, 0, false);
        // PORT DEVIATION (join): the thread object is signaled once the
        // thread has ended, so no client code runs after Close returns.
        let thread = client.thread.lock().take();
        if let Some(thread) = thread {
            ke_wait_for_single_object(&thread, None);
        }
        with_system(|s| s.set_image_global::<Client>(self.name, None));
    }

    /// Where this driver's client stands.
    pub fn status(&self) -> ClientStatus {
        match self.client() {
            None => ClientStatus::Inactive,
            Some(client) if client.started.load(Ordering::SeqCst) => ClientStatus::Started,
            Some(_) => ClientStatus::Stopped,
        }
    }

    /// The client of this machine's copy of the driver, if initialised.
    fn client(&self) -> Option<Arc<Client>> {
        if !debug_print_on() {
            return None;
        }
        with_system(|s| s.image_global::<Client>(self.name))
    }

    /// The gate of a trace call: with DebugPrint on, the IRQL rule (book
    /// l.3996: a call above DISPATCH_LEVEL is a bug check and queues
    /// nothing) and the started client, if any.
    fn trace_client(&self, call: &'static str) -> Result<Option<Arc<Client>>, Refused> {
        if !debug_print_on() {
            return Ok(None);
        }
        if !check_max_irql(call, DISPATCH_LEVEL) {
            return Err(Refused);
        }
        Ok(self.client().filter(|client| client.started.load(Ordering::SeqCst)))
    }

    /// A free build's trace call nobody would see (no DebugPrint, no trace
    /// kept, `tracing` not listening): it returns at once, as the book's
    /// calls compile to nothing without DBG (book l.3998).
    #[inline]
    fn unseen(&self) -> bool {
        pcr::free_build() && dbg_print_unseen()
    }

    /// Queues `msg` for the device and shows it as this driver's trace line.
    fn log(&self, client: &Client, msg: &[u8]) {
        client.queue(msg);
        dbg_print(self.name, format_args!("{}", Latin1(msg)));
    }
}

/// Whether drivers' DebugPrint calls are on (a checked build).
fn debug_print_on() -> bool {
    with_system(|s| s.options.debug_print)
}

/// A message as it travels: up to its first NUL, at most
/// [`record::MESSAGE_MAX`] bytes.
fn shown(msg: &[u8]) -> &[u8] {
    let end = msg.iter().position(|&b| b == 0).unwrap_or(msg.len());
    &msg[..end.min(record::MESSAGE_MAX)]
}

impl Client {
    /// DebugPrintMsg's body (Listing 14.2): the time now, in GMT (book
    /// l.9369), the name and the message as one record in a nonpaged
    /// block at the tail of the list. Without memory the event is dropped
    /// (book l.9400).
    fn queue(&self, msg: &[u8]) {
        let now = rtl_time_to_time_fields(ke_query_system_time());
        let data = record::encode(&now, &self.driver_name, msg);
        let Some(mut event) = ex_allocate_pool(PoolType::NonPagedPool, data.len()) else {
            return;
        };
        event.copy_from_slice(&data);
        self.events.acquire().push_back(event);
    }

    /// ExInterlockedRemoveHeadList (book l.9457).
    fn take_event(&self) -> Option<Vec<u8>> {
        self.events.acquire().pop_front()
    }

    /// Listing 14.3 (l.9449–9484): every queued event, oldest first, as one
    /// synchronous write of the whole record at offset 0; the result is
    /// ignored and the block freed.
    fn write_events(&self, device: Handle) {
        while let Some(event) = self.take_event() {
            let _ = zw_write_file(device, &event, 0);
        }
    }

    /// ClearEvents (book l.9486): frees what is left.
    fn clear_events(&self) {
        while self.take_event().is_some() {}
    }
}

/// DebugPrintSystemThread (Listing 14.1, l.9252–9276): open the device,
/// then wake once a second (or when Close signals) and write what is
/// queued; at ExitNow close the handle, mark the client stopped, free what
/// is left and end. The book also lowers the thread to
/// LOW_REALTIME_PRIORITY (l.9188); the simulator has no priorities.
fn debug_print_system_thread(client: &Client) {
    if let Some(device) = open_debug_print_driver(client) {
        loop {
            ke_wait_for_single_object(&client.thread_event, Some(ONE_SECOND));
            // PORT DEVIATION (drain-on-exit): ExitNow is read before the
            // drain, so the drain sees everything queued before Close set
            // it, "DebugPrint logging ended" included (spec 04 R7).
            let exiting = client.exit_now.load(Ordering::SeqCst);
            client.write_events(device);
            if exiting {
                break;
            }
        }
        zw_close(device); // l.9516
    }
    client.started.store(false, Ordering::SeqCst);
    client.clear_events();
    ps_terminate_system_thread(STATUS_SUCCESS); // l.9192
}

/// OpenDebugPrintDriver (Listing 14.4, l.9520–9550): ZwCreateFile on the
/// kernel name, read and write access and sharing, open existing \[src\];
/// on failure again every 20 s for five minutes, checking ExitNow once a
/// second \[src\]: attempts at t = 0, 20, …, 280 s.
fn open_debug_print_driver(client: &Client) -> Option<Handle> {
    let mut waited_seconds = 0;
    while waited_seconds < OPEN_GIVE_UP_SECONDS {
        let access = GENERIC_READ | GENERIC_WRITE;
        let share = FILE_SHARE_READ | FILE_SHARE_WRITE;
        if let Ok(device) = zw_create_file(DEVICE_NAME, access, share, FILE_OPEN) {
            return Some(device);
        }
        for _ in 0..OPEN_RETRY_SECONDS {
            ke_wait_for_single_object(&client.thread_event, Some(ONE_SECOND));
            if client.exit_now.load(Ordering::SeqCst) {
                return None;
            }
            waited_seconds += 1;
        }
    }
    None
}
