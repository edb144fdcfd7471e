//! Dispatcher objects and waits: KeWaitForSingleObject,
//! KeWaitForMultipleObjects, KeDelayExecutionThread.
//!
//! Every waitable object (event, timer, thread) starts with a
//! [`DispatcherHeader`]: a signal state and whether acquiring it resets it
//! (synchronization events and timers release one waiter, notification ones
//! all; book l.9295–9297). In a simulation a wait that cannot be satisfied
//! blocks the simulated thread and the scheduler runs something else; in
//! threaded mode it sleeps on the machine's dispatcher lock, as NT's waits
//! sleep under its dispatcher database lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::irql::{DISPATCH_LEVEL, Irql};
use super::time::Interval;
use crate::ob::{IdCell, ObjectId, ObjectKind};
use crate::sim::pcr::{self, Mode};
use crate::sim::state::{WaitBlock, with_sim};
use crate::sim::{self, threaded};
use crate::status::{NtStatus, STATUS_INVALID_PARAMETER, STATUS_SUCCESS, STATUS_TIMEOUT};
use crate::trace::Event;
use crate::verifier::{self, Rule};

/// Most objects one KeWaitForMultipleObjects call may name.
pub const MAXIMUM_WAIT_OBJECTS: usize = 64;

/// The signal state shared by all waitable objects (DISPATCHER_HEADER).
#[derive(Debug)]
pub struct DispatcherHeader {
    id: IdCell,
    kind: ObjectKind,
    name: Option<&'static str>,
    signaled: AtomicBool,
    /// A synchronization object: a satisfied wait resets it.
    auto_reset: bool,
}

impl DispatcherHeader {
    pub(crate) fn new(kind: ObjectKind, name: Option<&'static str>, auto_reset: bool) -> Arc<Self> {
        Arc::new(DispatcherHeader {
            id: IdCell::new(),
            kind,
            name,
            signaled: AtomicBool::new(false),
            auto_reset,
        })
    }

    #[inline]
    pub(crate) fn id(&self) -> ObjectId {
        self.id.get(self.kind, self.name)
    }

    #[inline]
    pub(crate) fn is_signaled(&self) -> bool {
        self.signaled.load(Ordering::Acquire)
    }

    /// Sets the state without waking anyone; returns the previous state.
    pub(crate) fn set_signaled(&self, signaled: bool) -> bool {
        self.signaled.swap(signaled, Ordering::AcqRel)
    }

    /// A satisfied wait consumes a synchronization object.
    fn acquire(&self) {
        if self.auto_reset {
            self.signaled.store(false, Ordering::Release);
        }
    }

    /// Signals the object and wakes the waiters it can now satisfy; returns
    /// the previous state.
    pub(crate) fn signal(&self) -> bool {
        match pcr::mode() {
            Mode::Sim => with_sim(|s| {
                let was = self.set_signaled(true);
                s.satisfy_waiters(self);
                was
            }),
            _ => threaded::under_dispatcher_lock(true, || self.set_signaled(true)),
        }
    }
}

/// An object a thread can wait on: an event, a timer, a thread.
pub trait Waitable {
    #[doc(hidden)]
    fn dispatcher_header(&self) -> &Arc<DispatcherHeader>;
}

/// KeWaitForMultipleObjects' WaitType.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitType {
    /// Satisfied when every object is signaled at once (WaitAll).
    All,
    /// Satisfied by the first signaled object (WaitAny).
    Any,
}

/// If the wait can be satisfied now, consumes what it acquires and returns
/// the status: STATUS_WAIT_0 + index for WaitAny, STATUS_SUCCESS for WaitAll.
pub(crate) fn try_satisfy(objects: &[Arc<DispatcherHeader>], wait_all: bool) -> Option<NtStatus> {
    if wait_all {
        if !objects.iter().all(|o| o.is_signaled()) {
            return None;
        }
        objects.iter().for_each(|o| o.acquire());
        return Some(STATUS_SUCCESS);
    }
    let index = objects.iter().position(|o| o.is_signaled())?;
    objects[index].acquire();
    Some(NtStatus(index as u32))
}

/// KeWaitForSingleObject (Executive, KernelMode, not alertable).
pub fn wait_for_single_object(object: &dyn Waitable, timeout: Option<Interval>) -> NtStatus {
    wait(vec![object.dispatcher_header().clone()], false, timeout)
}

/// KeWaitForMultipleObjects (Executive, KernelMode, not alertable). More than
/// MAXIMUM_WAIT_OBJECTS objects is bug check 0xC; none is
/// STATUS_INVALID_PARAMETER.
pub fn wait_for_multiple_objects(
    objects: &[&dyn Waitable],
    wait_type: WaitType,
    timeout: Option<Interval>,
) -> NtStatus {
    if objects.len() > MAXIMUM_WAIT_OBJECTS {
        verifier::bug_check(
            Rule::MaximumWaitObjectsExceeded,
            [objects.len() as u64, 0, 0],
            format!("KeWaitForMultipleObjects on {} objects", objects.len()),
        );
        return STATUS_INVALID_PARAMETER;
    }
    if objects.is_empty() {
        return STATUS_INVALID_PARAMETER;
    }
    let headers = objects.iter().map(|o| o.dispatcher_header().clone()).collect();
    wait(headers, wait_type == WaitType::All, timeout)
}

/// KeDelayExecutionThread (KernelMode, not alertable): the thread sleeps
/// for `interval`. Callable at or below APC_LEVEL.
pub fn delay_execution_thread(interval: Interval) -> NtStatus {
    if !super::irql::check_max_irql("KeDelayExecutionThread", super::irql::APC_LEVEL) {
        return STATUS_SUCCESS;
    }
    match pcr::require_machine("KeDelayExecutionThread") {
        Mode::Sim => wait_sim(Vec::new(), false, Some(interval), STATUS_SUCCESS),
        _ => threaded::wait(&[], false, Some(interval), STATUS_SUCCESS),
    }
}

fn wait(
    objects: Vec<Arc<DispatcherHeader>>,
    wait_all: bool,
    timeout: Option<Interval>,
) -> NtStatus {
    if !check_wait_irql(&objects, timeout) {
        return STATUS_TIMEOUT;
    }
    match pcr::require_machine("KeWaitForSingleObject") {
        Mode::Sim => wait_sim(objects, wait_all, timeout, STATUS_TIMEOUT),
        _ => threaded::wait(&objects, wait_all, timeout, STATUS_TIMEOUT),
    }
}

/// Waits are legal below DISPATCH_LEVEL, and at it only with a zero
/// time-out (a poll); Driver Verifier's 0xC4/0x120–0x122 otherwise.
fn check_wait_irql(objects: &[Arc<DispatcherHeader>], timeout: Option<Interval>) -> bool {
    let irql: Irql = pcr::irql();
    let rule = match timeout {
        _ if irql > DISPATCH_LEVEL => Rule::WaitAboveDispatch,
        None if irql == DISPATCH_LEVEL => Rule::WaitAtDispatchInfinite,
        Some(t) if irql == DISPATCH_LEVEL && t != Interval::ZERO => Rule::WaitAtDispatchNonZero,
        _ => return true,
    };
    let object = objects.first().map_or(0, |o| u64::from(o.id().0));
    let timeout_value = timeout.map_or(0, |t| t.0 as u64);
    verifier::bug_check(
        rule,
        [u64::from(irql.0), object, timeout_value],
        format!("wait at {irql} with time-out {timeout:?}"),
    );
    false
}

fn wait_sim(
    objects: Vec<Arc<DispatcherHeader>>,
    wait_all: bool,
    timeout: Option<Interval>,
    timeout_status: NtStatus,
) -> NtStatus {
    let first = objects.first().map(|o| o.id());
    let count = objects.len().min(u8::MAX as usize) as u8;
    let blocked = with_sim(|s| {
        if s.halted {
            return Err(STATUS_SUCCESS);
        }
        if let Some(status) = try_satisfy(&objects, wait_all) {
            return Err(status);
        }
        if timeout == Some(Interval::ZERO) {
            return Err(timeout_status);
        }
        let Some(thread) = s.current_thread() else { return Err(timeout_status) };
        let timer = timeout.map(|t| {
            let due = t.due_ticks(s.now_ticks);
            s.insert_timer(due, crate::sim::state::TimerEntry::WaitTimeout(thread))
        });
        let number = s.thread_number(thread);
        s.block_current(thread, WaitBlock { objects, wait_all, timer, timeout_status });
        s.record(Event::WaitBlock { thread: number, object: first, count });
        Ok(thread)
    });
    match blocked {
        Ok(thread) => {
            crate::sim::fiber::suspend();
            with_sim(|s| s.threads.get(thread).map_or(STATUS_SUCCESS, |t| t.wait_status))
        }
        Err(status) => {
            let thread = with_sim(|s| s.current_thread().map(|t| s.thread_number(t)));
            sim::point(Event::WaitEnd { thread: thread.unwrap_or(u32::MAX), status });
            status
        }
    }
}
