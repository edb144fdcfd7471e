//! Cancel-safe IRP queues: IoCsqInitialize, IoCsqInsertIrp,
//! IoCsqRemoveNextIrp, IoCsqRemoveIrp (Windows XP and later; a modern
//! extension next to the book's hand-written cancel logic).
//!
//! The queue owns the IRPs it holds and the lock that guards them, and it
//! installs its own cancel routine, so the races of the book's queues
//! (spec 04 §4.3: a cancel before the routine is set, a cancel routine and
//! a dequeue both completing one IRP) cannot happen: whoever clears the
//! cancel routine owns the IRP, and only the queue clears it.
//!
//! NT lets the driver supply the list and the lock through callbacks; here
//! the queue is a FIFO behind a kernel spin lock, and the driver chooses
//! which IRP to take with a predicate (IoCsqRemoveNextIrp's PeekContext,
//! typically a file object) or by the context IoCsqInsertIrp returned.
//! The driver keeps one callback: CsqCompleteCanceledIrp.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use super::cancel::{CancelledIrp, exchange_cancel_slot, release_cancel_spin_lock};
use super::device::DeviceObject;
use super::irp::{IoStatusBlock, Irp, complete_request, mark_irp_pending};
use super::irp_shared::IrpShared;
use crate::ke::SpinLock;
use crate::status::STATUS_CANCELLED;

/// CsqCompleteCanceledIrp: called, with no lock held, for an IRP the queue
/// took out because it was cancelled. The driver completes it (and undoes
/// whatever it counted for it).
pub type CsqCompleteCanceledIrp = fn(&DeviceObject, Irp);

/// The usual CsqCompleteCanceledIrp: completes the IRP with
/// STATUS_CANCELLED and Information 0.
pub fn csq_complete_canceled_irp(_device: &DeviceObject, mut irp: Irp) {
    *irp.io_status_mut() = IoStatusBlock { status: STATUS_CANCELLED, information: 0 };
    complete_request(irp, 0);
}

/// IO_CSQ: a cancel-safe queue. Clones share the queue.
#[derive(Clone)]
pub struct IoCsq {
    inner: Arc<CsqInner>,
}

pub(crate) struct CsqInner {
    irps: SpinLock<VecDeque<Irp>>,
    complete_canceled: CsqCompleteCanceledIrp,
}

impl fmt::Debug for IoCsq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoCsq").finish_non_exhaustive()
    }
}

/// IO_CSQ_IRP_CONTEXT: names one inserted IRP for [`csq_remove_irp`].
#[derive(Clone)]
pub struct CsqIrpContext {
    shared: Arc<IrpShared>,
    number: u32,
}

impl fmt::Debug for CsqIrpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CsqIrpContext(IRP {})", self.number)
    }
}

impl CsqIrpContext {
    fn names(&self, irp: &Irp) -> bool {
        Arc::ptr_eq(&self.shared, &irp.inner.shared) && irp.number() == self.number
    }
}

/// IoCsqInitialize: an empty queue whose cancelled IRPs go to
/// `complete_canceled`.
pub fn initialize_csq(complete_canceled: CsqCompleteCanceledIrp) -> IoCsq {
    IoCsq { inner: Arc::new(CsqInner { irps: SpinLock::new(VecDeque::new()), complete_canceled }) }
}

/// IoCsqInsertIrp: marks the IRP pending and queues it, cancellable. The
/// dispatch routine then returns STATUS_PENDING whatever happened: an IRP
/// cancelled before it got here is completed at once through
/// CsqCompleteCanceledIrp instead of queued.
pub fn csq_insert_irp(csq: &IoCsq, mut irp: Irp) -> CsqIrpContext {
    let context = CsqIrpContext { shared: irp.inner.shared.clone(), number: irp.number() };
    mark_irp_pending(&mut irp);
    let mut irps = csq.inner.irps.acquire();
    exchange_cancel_slot(&mut irp, Some(cancel_queued), Some(csq.inner.clone()));
    if irp.cancel() && exchange_cancel_slot(&mut irp, None, None).is_some() {
        // Cancelled before it was queued, and nobody claimed the routine:
        // nobody else will ever see this IRP.
        drop(irps);
        let device = irp.current_stack_location().device_object().cloned();
        if let Some(device) = device {
            (csq.inner.complete_canceled)(&device, irp);
        }
        return context;
    }
    // If IoCancelIrp claimed the routine meanwhile, the routine waits for
    // this lock and will find the IRP queued.
    irps.push_back(irp);
    context
}

/// IoCsqRemoveNextIrp: takes the first queued IRP `peek` accepts and that
/// is not being cancelled; its cancel routine is cleared.
pub fn csq_remove_next_irp(csq: &IoCsq, peek: impl Fn(&Irp) -> bool) -> Option<Irp> {
    let mut irps = csq.inner.irps.acquire();
    let index = irps.iter_mut().position(|irp| {
        // A cleared routine means IoCancelIrp owns the IRP: leave it to the
        // routine, which is waiting for this lock.
        peek(irp) && exchange_cancel_slot(irp, None, None).is_some()
    })?;
    irps.remove(index)
}

/// IoCsqRemoveIrp: takes the IRP `context` names, if it is still queued
/// and not being cancelled.
pub fn csq_remove_irp(csq: &IoCsq, context: &CsqIrpContext) -> Option<Irp> {
    let mut irps = csq.inner.irps.acquire();
    let index = irps.iter().position(|irp| context.names(irp))?;
    let irp = irps.get_mut(index)?;
    exchange_cancel_slot(irp, None, None)?;
    irps.remove(index)
}

impl IoCsq {
    /// How many IRPs are queued (those being cancelled included).
    pub fn len(&self) -> usize {
        self.inner.irps.acquire().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The queue's cancel routine: out of the queue, then to the driver.
fn cancel_queued(device: &DeviceObject, cancelled: &CancelledIrp) {
    release_cancel_spin_lock(cancelled.cancel_irql());
    let Some(queue) = &cancelled.queue else { return };
    let irp = {
        let mut irps = queue.irps.acquire();
        let index = irps.iter().position(|irp| cancelled.is(irp));
        index.and_then(|i| irps.remove(i))
    };
    if let Some(irp) = irp {
        (queue.complete_canceled)(device, irp);
    }
}
