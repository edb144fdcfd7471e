//! Wdm2.h: WDM2_DEVICE_EXTENSION (book Listing 9.5, l.5360; spec 02
//! §2.4.1). The flags and counters are atomics, as the C code's
//! Interlocked calls and plain bools are read by several processors; the
//! resources RetrieveResources records sit under a host lock that is never
//! held across a kernel call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};

use crate::ddk::*;
use crate::sync::Mutex;

/// The device extension of a Wdm2 FDO.
#[derive(Debug)]
pub struct Wdm2DeviceExtension {
    pub(super) pdo: DeviceObject,
    /// What IoAttachDeviceToDeviceStack returned: where IRPs go down.
    pub(super) next_stack_device: OnceLock<DeviceObject>,
    pub(super) if_sym_link_name: OnceLock<String>,
    /// Resources obtained: Started, Stop-pending or Remove-pending.
    pub(super) got_resources: AtomicBool,
    /// A stop or remove is pending.
    pub(super) paused: AtomicBool,
    /// The one flag dispatch routines test: paused or not started.
    pub(super) io_disabled: AtomicBool,
    pub(super) open_handle_count: AtomicI32,
    /// I/O in flight, plus one (the bias PnpStopDevice removes).
    pub(super) usage_count: AtomicI32,
    /// PnpStopDevice is waiting for I/O in flight.
    pub(super) stopping: AtomicBool,
    /// Set when `usage_count` reaches 0.
    pub(super) stopping_event: Event,
    /// The driver's own record of its device power state.
    power_state: AtomicU8,
    pub(super) power_idle_counter: OnceLock<IdleCounter>,
    pub(super) resources: Mutex<Wdm2Resources>,
}

/// What RetrieveResources found in the translated resource list (book
/// l.5766–5885). Wdm2 records but never uses them; WdmIo does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wdm2Resources {
    pub got_port_or_memory: bool,
    pub port_in_io_space: bool,
    pub port_needs_mapping: bool,
    pub port_start_address: u64,
    pub port_length: u32,
    pub got_interrupt: bool,
    pub vector: u32,
    pub irql: u32,
    pub affinity: u64,
    pub mode: Option<InterruptMode>,
}

/// The extension's PnP and power state at one moment, for tests and tools
/// (the spec's state table, §2.4.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wdm2State {
    pub got_resources: bool,
    pub paused: bool,
    pub io_disabled: bool,
    pub open_handle_count: i32,
    pub usage_count: i32,
    pub stopping: bool,
    pub power_state: DevicePowerState,
}

impl Wdm2DeviceExtension {
    /// The extension as Wdm2AddDevice initialises it (book l.5122–5160):
    /// I/O disabled until START, usage count 1, device off (D3).
    pub(super) fn new(pdo: &DeviceObject) -> Wdm2DeviceExtension {
        Wdm2DeviceExtension {
            pdo: pdo.clone(),
            next_stack_device: OnceLock::new(),
            if_sym_link_name: OnceLock::new(),
            got_resources: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            io_disabled: AtomicBool::new(true),
            open_handle_count: AtomicI32::new(0),
            usage_count: AtomicI32::new(1),
            stopping: AtomicBool::new(false),
            stopping_event: Event::named("StoppingEvent", EventType::NotificationEvent, false),
            power_state: AtomicU8::new(DevicePowerState::D3 as u8),
            power_idle_counter: OnceLock::new(),
            resources: Mutex::new(Wdm2Resources::default()),
        }
    }

    /// A snapshot of the flags, counters and power state.
    pub fn state(&self) -> Wdm2State {
        Wdm2State {
            got_resources: self.got_resources.load(Ordering::SeqCst),
            paused: self.paused.load(Ordering::SeqCst),
            io_disabled: self.io_disabled.load(Ordering::SeqCst),
            open_handle_count: self.open_handle_count.load(Ordering::SeqCst),
            usage_count: self.usage_count.load(Ordering::SeqCst),
            stopping: self.stopping.load(Ordering::SeqCst),
            power_state: self.power_state(),
        }
    }

    /// The resources recorded at the last START.
    pub fn resources(&self) -> Wdm2Resources {
        self.resources.lock().clone()
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

    /// dx->PowerState.
    pub(super) fn power_state(&self) -> DevicePowerState {
        match self.power_state.load(Ordering::SeqCst) {
            1 => DevicePowerState::D0,
            2 => DevicePowerState::D1,
            3 => DevicePowerState::D2,
            4 => DevicePowerState::D3,
            _ => DevicePowerState::Unspecified,
        }
    }

    pub(super) fn set_power_state(&self, state: DevicePowerState) {
        self.power_state.store(state as u8, Ordering::SeqCst);
    }
}
