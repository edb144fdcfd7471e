//! Cancelling IRPs: IoSetCancelRoutine, IoAcquireCancelSpinLock,
//! IoReleaseCancelSpinLock, IoCancelIrp (book l.9640–9735, l.10900–10958).
//!
//! IoCancelIrp must reach an IRP some driver holds in a queue, and in Rust
//! that driver owns it. So the canceller holds an [`IrpCancelHandle`] (taken
//! from the IRP before it was sent), and the cancel routine is given a
//! [`CancelledIrp`] naming the IRP; the routine takes the IRP out of its own
//! queue by that name and completes it. The routine runs at DISPATCH_LEVEL
//! holding the cancel spin lock, which it releases with
//! `io_release_cancel_spin_lock(cancelled.cancel_irql())`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::csq::CsqInner;
use super::device::DeviceObject;
use super::irp::Irp;
use super::irp_shared::IrpShared;
use crate::ke::irql::{self, DISPATCH_LEVEL, Irql};
use crate::ke::spin_lock::{acquire_spin_lock, held_here, release_spin_lock};
use crate::sim::system::with_system;
use crate::verifier::{self, Rule};

/// A cancel routine: `(DeviceObject, the IRP to cancel)`.
pub type CancelRoutine = fn(&DeviceObject, &CancelledIrp);

/// What Irp->CancelRoutine holds: the routine, the device of the driver
/// that set it, and for an IRP in a cancel-safe queue, that queue.
pub(crate) struct CancelSlot {
    pub routine: CancelRoutine,
    pub device: DeviceObject,
    pub queue: Option<Arc<CsqInner>>,
}

/// What a cancel routine is told: which IRP, and the IRQL to release the
/// cancel spin lock to.
pub struct CancelledIrp {
    shared: Arc<IrpShared>,
    /// The cancel-safe queue the IRP is in, if any.
    pub(crate) queue: Option<Arc<CsqInner>>,
}

impl fmt::Debug for CancelledIrp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CancelledIrp({})", self.shared.number())
    }
}

impl CancelledIrp {
    /// Irp->CancelIrql.
    pub fn cancel_irql(&self) -> Irql {
        Irql(self.shared.cancel_irql.load(Ordering::Acquire))
    }

    /// Whether `irp` is the IRP being cancelled.
    pub fn is(&self, irp: &Irp) -> bool {
        Arc::ptr_eq(&self.shared, &irp.inner.shared)
    }

    /// The IRP's number in traces.
    pub fn number(&self) -> u32 {
        self.shared.number()
    }

    /// The book's mistake, kept for its ported variants: IoCompleteRequest
    /// on the cancelled IRP without having taken it out of any queue (book
    /// DebugPrint's DbpCancelIrp, l.9756). In C that works only if nobody
    /// else completes the IRP; here its owner still holds it, so its owner's
    /// completion, or this call if the owner completed it already, is the
    /// second completion: bug check 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS.
    pub fn complete_without_owning(&self) {
        self.shared.complete_unowned();
    }
}

/// Lets whoever sent an IRP cancel it later, wherever it is.
#[derive(Clone)]
pub struct IrpCancelHandle {
    shared: Arc<IrpShared>,
}

impl fmt::Debug for IrpCancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IrpCancelHandle({})", self.shared.number())
    }
}

impl IrpCancelHandle {
    /// The IRP's number in traces.
    pub fn number(&self) -> u32 {
        self.shared.number()
    }
}

impl Irp {
    /// A handle for IoCancelIrp, kept by the IRP's sender.
    pub fn cancel_handle(&self) -> IrpCancelHandle {
        IrpCancelHandle { shared: self.inner.shared.clone() }
    }
}

fn cancel_lock() -> Arc<crate::ke::KSpinLock> {
    with_system(|s| s.cancel_lock.clone())
}

/// IoAcquireCancelSpinLock: the I/O manager's global cancel lock; returns
/// the IRQL to give back to [`release_cancel_spin_lock`].
pub fn acquire_cancel_spin_lock() -> Irql {
    acquire_spin_lock(&cancel_lock())
}

/// IoReleaseCancelSpinLock.
pub fn release_cancel_spin_lock(irql: Irql) {
    release_spin_lock(&cancel_lock(), irql);
}

/// IoSetCancelRoutine: sets (or with `None` clears) the IRP's cancel
/// routine, atomically, and returns the previous one. The routine will be
/// called with the device of the current stack location.
pub fn set_cancel_routine(irp: &mut Irp, routine: Option<CancelRoutine>) -> Option<CancelRoutine> {
    exchange_cancel_slot(irp, routine, None)
}

/// IoSetCancelRoutine with the cancel-safe queue the IRP goes into.
pub(crate) fn exchange_cancel_slot(
    irp: &mut Irp,
    routine: Option<CancelRoutine>,
    queue: Option<Arc<CsqInner>>,
) -> Option<CancelRoutine> {
    let device = irp.current_stack_location().device_object().cloned();
    let shared = &irp.inner.shared;
    let mut slot = shared.cancel_routine.lock();
    let previous = slot.take().map(|s| s.routine);
    *slot = routine.zip(device).map(|(routine, device)| CancelSlot { routine, device, queue });
    shared.cancel_routine_set.store(slot.is_some(), Ordering::Release);
    previous
}

/// IoCancelIrp: marks the IRP cancelled and, if it has a cancel routine,
/// calls it at DISPATCH_LEVEL holding the cancel spin lock. TRUE if a
/// routine was called.
pub fn cancel_irp(irp: &IrpCancelHandle) -> bool {
    irql::check_max_irql("IoCancelIrp", DISPATCH_LEVEL);
    let shared = &irp.shared;
    let irql = acquire_cancel_spin_lock();
    shared.cancel.store(true, Ordering::Release);
    let routine = {
        let mut slot = shared.cancel_routine.lock();
        shared.cancel_routine_set.store(false, Ordering::Release);
        let routine = slot.take();
        // Under the slot's lock, so a completer that clears the slot after
        // this sees the flag (IrpShared::finished relies on it).
        if routine.is_some() {
            shared.cancel_routine_called.store(true, Ordering::Release);
        }
        routine
    };
    match routine {
        Some(CancelSlot { routine, device, queue }) => {
            shared.cancel_irql.store(irql.0, Ordering::Release);
            routine(&device, &CancelledIrp { shared: shared.clone(), queue });
            if held_here(&cancel_lock()) {
                verifier::bug_check(
                    Rule::ReturnedHoldingCancelLock,
                    [u64::from(shared.number()), 0, 0],
                    format!(
                        "the cancel routine of IRP {} returned holding the cancel spin lock",
                        shared.number()
                    ),
                );
            }
            true
        }
        None => {
            release_cancel_spin_lock(irql);
            false
        }
    }
}
