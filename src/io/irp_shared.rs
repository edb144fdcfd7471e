//! What outlives an IRP's moves from owner to owner: its cancel state
//! (IoCancelIrp reaches an IRP some driver holds) and what Driver Verifier's
//! I/O checks remember about each stack location.
//!
//! The pending checks compare two halves that may be known in either order
//! and on different processors: what a location's dispatch routine returned,
//! and the pending bit and status the completion walk found there. Each half
//! is published with one `fetch_or`, so exactly one side sees both and runs
//! the check; no lock is taken. A dispatch call that returns after the walk
//! passed its location sees that with a load and checks without publishing.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};

use super::cancel::CancelSlot;
use super::device::DeviceObject;
use crate::status::{NtStatus, STATUS_PENDING};
use crate::sync::Mutex;
use crate::verifier::{self, Rule};

/// Each device whose driver got a power IRP, and whether that driver
/// called PoStartNextPowerIrp for it.
type PowerVisits = Vec<(DeviceObject, bool)>;

pub(crate) struct IrpShared {
    number: AtomicU32,
    /// Irp->Cancel.
    pub cancel: AtomicBool,
    /// The cancel routine and the device of the driver that set it.
    pub cancel_routine: Mutex<Option<CancelSlot>>,
    /// Whether `cancel_routine` is set, readable without its lock.
    pub cancel_routine_set: AtomicBool,
    /// The IRQL IoCancelIrp raised from, for IoReleaseCancelSpinLock.
    pub cancel_irql: AtomicU8,
    /// IoCancelIrp called the IRP's cancel routine.
    pub cancel_routine_called: AtomicBool,
    /// Completion reached the top: the IRP is done.
    finished: AtomicBool,
    /// A cancel routine completed the IRP without owning it (the book's
    /// DebugPrint does, book l.9756): the owner's completion is a second one.
    completed_unowned: AtomicBool,
    /// One record per stack location; empty without I/O verification.
    checks: Box<[LocationCheck]>,
    /// For a verified SET_POWER or QUERY_POWER: each device whose driver
    /// got it, and whether that driver called PoStartNextPowerIrp.
    /// Boxed: power IRPs are rare, and an IRP in flight stays small.
    power: Mutex<Option<Box<PowerVisits>>>,
    /// `power` has entries (so clearing it needs its lock).
    power_used: AtomicBool,
    /// A PnP IRP's status was once something else than STATUS_NOT_SUPPORTED.
    pnp_status_set: AtomicBool,
}

impl fmt::Debug for IrpShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrpShared").field("number", &self.number()).finish_non_exhaustive()
    }
}

/// The two halves of the pending checks for one location. The walk needs
/// only whether the dispatch routine returned STATUS_PENDING (a bit); the
/// dispatch side needs the status the walk found.
#[derive(Debug, Default)]
struct LocationCheck {
    walked: AtomicU32,
    /// RETURNED, RETURNED_PENDING, WALKED, WALKED_PENDING and PASSED_DOWN.
    state: AtomicU8,
}

const RETURNED: u8 = 1;
/// The dispatch routine returned STATUS_PENDING.
const RETURNED_PENDING: u8 = 16;
const WALKED: u8 = 2;
const WALKED_PENDING: u8 = 4;
/// The location's driver passed the IRP to the driver below.
const PASSED_DOWN: u8 = 8;

impl IrpShared {
    /// The shared record of IRP `number` with `locations` stack locations,
    /// checked if `verify`.
    pub(crate) fn new(number: u32, locations: u8, verify: bool) -> IrpShared {
        let checks = if verify { locations as usize } else { 0 };
        IrpShared {
            number: AtomicU32::new(number),
            cancel: AtomicBool::new(false),
            cancel_routine: Mutex::new(None),
            cancel_routine_set: AtomicBool::new(false),
            cancel_irql: AtomicU8::new(0),
            cancel_routine_called: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            completed_unowned: AtomicBool::new(false),
            checks: (0..checks).map(|_| LocationCheck::default()).collect(),
            power: Mutex::new(None),
            power_used: AtomicBool::new(false),
            pnp_status_set: AtomicBool::new(false),
        }
    }

    /// The IRP's number in traces.
    pub(crate) fn number(&self) -> u32 {
        self.number.load(Ordering::Relaxed)
    }

    /// How many locations this record has checks for.
    pub(crate) fn locations(&self) -> u8 {
        u8::try_from(self.checks.len()).unwrap_or(u8::MAX)
    }

    /// Whether [`IrpShared::clear`] can make this the record of an IRP with
    /// `locations` locations (it has checks for each, or none if unverified).
    pub(crate) fn fits(&self, locations: u8, verify: bool) -> bool {
        if verify { self.checks.len() >= locations as usize } else { self.checks.is_empty() }
    }

    /// Makes the record as new for IRP `number`, in place: for a record
    /// nobody else holds (lookaside reuse), or for IoReuseIrp, after which a
    /// cancel handle still reaches the IRP as the same pointer would in NT.
    pub(crate) fn clear(&self, number: u32) {
        self.number.store(number, Ordering::Relaxed);
        self.cancel.store(false, Ordering::Relaxed);
        if self.cancel_routine_set.load(Ordering::Acquire) {
            *self.cancel_routine.lock() = None;
            self.cancel_routine_set.store(false, Ordering::Release);
        }
        self.cancel_irql.store(0, Ordering::Relaxed);
        self.cancel_routine_called.store(false, Ordering::Relaxed);
        self.finished.store(false, Ordering::Relaxed);
        self.completed_unowned.store(false, Ordering::Relaxed);
        self.pnp_status_set.store(false, Ordering::Relaxed);
        // The location checks need no reset: IoCallDriver resets each one
        // before its dispatch routine runs, and nothing reads one before.
        // The power record was let go of when the IRP was done with.
    }

    /// Completion of the IRP reached the top (called when a cancel routine
    /// ran for it). Bug check 0x44 if that routine already completed it
    /// without owning it.
    pub(crate) fn finished(&self) {
        self.finished.store(true, Ordering::SeqCst);
        if self.completed_unowned.load(Ordering::SeqCst) {
            self.second_completion();
        }
    }

    /// Whether a cancel routine completed the IRP without owning it: the
    /// owner's IoCompleteRequest is then the second completion.
    pub(crate) fn check_completed_unowned(&self) {
        if self.completed_unowned.load(Ordering::Acquire) {
            self.second_completion();
        }
    }

    /// A cancel routine completes the IRP without owning it: bug check 0x44
    /// at once if it was already completed, else when its owner completes
    /// it.
    pub(crate) fn complete_unowned(&self) {
        self.completed_unowned.store(true, Ordering::SeqCst);
        if self.finished.load(Ordering::SeqCst) {
            self.second_completion();
        }
    }

    #[cold]
    fn second_completion(&self) {
        let number = self.number();
        verifier::bug_check(
            Rule::MultipleIrpComplete,
            [u64::from(number), 0, 0],
            format!("IRP {number} completed twice: by its owner and by a cancel routine"),
        );
    }

    /// Lets go of the devices the power record names.
    pub(crate) fn forget_power(&self) {
        if self.power_used.load(Ordering::Acquire) {
            self.power_used.store(false, Ordering::Release);
            if let Some(power) = self.power.lock().as_mut() {
                power.clear();
            }
        }
    }

    /// The driver at `location` passes the IRP down.
    pub(crate) fn passed_down(&self, location: u8) {
        if let Some(check) = self.check(location) {
            check.state.fetch_or(PASSED_DOWN, Ordering::AcqRel);
        }
    }

    /// Whether the driver at `location` has passed the IRP down since it got it.
    pub(crate) fn was_passed_down(&self, location: u8) -> bool {
        self.check(location).is_some_and(|c| c.state.load(Ordering::Acquire) & PASSED_DOWN != 0)
    }

    pub(crate) fn pnp_status_was_set(&self) -> bool {
        self.pnp_status_set.load(Ordering::Acquire)
    }

    pub(crate) fn set_pnp_status_set(&self) {
        self.pnp_status_set.store(true, Ordering::Release);
    }

    /// A driver's dispatch routine got this power IRP on `device`.
    pub(crate) fn power_visited(&self, device: &DeviceObject) {
        self.power_used.store(true, Ordering::Release);
        let mut power = self.power.lock();
        let power = power.get_or_insert_with(Box::default);
        if !power.iter().any(|(d, _)| d == device) {
            power.push((device.clone(), false));
        }
    }

    /// The driver of `device` called PoStartNextPowerIrp for this IRP.
    /// A second call for the same IRP is a driver bug (P-16: the book's
    /// Wdm2 calls it before passing a power-up IRP down and again in its
    /// completion routine). Driver Verifier has no id for it: 0xC9/0x200.
    pub(crate) fn power_started(&self, device: &DeviceObject) {
        let twice = {
            let mut power = self.power.lock();
            match power.iter_mut().flat_map(|p| p.iter_mut()).find(|(d, _)| d == device) {
                Some(entry) => std::mem::replace(&mut entry.1, true),
                None => false,
            }
        };
        if twice {
            let number = self.number();
            verifier::io_violation(
                Rule::PowerIrpStartedTwice,
                [u64::from(number), u64::from(device.id().0), 0],
                || format!("{} called PoStartNextPowerIrp twice for IRP {number}", device.label()),
            );
        }
    }

    /// At the end of a power IRP: every driver that handled it must have
    /// called PoStartNextPowerIrp (book l.6431). 0x9F/0x500 otherwise.
    pub(crate) fn check_power_started(&self) {
        if !self.power_used.load(Ordering::Acquire) {
            return;
        }
        let missed = self
            .power
            .lock()
            .iter()
            .flat_map(|p| p.iter())
            .find(|(_, started)| !started)
            .map(|(d, _)| d.clone());
        if let Some(device) = missed {
            let number = self.number();
            verifier::io_violation(
                Rule::PowerIrpNotStarted,
                [0, u64::from(device.id().0), u64::from(number)],
                || {
                    format!(
                        "{} handled power IRP {number} without calling PoStartNextPowerIrp",
                        device.label()
                    )
                },
            );
        }
    }

    /// Whether Driver Verifier's I/O checks watch this IRP.
    pub(crate) fn verified(&self) -> bool {
        !self.checks.is_empty()
    }

    fn check(&self, location: u8) -> Option<&LocationCheck> {
        self.checks.get((location as usize).checked_sub(1)?)
    }

    /// A dispatch routine starts at `location`: forget any earlier round.
    pub(crate) fn dispatching(&self, location: u8) {
        if let Some(check) = self.check(location) {
            check.state.store(0, Ordering::Release);
        }
    }

    /// The dispatch routine of `device` at `location` returned `status`.
    /// What a violation needs (ids, text) is computed only on the cold
    /// paths. When the walk has already passed (the IRP was completed
    /// during the call, the usual case), this side has both halves and
    /// publishes nothing: a load, no `fetch_or` (an atomic costs about as
    /// much as fifty instructions here). Only the walk reads RETURNED,
    /// and it has been.
    pub(crate) fn returned(&self, device: &DeviceObject, location: u8, status: NtStatus) {
        let Some(check) = self.check(location) else { return };
        let mut seen = check.state.load(Ordering::Acquire);
        if seen & WALKED == 0 {
            let bits =
                if status == STATUS_PENDING { RETURNED | RETURNED_PENDING } else { RETURNED };
            seen = check.state.fetch_or(bits, Ordering::AcqRel);
        }
        if seen & WALKED == 0 {
            if status != STATUS_PENDING {
                self.not_handled(device, status);
            }
            return;
        }
        let pending = seen & WALKED_PENDING != 0;
        if status == STATUS_PENDING {
            if !pending {
                pending_not_marked(self.number(), device);
            }
        } else if pending {
            self.marked_pending_not_returned(device, status);
        } else {
            let final_status = NtStatus(check.walked.load(Ordering::Relaxed));
            if status != final_status {
                self.returned_status_mismatch(device, status, final_status);
            }
        }
    }

    #[cold]
    fn not_handled(&self, device: &DeviceObject, status: NtStatus) {
        let number = self.number();
        let args = [u64::from(number), u64::from(device.id().0), u64::from(status.0)];
        verifier::io_violation(Rule::IrpNotHandled, args, || {
            format!(
                "{} returned {status} without completing IRP {number} or returning STATUS_PENDING",
                device.label()
            )
        });
    }

    #[cold]
    fn marked_pending_not_returned(&self, device: &DeviceObject, status: NtStatus) {
        let number = self.number();
        let args = [u64::from(number), u64::from(device.id().0), u64::from(status.0)];
        verifier::io_violation(Rule::MarkedPendingNotReturned, args, || {
            format!("{} marked IRP {number} pending but returned {status}", device.label())
        });
    }

    #[cold]
    fn returned_status_mismatch(
        &self,
        device: &DeviceObject,
        status: NtStatus,
        completed: NtStatus,
    ) {
        let number = self.number();
        let args = [u64::from(number), u64::from(completed.0), u64::from(status.0)];
        verifier::io_violation(Rule::ReturnedStatusMismatch, args, || {
            format!(
                "{} returned {status} for IRP {number}, completed with {completed}",
                device.label()
            )
        });
    }

    /// The completion walk left `location` (of `device`) with its pending
    /// bit final and IoStatus.Status `status`.
    pub(crate) fn walked(
        &self,
        device: Option<&DeviceObject>,
        location: u8,
        pending: bool,
        status: NtStatus,
    ) {
        let Some(check) = self.check(location) else { return };
        check.walked.store(status.0, Ordering::Relaxed);
        let bits = if pending { WALKED | WALKED_PENDING } else { WALKED };
        let seen = check.state.fetch_or(bits, Ordering::AcqRel);
        if seen & RETURNED_PENDING != 0
            && !pending
            && let Some(device) = device
        {
            pending_not_marked(self.number(), device);
        }
    }
}

thread_local! {
    /// In threaded mode, the record of the IRP whose outermost dispatch
    /// call on this OS thread is running: the calls it nests for the same
    /// IRP check their return through this reference instead of taking
    /// one each (two atomic operations a layer). Calls nest strictly on an
    /// OS thread there; a simulation's fibers interleave on one, so it
    /// does not lend.
    static LENT: RefCell<Option<Arc<IrpShared>>> = const { RefCell::new(None) };
}

/// A dispatch call's hold on its IRP's record, kept until it has checked
/// what the dispatch routine returned (the IRP itself may be gone by then).
pub(crate) enum RecordHold {
    /// Its own reference (a simulation, or an IRP of one location).
    Own(Arc<IrpShared>),
    /// Its own reference, lent through [`LENT`] to the calls it nests; what
    /// was lent before (another IRP's outer call) comes back at the end.
    Lending(Option<Arc<IrpShared>>),
    /// An enclosing call on this OS thread lends the record.
    Borrowed,
}

impl RecordHold {
    /// The hold of a dispatch call for the IRP whose record is `shared`;
    /// `lend` in threaded mode, for an IRP with locations to nest.
    pub(crate) fn take(shared: &Arc<IrpShared>, lend: bool) -> RecordHold {
        if !lend {
            return RecordHold::Own(shared.clone());
        }
        LENT.try_with(|lent| {
            let mut lent = lent.borrow_mut();
            if lent.as_ref().is_some_and(|l| Arc::ptr_eq(l, shared)) {
                RecordHold::Borrowed
            } else {
                RecordHold::Lending(lent.replace(shared.clone()))
            }
        })
        .unwrap_or_else(|_| RecordHold::Own(shared.clone()))
    }

    /// [`IrpShared::returned`] on the held record.
    pub(crate) fn returned(&self, device: &DeviceObject, location: u8, status: NtStatus) {
        match self {
            RecordHold::Own(shared) => shared.returned(device, location, status),
            RecordHold::Lending(_) | RecordHold::Borrowed => {
                let _ = LENT.try_with(|lent| {
                    if let Some(shared) = lent.borrow().as_ref() {
                        shared.returned(device, location, status);
                    }
                });
            }
        }
    }
}

impl Drop for RecordHold {
    fn drop(&mut self) {
        if let RecordHold::Lending(previous) = self {
            let previous = previous.take();
            // Dropped after the borrow ends: the last reference may go.
            let mine = LENT.try_with(|lent| lent.replace(previous));
            drop(mine);
        }
    }
}

#[cold]
fn pending_not_marked(number: u32, device: &DeviceObject) {
    verifier::io_violation(
        Rule::PendingNotMarked,
        [u64::from(number), u64::from(device.id().0), 0],
        || {
            format!(
                "{} returned STATUS_PENDING for IRP {number} without IoMarkIrpPending",
                device.label()
            )
        },
    );
}
