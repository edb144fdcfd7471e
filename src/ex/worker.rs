//! System worker threads (ExQueueWorkItem): work queued at any IRQL up to
//! DISPATCH_LEVEL runs later at PASSIVE_LEVEL in a system thread.
//!
//! Each queue has at most one worker thread, started when work arrives and
//! ending when the queue is empty, so a queue's items run one at a time, in
//! order: the PnP manager's actions are serialized this way (DESIGN.md:
//! "one PnP action at a time from their own worker"), and a finished
//! machine has no idle worker left waiting.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::ke::irql::{self, DISPATCH_LEVEL, PASSIVE_LEVEL};
use crate::ke::{Event, EventType, set_event, wait_for_single_object};
use crate::sim::system::with_system;
use crate::sync::Mutex;

/// A unit of work.
pub(crate) type WorkItem = Box<dyn FnOnce() + Send>;

/// The system's work queues, one worker each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkQueue {
    /// PnP actions: add, start, stop, remove, enumerate.
    Pnp = 0,
    /// System power transitions.
    Power = 1,
    /// Idle time-outs' power requests.
    Idle = 2,
}

const QUEUES: usize = 3;

/// The queues' state, kept in the machine's executive state.
#[derive(Default)]
pub(crate) struct WorkQueues {
    queues: [Mutex<Queue>; QUEUES],
}

impl std::fmt::Debug for WorkQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueues").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<WorkItem>,
    /// A worker thread is draining the queue.
    active: bool,
}

/// ExQueueWorkItem: runs `item` at PASSIVE_LEVEL on `queue`'s worker, after
/// the items queued before it.
pub(crate) fn queue_work_item(queue: WorkQueue, item: WorkItem) {
    irql::check_max_irql("ExQueueWorkItem", DISPATCH_LEVEL);
    let start = with_system(|s| {
        let mut q = s.work_queues.queues[queue as usize].lock();
        q.items.push_back(item);
        !std::mem::replace(&mut q.active, true)
    });
    if start {
        let name = match queue {
            WorkQueue::Pnp => "PnP worker",
            WorkQueue::Power => "power worker",
            WorkQueue::Idle => "idle worker",
        };
        crate::ps::start_thread(Some(name), Box::new(move || drain(queue)));
    }
}

/// Runs `action` on `queue`'s worker and waits (at PASSIVE_LEVEL) for its
/// outcome: how the PnP and power managers carry out a caller's request in
/// their own thread, in order with their other work.
pub(crate) fn run_and_wait<R: Send + 'static>(
    queue: WorkQueue,
    action: impl FnOnce() -> R + Send + 'static,
) -> R {
    irql::check_max_irql("a PnP or power manager request", PASSIVE_LEVEL);
    let done = Event::new(EventType::NotificationEvent, false);
    let slot: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
    let (signal, out) = (done.clone(), slot.clone());
    queue_work_item(
        queue,
        Box::new(move || {
            let outcome = action();
            *out.lock() = Some(outcome);
            set_event(&signal, 0, false);
        }),
    );
    wait_for_single_object(&done, None);
    let outcome = slot.lock().take();
    outcome.expect("the worker fills the slot before setting the event")
}

/// The worker: runs items until the queue is empty, then ends.
fn drain(queue: WorkQueue) {
    loop {
        let item = with_system(|s| {
            let mut q = s.work_queues.queues[queue as usize].lock();
            let item = q.items.pop_front();
            if item.is_none() {
                q.active = false;
            }
            item
        });
        match item {
            Some(item) => item(),
            None => return,
        }
    }
}
