//! DebugPrint.h: the device extension (book Listing 14.6, l.9606–9634;
//! initial values spec 04 §2.2). The PnP flags and counters are atomics, as
//! the C code's Interlocked calls and plain bools are read by several
//! processors. The two queues are [`SpinLock`]s that own what they guard:
//! `ReadIrp` under ReadIrpLock, `EventList` under EventListLock.

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::ddk::*;

/// The device extension of the DebugPrint FDO.
#[derive(Debug)]
pub struct DebugPrintDeviceExtension {
    /// What IoAttachDeviceToDeviceStack returned: where IRPs go down.
    pub(super) next_stack_device: OnceLock<DeviceObject>,
    /// The DEBUGPRINT_GUID interface link, registered at AddDevice.
    pub(super) if_sym_link_name: OnceLock<String>,
    /// Started (not stopped).
    pub(super) got_resources: AtomicBool,
    /// A stop or remove is pending.
    pub(super) paused: AtomicBool,
    /// The flag dispatch routines test: paused or not started.
    pub(super) io_disabled: AtomicBool,
    pub(super) open_handle_count: AtomicI32,
    /// I/O in flight, plus one (the bias PnpStopDevice removes); a held
    /// read keeps its reference until it completes (book l.10685).
    pub(super) usage_count: AtomicI32,
    /// PnpStopDevice is waiting for I/O in flight.
    pub(super) stopping: AtomicBool,
    /// Set when `usage_count` reaches 0.
    pub(super) stopping_event: Event,
    /// ReadIrp under ReadIrpLock: the "read queue" of one IRP (l.9604).
    pub(super) read_irp: SpinLock<Option<Irp>>,
    /// EventList under EventListLock: the written events, oldest first,
    /// each the unparsed bytes of one write (l.9812).
    pub(super) event_list: SpinLock<VecDeque<Vec<u8>>>,
}

/// The extension's state at one moment, for tests and tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebugPrintState {
    pub got_resources: bool,
    pub paused: bool,
    pub io_disabled: bool,
    pub open_handle_count: i32,
    pub usage_count: i32,
    pub stopping: bool,
    /// A read is in the slot.
    pub read_held: bool,
    /// Events waiting for a read.
    pub events_queued: usize,
}

impl DebugPrintDeviceExtension {
    /// The extension as DbpAddDevice initialises it: I/O disabled until
    /// START, usage count 1, both queues empty (l.9604).
    pub(super) fn new() -> DebugPrintDeviceExtension {
        DebugPrintDeviceExtension {
            next_stack_device: OnceLock::new(),
            if_sym_link_name: OnceLock::new(),
            got_resources: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            io_disabled: AtomicBool::new(true),
            open_handle_count: AtomicI32::new(0),
            usage_count: AtomicI32::new(1),
            stopping: AtomicBool::new(false),
            stopping_event: Event::named("StoppingEvent", EventType::NotificationEvent, false),
            read_irp: SpinLock::named("ReadIrpLock", None),
            event_list: SpinLock::named("EventListLock", VecDeque::new()),
        }
    }

    /// A snapshot of the flags, counters and queues (takes ReadIrpLock,
    /// then EventListLock, the driver's lock order).
    pub fn state(&self) -> DebugPrintState {
        let (read_held, events_queued) = {
            let slot = self.read_irp.acquire();
            let events = self.event_list.acquire();
            (slot.is_some(), events.len())
        };
        DebugPrintState {
            got_resources: self.got_resources.load(Ordering::SeqCst),
            paused: self.paused.load(Ordering::SeqCst),
            io_disabled: self.io_disabled.load(Ordering::SeqCst),
            open_handle_count: self.open_handle_count.load(Ordering::SeqCst),
            usage_count: self.usage_count.load(Ordering::SeqCst),
            stopping: self.stopping.load(Ordering::SeqCst),
            read_held,
            events_queued,
        }
    }

    /// The queued events, oldest first (for tests and tools).
    pub fn queued_events(&self) -> Vec<Vec<u8>> {
        let _slot = self.read_irp.acquire();
        self.event_list.acquire().iter().cloned().collect()
    }

    pub(super) fn io_disabled(&self) -> bool {
        self.io_disabled.load(Ordering::SeqCst)
    }

    /// `Paused = IODisabled = value`, as the query and cancel handlers and
    /// a successful START set them together.
    pub(super) fn set_paused(&self, value: bool) {
        self.paused.store(value, Ordering::SeqCst);
        self.io_disabled.store(value, Ordering::SeqCst);
    }
}
