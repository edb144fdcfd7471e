//! Process structure: system threads (PsCreateSystemThread,
//! PsTerminateSystemThread; book l.9180–9190).
//!
//! A system thread runs at PASSIVE_LEVEL. Its thread object is a dispatcher
//! object that becomes signaled when it ends, so another thread can wait for
//! it with KeWaitForSingleObject.

use std::sync::Arc;

use crate::ke::dispatcher::{DispatcherHeader, Waitable};
use crate::ke::irql::{self, PASSIVE_LEVEL};
use crate::ob::ObjectKind;
use crate::sim::pcr::{self, Mode};
use crate::sim::state::with_sim;
use crate::sim::{self, threaded};
use crate::status::{NtStatus, STATUS_INVALID_PARAMETER};
use crate::verifier::{self, Rule};

/// A referenced thread object (what ObReferenceObjectByHandle gives for the
/// handle PsCreateSystemThread returns).
#[derive(Clone, Debug)]
pub struct Thread {
    header: Arc<DispatcherHeader>,
}

impl Waitable for Thread {
    fn dispatcher_header(&self) -> &Arc<DispatcherHeader> {
        &self.header
    }
}

/// Unwinds a thread to its root: PsTerminateSystemThread's exit.
#[derive(Debug)]
pub(crate) struct ThreadExit;

/// PsCreateSystemThread: starts `start` (StartRoutine with its StartContext
/// captured) on a new system thread. PASSIVE_LEVEL only.
pub fn create_system_thread(start: impl FnOnce() + Send + 'static) -> Result<Thread, NtStatus> {
    spawn(None, Box::new(start))
}

/// As [`create_system_thread`], with a name for traces and reports.
pub fn create_system_thread_named(
    name: &'static str,
    start: impl FnOnce() + Send + 'static,
) -> Result<Thread, NtStatus> {
    spawn(Some(name), Box::new(start))
}

/// As [`create_system_thread_named`], for a thread that lives as long as
/// the machine (a driver's logging thread, say): it does not keep a run
/// going. A run ends once only background threads are left, all waiting;
/// they are then stopped where they wait, as a machine switched off.
pub fn create_background_system_thread(
    name: &'static str,
    start: impl FnOnce() + Send + 'static,
) -> Result<Thread, NtStatus> {
    if !irql::check_max_irql("PsCreateSystemThread", PASSIVE_LEVEL) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    Ok(start_thread_as(Some(name), true, Box::new(start)))
}

fn spawn(name: Option<&'static str>, start: Box<dyn FnOnce() + Send>) -> Result<Thread, NtStatus> {
    if !irql::check_max_irql("PsCreateSystemThread", PASSIVE_LEVEL) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    Ok(start_thread(name, start))
}

/// Starts a system thread from any IRQL: the executive's own worker
/// threads, which ExQueueWorkItem may need from DISPATCH_LEVEL.
pub(crate) fn start_thread(name: Option<&'static str>, start: Box<dyn FnOnce() + Send>) -> Thread {
    start_thread_as(name, false, start)
}

fn start_thread_as(
    name: Option<&'static str>,
    background: bool,
    start: Box<dyn FnOnce() + Send>,
) -> Thread {
    let header = DispatcherHeader::new(ObjectKind::Thread, name, false);
    match pcr::require_machine("PsCreateSystemThread") {
        Mode::Sim => {
            with_sim(|s| s.create_thread(name, header.clone(), background, start));
            sim::yield_point();
        }
        _ => threaded::spawn_thread(name, header.clone(), background, start),
    }
    Thread { header }
}

/// PsTerminateSystemThread: ends the calling system thread.
pub fn terminate_system_thread(status: NtStatus) -> ! {
    let _ = status;
    exit_thread();
    std::panic::resume_unwind(Box::new(ThreadExit))
}

/// A thread's body returned (PspExitThread): it must be at PASSIVE_LEVEL,
/// and its I/O in flight is cancelled and waited for (IoCancelThreadIo).
pub(crate) fn exit_thread() {
    check_exit_irql();
    crate::win32::cancel_thread_io();
}

/// A system thread must end at PASSIVE_LEVEL (bug check 0x4A otherwise).
pub(crate) fn check_exit_irql() {
    let irql = pcr::irql();
    if irql != PASSIVE_LEVEL {
        verifier::bug_check(
            Rule::ThreadExitAtRaisedIrql,
            [0, u64::from(irql.0), 0],
            format!("a system thread ended at {irql}"),
        );
    }
}

/// Whether the thread has ended (its object is signaled).
pub fn is_thread_terminated(thread: &Thread) -> bool {
    sim::yield_point();
    thread.header.is_signaled()
}

/// Who the calling thread is, for per-thread bookkeeping (CancelIo cancels
/// the calling thread's requests only).
pub(crate) fn current_thread_key() -> u64 {
    match pcr::mode() {
        Mode::Sim => {
            with_sim(|s| s.current_thread().map_or(u64::MAX, |t| u64::from(s.thread_number(t))))
        }
        _ => u64::from(threaded::token()),
    }
}
