//! Idle detection (book l.6547–6555): a device registered with
//! PoRegisterDeviceForIdleDetection that stays idle past its time-out gets
//! a device SET_POWER to its idle state from the power manager;
//! PoSetDeviceBusy resets the idle time.
//!
//! The power manager checks once per (virtual) second, with the
//! performance time-out (the policy of a desktop on AC power, where the
//! book's author saw the D3 IRP after 60 s, l.6897). It sends one request
//! per idle period, and none while the stack's recorded state is already
//! the idle state.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::call::device_power_state;
use super::request::request_power_irp;
use super::states::{DevicePowerState, PowerState};
use crate::ex::worker::{WorkQueue, queue_work_item};
use crate::io::DeviceObject;
use crate::io::codes::IRP_MN_SET_POWER;
use crate::io::device::get_attached_device;
use crate::ke::{Dpc, Interval, Timer, cancel_timer, set_timer_ex};
use crate::sim::clock::TICKS_PER_SECOND;

/// The idle counter PoRegisterDeviceForIdleDetection returns.
#[derive(Clone, Debug)]
pub struct IdleCounter(Arc<Idle>);

#[derive(Debug)]
struct Idle {
    device: DeviceObject,
    timeout_ticks: u64,
    idle_state: DevicePowerState,
    last_busy: AtomicU64,
    /// A SET_POWER was requested in this idle period.
    requested: AtomicBool,
    timer: Timer,
    dpc: Dpc,
}

/// PoRegisterDeviceForIdleDetection: watches `device` for idleness; both
/// time-outs zero turns detection off (`None`).
pub fn register_device_for_idle_detection(
    device: &DeviceObject,
    conservation_secs: u32,
    performance_secs: u32,
    idle_state: DevicePowerState,
) -> Option<IdleCounter> {
    if conservation_secs == 0 && performance_secs == 0 {
        return None;
    }
    let timeout_secs = if performance_secs > 0 { performance_secs } else { conservation_secs };
    let idle = Arc::new_cyclic(|me: &Weak<Idle>| {
        let me = me.clone();
        Idle {
            device: device.clone(),
            timeout_ticks: u64::from(timeout_secs) * TICKS_PER_SECOND,
            idle_state,
            last_busy: AtomicU64::new(crate::sim::now_ticks()),
            requested: AtomicBool::new(false),
            timer: Timer::new(),
            dpc: Dpc::new(move |_, _, _| {
                if let Some(idle) = me.upgrade() {
                    idle.check();
                }
            }),
        }
    });
    set_timer_ex(&idle.timer, Interval::relative_secs(1), 1000, Some(&idle.dpc));
    Some(IdleCounter(idle))
}

/// The counter's owner let go of it (its device extension went): the
/// once-a-second check stops.
impl Drop for Idle {
    fn drop(&mut self) {
        cancel_timer(&self.timer);
    }
}

/// PoSetDeviceBusy: the device is in use; its idle time starts again.
pub fn set_device_busy(counter: &IdleCounter) {
    counter.0.last_busy.store(crate::sim::now_ticks(), Ordering::Release);
    counter.0.requested.store(false, Ordering::Release);
}

impl Idle {
    /// The once-a-second check (a DPC, at DISPATCH_LEVEL).
    fn check(self: Arc<Self>) {
        if self.device.is_deleted() {
            cancel_timer(&self.timer);
            return;
        }
        let idle_for =
            crate::sim::now_ticks().saturating_sub(self.last_busy.load(Ordering::Acquire));
        if idle_for < self.timeout_ticks
            || self.requested.load(Ordering::Acquire)
            || recorded_state(&self.device) == self.idle_state
        {
            return;
        }
        self.requested.store(true, Ordering::Release);
        // Power IRPs go out at PASSIVE_LEVEL, from the power manager's worker.
        queue_work_item(
            WorkQueue::Idle,
            Box::new(move || {
                let state = PowerState::Device(self.idle_state);
                request_power_irp(&self.device, IRP_MN_SET_POWER, state, None, None);
            }),
        );
    }
}

/// The device state recorded for `device`'s stack: the topmost device
/// object that recorded one with PoSetPowerState.
fn recorded_state(device: &DeviceObject) -> DevicePowerState {
    let mut at = Some(get_attached_device(device));
    while let Some(d) = at {
        let state = device_power_state(&d);
        if state != DevicePowerState::Unspecified {
            return state;
        }
        at = d.lower_device();
    }
    DevicePowerState::Unspecified
}
