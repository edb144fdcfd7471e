//! KTIMER: KeInitializeTimer(Ex), KeSetTimer, KeSetTimerEx, KeCancelTimer,
//! KeReadStateTimer (book l.11717–11729).
//!
//! A timer is a dispatcher object that becomes signaled when it expires, and
//! optionally queues a DPC then. A periodic timer re-arms itself every
//! `period` milliseconds. In a simulation expiry happens on the virtual
//! clock; the DPC is queued on the processor that set the timer.

use std::sync::Arc;

use super::dispatcher::{DispatcherHeader, Waitable};
use super::dpc::{self, Dpc};
use super::irql::{self, DISPATCH_LEVEL};
use super::time::Interval;
use crate::ob::ObjectKind;
use crate::sim::clock::TICKS_PER_MS;
use crate::sim::pcr::{self, Mode};
use crate::sim::state::{SimState, TimerEntry, TimerKey, with_sim};
use crate::sim::{self, threaded};
use crate::sync::Mutex;
use crate::trace::Event;

/// KeInitializeTimerEx's Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerType {
    /// Expiry releases every waiter; the timer stays signaled.
    NotificationTimer,
    /// Expiry releases one waiter.
    SynchronizationTimer,
}

#[derive(Debug, Default)]
pub(crate) struct TimerState {
    /// Simulation: where the timer sits in the machine's timer queue.
    pub key: Option<TimerKey>,
    /// Threaded mode: armed, and the arming's number (stale expiries of an
    /// earlier arming are ignored).
    pub armed: bool,
    pub generation: u64,
    pub period_ms: u32,
    pub dpc: Option<Dpc>,
    /// The processor that set the timer; its DPC runs there.
    pub cpu: u32,
}

#[derive(Debug)]
pub(crate) struct TimerInner {
    pub header: Arc<DispatcherHeader>,
    pub state: Mutex<TimerState>,
}

/// A kernel timer. Cloning gives another handle to the same timer.
#[derive(Clone, Debug)]
pub struct Timer {
    inner: Arc<TimerInner>,
}

impl Waitable for Timer {
    fn dispatcher_header(&self) -> &Arc<DispatcherHeader> {
        &self.inner.header
    }
}

impl Default for Timer {
    fn default() -> Self {
        Timer::new()
    }
}

impl Timer {
    /// KeInitializeTimer: a notification timer.
    pub fn new() -> Timer {
        Timer::new_ex(TimerType::NotificationTimer)
    }

    /// KeInitializeTimerEx.
    pub fn new_ex(kind: TimerType) -> Timer {
        Timer::build(kind, None)
    }

    pub fn named(name: &'static str, kind: TimerType) -> Timer {
        Timer::build(kind, Some(name))
    }

    fn build(kind: TimerType, name: Option<&'static str>) -> Timer {
        let auto_reset = kind == TimerType::SynchronizationTimer;
        let header = DispatcherHeader::new(ObjectKind::Timer, name, auto_reset);
        Timer { inner: Arc::new(TimerInner { header, state: Mutex::new(TimerState::default()) }) }
    }
}

/// KeSetTimer: arms the timer to expire at `due` (negative: relative), with
/// an optional DPC; returns TRUE if it was already armed (it is re-armed).
pub fn set_timer(timer: &Timer, due: Interval, dpc: Option<&Dpc>) -> bool {
    set_timer_ex(timer, due, 0, dpc)
}

/// KeSetTimerEx: as [`set_timer`], then every `period_ms` milliseconds.
pub fn set_timer_ex(timer: &Timer, due: Interval, period_ms: u32, dpc: Option<&Dpc>) -> bool {
    if !irql::check_max_irql("KeSetTimer", DISPATCH_LEVEL) {
        return false;
    }
    let inner = &timer.inner;
    let id = inner.header.id();
    let cpu = pcr::cpu();
    match pcr::require_machine("KeSetTimer") {
        Mode::Sim => {
            let (was_set, due_ticks) = with_sim(|s| {
                let mut state = inner.state.lock();
                let was_set = state.key.take().is_some_and(|key| s.timers.remove(&key).is_some());
                inner.header.set_signaled(false);
                state.period_ms = period_ms;
                state.dpc = dpc.cloned();
                state.cpu = cpu;
                let due_ticks = due.due_ticks(s.now_ticks);
                state.key = Some(s.insert_timer(due_ticks, TimerEntry::Timer(inner.clone())));
                (was_set, due_ticks)
            });
            sim::point(Event::TimerSet { timer: id, due_ticks, period_ms });
            was_set
        }
        _ => {
            let generation;
            let was_set;
            {
                let mut state = inner.state.lock();
                was_set = state.armed;
                state.armed = true;
                state.generation += 1;
                generation = state.generation;
                state.period_ms = period_ms;
                state.dpc = dpc.cloned();
                state.cpu = cpu;
            }
            threaded::under_dispatcher_lock(false, || inner.header.set_signaled(false));
            threaded::arm_timer(inner.clone(), generation, due);
            was_set
        }
    }
}

/// KeCancelTimer: disarms the timer; TRUE if it was armed. The signal state
/// is left as it is.
pub fn cancel_timer(timer: &Timer) -> bool {
    if !irql::check_max_irql("KeCancelTimer", DISPATCH_LEVEL) {
        return false;
    }
    let inner = &timer.inner;
    let id = inner.header.id();
    match pcr::require_machine("KeCancelTimer") {
        Mode::Sim => {
            let was_set = with_sim(|s| {
                let key = inner.state.lock().key.take();
                key.is_some_and(|key| s.timers.remove(&key).is_some())
            });
            sim::point(Event::TimerCancel { timer: id, was_set });
            was_set
        }
        _ => {
            let mut state = inner.state.lock();
            state.generation += 1;
            std::mem::replace(&mut state.armed, false)
        }
    }
}

/// KeReadStateTimer: whether the timer has expired (is signaled).
pub fn read_state_timer(timer: &Timer) -> bool {
    irql::check_max_irql("KeReadStateTimer", DISPATCH_LEVEL);
    sim::yield_point();
    timer.inner.header.is_signaled()
}

/// A simulated timer fell due: signal it, wake waiters, queue its DPC,
/// re-arm a periodic one.
pub(crate) fn expire_sim(s: &mut SimState, key: TimerKey, inner: &Arc<TimerInner>) {
    let mut state = inner.state.lock();
    if state.key != Some(key) {
        return;
    }
    state.key = None;
    s.record(Event::TimerExpire { timer: inner.header.id() });
    inner.header.set_signaled(true);
    s.satisfy_waiters(&inner.header);
    if let Some(dpc) = &state.dpc {
        let queued = dpc::queue_in(s, dpc.inner(), state.cpu, (0, 0));
        s.record(Event::DpcQueue { cpu: state.cpu, dpc: dpc.inner().id(), queued });
    }
    if state.period_ms > 0 {
        let next = key.0 + u64::from(state.period_ms) * TICKS_PER_MS;
        state.key = Some(s.insert_timer(next, TimerEntry::Timer(inner.clone())));
    }
}
