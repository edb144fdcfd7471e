//! KEVENT: KeInitializeEvent, KeSetEvent, KeResetEvent, KeClearEvent,
//! KeReadStateEvent (book l.9295–9301).
//!
//! A notification event stays signaled, releasing every waiter, until it is
//! reset; a synchronization event releases one waiter and resets itself.

use std::sync::Arc;

use super::dispatcher::{DispatcherHeader, Waitable};
use super::irql::{self, DISPATCH_LEVEL, PASSIVE_LEVEL};
use crate::ob::ObjectKind;
use crate::sim::pcr::{self, Mode};
use crate::sim::{self, threaded};
use crate::trace::Event as TraceEvent;
use crate::verifier::{self, Rule};

/// KeInitializeEvent's Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    NotificationEvent,
    SynchronizationEvent,
}

/// A kernel event. Cloning gives another handle to the same event.
#[derive(Clone, Debug)]
pub struct Event {
    header: Arc<DispatcherHeader>,
}

impl Waitable for Event {
    fn dispatcher_header(&self) -> &Arc<DispatcherHeader> {
        &self.header
    }
}

impl Event {
    /// KeInitializeEvent(Type, State).
    pub fn new(kind: EventType, signaled: bool) -> Event {
        Event::build(kind, signaled, None)
    }

    /// An event that traces and reports print by name.
    pub fn named(name: &'static str, kind: EventType, signaled: bool) -> Event {
        Event::build(kind, signaled, Some(name))
    }

    fn build(kind: EventType, signaled: bool, name: Option<&'static str>) -> Event {
        let auto_reset = kind == EventType::SynchronizationEvent;
        let header = DispatcherHeader::new(ObjectKind::Event, name, auto_reset);
        header.set_signaled(signaled);
        Event { header }
    }
}

/// KeSetEvent(Event, Increment, Wait): signals the event, wakes the waiters
/// it satisfies, and returns the previous state. `wait` = TRUE promises a
/// wait right after, which only PASSIVE_LEVEL code may make.
pub fn set_event(event: &Event, _increment: i32, wait: bool) -> bool {
    let irql = pcr::irql();
    if irql > DISPATCH_LEVEL {
        verifier::bug_check(
            Rule::SetEventAboveDispatch,
            [u64::from(irql.0), u64::from(event.header.id().0), 0],
            format!("KeSetEvent at {irql}"),
        );
        return event.header.is_signaled();
    }
    if wait && !irql::check_max_irql("KeSetEvent(Wait = TRUE)", PASSIVE_LEVEL) {
        return event.header.is_signaled();
    }
    let id = event.header.id();
    let was = event.header.signal();
    if pcr::mode() == Mode::Sim {
        sim::point(TraceEvent::EventSet { event: id, was_signaled: was });
    }
    was
}

/// KeResetEvent: clears the event and returns the previous state.
pub fn reset_event(event: &Event) -> bool {
    if !irql::check_max_irql("KeResetEvent", DISPATCH_LEVEL) {
        return event.header.is_signaled();
    }
    let id = event.header.id();
    let was = match pcr::require_machine("KeResetEvent") {
        Mode::Sim => event.header.set_signaled(false),
        _ => threaded::under_dispatcher_lock(false, || event.header.set_signaled(false)),
    };
    if pcr::mode() == Mode::Sim {
        sim::point(TraceEvent::EventReset { event: id, was_signaled: was });
    }
    was
}

/// KeClearEvent: clears the event.
pub fn clear_event(event: &Event) {
    reset_event(event);
}

/// KeReadStateEvent: the current state. A scheduling point, so that a loop
/// polling an event lets the code that sets it run.
pub fn read_state_event(event: &Event) -> bool {
    irql::check_max_irql("KeReadStateEvent", DISPATCH_LEVEL);
    sim::yield_point();
    event.header.is_signaled()
}
