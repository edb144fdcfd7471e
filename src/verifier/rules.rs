//! The rule catalogue: each rule with its stop code and parameter layout,
//! from Microsoft's bug check reference. "Address" parameters, which the
//! simulator has none of, carry the object's trace number instead.

use std::fmt;

/// DRIVER_VERIFIER_DETECTED_VIOLATION.
const DRIVER_VERIFIER_DETECTED_VIOLATION: u32 = 0xC4;
/// DRIVER_VIOLATION.
const DRIVER_VIOLATION: u32 = 0x121;
/// DRIVER_IRQL_NOT_LESS_OR_EQUAL.
const DRIVER_IRQL_NOT_LESS_OR_EQUAL: u32 = 0xD1;
/// IRQL_UNEXPECTED_VALUE.
const IRQL_UNEXPECTED_VALUE: u32 = 0xC8;
/// IRQL_GT_ZERO_AT_SYSTEM_SERVICE.
const IRQL_GT_ZERO_AT_SYSTEM_SERVICE: u32 = 0x4A;
/// MAXIMUM_WAIT_OBJECTS_EXCEEDED.
const MAXIMUM_WAIT_OBJECTS_EXCEEDED: u32 = 0xC;
/// DRIVER_VERIFIER_IOMANAGER_VIOLATION.
const DRIVER_VERIFIER_IOMANAGER_VIOLATION: u32 = 0xC9;
/// NO_MORE_IRP_STACK_LOCATIONS.
const NO_MORE_IRP_STACK_LOCATIONS: u32 = 0x35;
/// KMODE_EXCEPTION_NOT_HANDLED.
const KMODE_EXCEPTION_NOT_HANDLED: u32 = 0x1E;
/// DRIVER_POWER_STATE_FAILURE (the power manager's own check).
const DRIVER_POWER_STATE_FAILURE: u32 = 0x9F;
/// INTERNAL_POWER_ERROR.
const INTERNAL_POWER_ERROR: u32 = 0xA0;
/// MULTIPLE_IRP_COMPLETE_REQUESTS.
const MULTIPLE_IRP_COMPLETE_REQUESTS: u32 = 0x44;
/// DRIVER_RETURNED_HOLDING_CANCEL_LOCK.
const DRIVER_RETURNED_HOLDING_CANCEL_LOCK: u32 = 0x11B;

/// A kernel rule the verifier checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// KeRaiseIrql to a level below the current one (or above HIGH_LEVEL).
    /// 0xC4/0x30: current IRQL, requested IRQL.
    RaiseIrqlInvalid,
    /// KeLowerIrql to a level above the current one. 0xC4/0x31.
    LowerIrqlInvalid,
    /// KeLowerIrql below DISPATCH_LEVEL inside a DPC routine. 0xC4/0x31, P4 = 1.
    LowerIrqlInDpc,
    /// KeReleaseSpinLock at an IRQL other than DISPATCH_LEVEL. 0xC4/0x32:
    /// current IRQL, lock.
    ReleaseSpinLockNotAtDispatch,
    /// KeAcquireSpinLockAtDpcLevel below DISPATCH_LEVEL. 0xC4/0x40.
    AcquireAtDpcLevelBelowDispatch,
    /// KeReleaseSpinLockFromDpcLevel below DISPATCH_LEVEL. 0xC4/0x41.
    ReleaseFromDpcLevelBelowDispatch,
    /// KeAcquireSpinLock above DISPATCH_LEVEL. 0xC4/0x42: current IRQL, lock.
    AcquireSpinLockAboveDispatch,
    /// KeSetEvent above DISPATCH_LEVEL. 0xC4/0x80: current IRQL, event.
    SetEventAboveDispatch,
    /// An ISR returned at another IRQL than it was called at. 0xC4/0x111:
    /// interrupt, IRQL before, IRQL after.
    IsrReturnedChangedIrql,
    /// A wait above DISPATCH_LEVEL. 0xC4/0x120: IRQL, object, timeout.
    WaitAboveDispatch,
    /// A wait at DISPATCH_LEVEL with no time-out. 0xC4/0x121.
    WaitAtDispatchInfinite,
    /// A wait at DISPATCH_LEVEL with a non-zero time-out. 0xC4/0x122.
    WaitAtDispatchNonZero,
    /// Acquiring a spin lock the processor already holds (a certain hang).
    /// 0xC4/0x1000 (self-deadlock): lock.
    SpinLockRecursive,
    /// Releasing a spin lock another processor holds. 0xC4/0x1004: lock,
    /// owner, releaser.
    SpinLockWrongOwner,
    /// Releasing a spin lock nobody holds. 0xC4/0x1007: lock.
    SpinLockNotHeld,
    /// A call made above its IRQL limit. 0x121/0x2: current IRQL, limit.
    CallAboveMaxIrql,
    /// Pageable code (PAGED_CODE) at DISPATCH_LEVEL or above. 0xD1: source
    /// line, IRQL, 8 (execute).
    PagedCodeAtRaisedIrql,
    /// A DPC routine returned at another IRQL than DISPATCH_LEVEL. 0xC8 with
    /// P1 = (current << 16) | (expected << 8) | 2; unique value 2 is the
    /// simulator's choice for "after a DPC routine".
    DpcReturnedChangedIrql,
    /// A system thread ended above PASSIVE_LEVEL. 0x4A: 0, IRQL.
    ThreadExitAtRaisedIrql,
    /// KeWaitForMultipleObjects on more than MAXIMUM_WAIT_OBJECTS (64).
    /// 0xC (the reference gives no parameters; P1 is the count here).
    MaximumWaitObjectsExceeded,
    /// A device or driver extension read as the wrong type: the Rust form
    /// of a bad pointer cast. 0x1E: 0xC0000005 (access violation), object.
    BadExtensionType,
    /// IoCallDriver (or IoGetNextIrpStackLocation) with no stack location
    /// left. 0x35: IRP.
    NoMoreIrpStackLocations,
    /// IoCallDriver to a deleted device. 0xC9/0x04: device, IRP.
    CallDriverDeletedDevice,
    /// A dispatch routine returned at another IRQL. 0xC9/0x05: device, IRQL
    /// before, IRQL after.
    DispatchChangedIrql,
    /// IoCompleteRequest with STATUS_PENDING. 0xC9/0x06: status, IRP.
    CompleteWithPending,
    /// IoCompleteRequest above DISPATCH_LEVEL. 0xC9/0x0E: IRQL, IRP.
    CompleteAboveDispatch,
    /// IoCompleteRequest while the IRP's cancel routine is still set.
    /// 0xC9/0x07: cancel routine, IRP.
    CompleteWithCancelRoutine,
    /// IoCallDriver above DISPATCH_LEVEL. 0xC9/0x10: IRQL, IRP.
    CallDriverAboveDispatch,
    /// An IRP completed twice: a second IoCompleteRequest on an IRP that
    /// was already completed (and may have been freed or reused, book
    /// l.10992). 0x44: IRP.
    MultipleIrpComplete,
    /// A cancel routine returned still holding the cancel spin lock.
    /// 0x11B: IRP, cancel routine.
    ReturnedHoldingCancelLock,
    /// A device deleted while still attached to a lower one. 0xC9/0x201.
    DeleteAttachedDevice,
    /// IoDetachDevice on a device with nothing attached. 0xC9/0x202.
    DetachNotAttached,
    /// IoFreeIrp on an IRP a requester still waits for. 0xC9/0x20B: IRP.
    FreeIrpInUse,
    /// A dispatch routine's return differs from the completed IRP's
    /// IoStatus.Status. 0xC9/0x224: IRP, IoStatus.Status, returned status.
    ReturnedStatusMismatch,
    /// A dispatch routine returned a status other than STATUS_PENDING
    /// without completing the IRP. 0xC9/0x226: IRP, device, status.
    IrpNotHandled,
    /// An IRP dropped by its owner without completing, passing down or
    /// freeing it. 0xC9/0x226: IRP.
    IrpDropped,
    /// A completion routine let completion go on without marking the IRP
    /// pending after PendingReturned. 0xC9/0x228: IRP.
    CompletionMissedPending,
    /// A completion routine returned at another IRQL. 0xC4/0xFA: IRP, IRQL
    /// before, IRQL after.
    CompletionChangedIrql,
    /// STATUS_PENDING returned without IoMarkIrpPending. 0xC9/0x23D: IRP,
    /// device.
    PendingNotMarked,
    /// IoMarkIrpPending without returning STATUS_PENDING. 0xC9/0x23E: IRP,
    /// device, returned status.
    MarkedPendingNotReturned,
    /// IoDeleteDevice on a deleted device. 0xC9/0x240: device.
    DeleteDeviceTwice,
    /// AddDevice returned with DO_DEVICE_INITIALIZING still set. 0xC9/0x243:
    /// device.
    DeviceInitializingNotCleared,
    /// ExAllocatePool of zero bytes. 0xC4/0x00: IRQL, pool type.
    ZeroByteAllocation,
    /// ExAllocatePool of paged pool above APC_LEVEL. 0xC4/0x01: IRQL, pool
    /// type, size.
    PagedAllocationAtDispatch,
    /// ExAllocatePool above DISPATCH_LEVEL. 0xC4/0x02: IRQL, pool type, size.
    AllocationAboveDispatch,
    /// ExInitialize(N)PagedLookasideList with entries smaller than
    /// LOOKASIDE_MINIMUM_BLOCK_SIZE. 0xC4/0xCD: list, size, minimum.
    LookasideBlockTooSmall,
    /// ExFreeTo(N)PagedLookasideList with a block of another size than the
    /// list's. NT cannot see it (an S-list entry carries no size) and the
    /// pool is corrupted later; Driver Verifier's nearest stop is 0xC4/0x16,
    /// "invalid parameters to a memory routine" (bug check 0xC4 reference).
    /// The reference's P2 is reserved and P3 the pool address; here: list,
    /// block length, list size.
    LookasideFreeWrongSize,
    /// IoReleaseRemoveLock with a tag that holds no acquisition. 0xC4/0xD5:
    /// lock, tag.
    RemoveLockTagNotAcquired,
    /// IoReleaseRemoveLockAndWait with a tag that holds no acquisition.
    /// 0xC4/0xD6: lock, tag.
    RemoveLockAndWaitTagNotAcquired,
    /// IoInitializeRemoveLock on a lock IoReleaseRemoveLockAndWait closed.
    /// 0xC4/0xD7.
    RemoveLockReinitialized,
    /// A driver failed IRP_MN_REMOVE_DEVICE, SURPRISE_REMOVAL, CANCEL_REMOVE
    /// or CANCEL_STOP (DDI rule PnpRemove). 0xC4/0x00043006: minor, IRP,
    /// status (the reference's P2 is a rule description).
    PnpRemoveFailed,
    /// A function or filter driver completed a PnP IRP it left untouched
    /// instead of passing it down. 0xC9/0x22F: device, IRP.
    PnpCompletedUntouched,
    /// A PnP IRP passed down carrying a failure status (a failed IRP must be
    /// completed, book l.5444). 0xC9/0x215: device, IRP, status.
    PnpFailurePassedDown,
    /// A PnP IRP's status, once set by some driver, turned back into
    /// STATUS_NOT_SUPPORTED (passed down or completed so). 0xC9/0x216:
    /// device, IRP, status.
    PnpStatusResetToNotSupported,
    /// AddDevice attached a device without DO_POWER_PAGABLE above one that
    /// has it. 0xC9/0x23F: device, lower device.
    PowerPagableNotInherited,
    /// A driver handled a SET_POWER or QUERY_POWER without calling
    /// PoStartNextPowerIrp (book l.6431). 0x9F/0x500: 0, device, IRP.
    PowerIrpNotStarted,
    /// A power IRP sent to a DO_POWER_PAGABLE device at DISPATCH_LEVEL
    /// with IoCallDriver (PoCallDriver would have waited for PASSIVE_LEVEL).
    /// 0xA0/0x404: 0, IRP, device.
    PowerIrpToPagableAtDispatch,
    /// PoStartNextPowerIrp called twice by one driver for one IRP (P-16,
    /// l.6431). No Driver Verifier id: 0xC9/0x200: IRP, device.
    PowerIrpStartedTwice,
    /// A power IRP sent with IoCallDriver instead of PoCallDriver
    /// (l.6429). No Driver Verifier id: 0xC9/0x200, its catch-all: IRP,
    /// device.
    PowerIrpViaIoCallDriver,
    /// PoRequestPowerIrp or PoSetPowerState with a system power state, which
    /// only the power manager may use (l.6437, l.6530). No Driver Verifier
    /// id: 0xC9/0x200: device, state.
    SystemPowerStateByDriver,
    /// A buffered request completed with IoStatus.Information larger than
    /// its output buffer, which the I/O manager's copy-back would overrun
    /// (spec V32). 0xC9/0x312: IRP, Information, output length.
    InformationBeyondOutput,
}

impl Rule {
    pub fn code(self) -> u32 {
        use Rule::*;
        match self {
            CallAboveMaxIrql => DRIVER_VIOLATION,
            PagedCodeAtRaisedIrql => DRIVER_IRQL_NOT_LESS_OR_EQUAL,
            DpcReturnedChangedIrql => IRQL_UNEXPECTED_VALUE,
            ThreadExitAtRaisedIrql => IRQL_GT_ZERO_AT_SYSTEM_SERVICE,
            MaximumWaitObjectsExceeded => MAXIMUM_WAIT_OBJECTS_EXCEEDED,
            BadExtensionType => KMODE_EXCEPTION_NOT_HANDLED,
            NoMoreIrpStackLocations => NO_MORE_IRP_STACK_LOCATIONS,
            CallDriverDeletedDevice
            | DispatchChangedIrql
            | CompleteWithPending
            | CompleteAboveDispatch
            | CompleteWithCancelRoutine
            | CallDriverAboveDispatch
            | DeleteAttachedDevice
            | DetachNotAttached
            | FreeIrpInUse
            | ReturnedStatusMismatch
            | IrpNotHandled
            | IrpDropped
            | CompletionMissedPending
            | PendingNotMarked
            | MarkedPendingNotReturned
            | DeleteDeviceTwice
            | DeviceInitializingNotCleared
            | PnpCompletedUntouched
            | PnpFailurePassedDown
            | PnpStatusResetToNotSupported
            | PowerPagableNotInherited
            | PowerIrpViaIoCallDriver
            | PowerIrpStartedTwice
            | SystemPowerStateByDriver
            | InformationBeyondOutput => DRIVER_VERIFIER_IOMANAGER_VIOLATION,
            PowerIrpNotStarted => DRIVER_POWER_STATE_FAILURE,
            MultipleIrpComplete => MULTIPLE_IRP_COMPLETE_REQUESTS,
            ReturnedHoldingCancelLock => DRIVER_RETURNED_HOLDING_CANCEL_LOCK,
            PowerIrpToPagableAtDispatch => INTERNAL_POWER_ERROR,
            _ => DRIVER_VERIFIER_DETECTED_VIOLATION,
        }
    }

    /// Parameter 1 for rules whose stop code is shared by sub-codes.
    pub fn subcode(self) -> Option<u64> {
        use Rule::*;
        Some(match self {
            RaiseIrqlInvalid => 0x30,
            LowerIrqlInvalid | LowerIrqlInDpc => 0x31,
            ReleaseSpinLockNotAtDispatch => 0x32,
            AcquireAtDpcLevelBelowDispatch => 0x40,
            ReleaseFromDpcLevelBelowDispatch => 0x41,
            AcquireSpinLockAboveDispatch => 0x42,
            SetEventAboveDispatch => 0x80,
            IsrReturnedChangedIrql => 0x111,
            WaitAboveDispatch => 0x120,
            WaitAtDispatchInfinite => 0x121,
            WaitAtDispatchNonZero => 0x122,
            SpinLockRecursive => 0x1000,
            SpinLockWrongOwner => 0x1004,
            SpinLockNotHeld => 0x1007,
            CallAboveMaxIrql => 0x2,
            CallDriverDeletedDevice => 0x04,
            DispatchChangedIrql => 0x05,
            CompleteWithPending => 0x06,
            CompleteAboveDispatch => 0x0E,
            CompleteWithCancelRoutine => 0x07,
            CallDriverAboveDispatch => 0x10,
            DeleteAttachedDevice => 0x201,
            DetachNotAttached => 0x202,
            FreeIrpInUse => 0x20B,
            ReturnedStatusMismatch => 0x224,
            IrpNotHandled | IrpDropped => 0x226,
            CompletionMissedPending => 0x228,
            CompletionChangedIrql => 0xFA,
            PendingNotMarked => 0x23D,
            MarkedPendingNotReturned => 0x23E,
            DeleteDeviceTwice => 0x240,
            DeviceInitializingNotCleared => 0x243,
            ZeroByteAllocation => 0x00,
            PagedAllocationAtDispatch => 0x01,
            AllocationAboveDispatch => 0x02,
            LookasideBlockTooSmall => 0xCD,
            LookasideFreeWrongSize => 0x16,
            RemoveLockTagNotAcquired => 0xD5,
            RemoveLockAndWaitTagNotAcquired => 0xD6,
            RemoveLockReinitialized => 0xD7,
            PnpRemoveFailed => 0x0004_3006,
            PnpCompletedUntouched => 0x22F,
            PnpFailurePassedDown => 0x215,
            PnpStatusResetToNotSupported => 0x216,
            PowerPagableNotInherited => 0x23F,
            PowerIrpNotStarted => 0x500,
            PowerIrpToPagableAtDispatch => 0x404,
            PowerIrpViaIoCallDriver | PowerIrpStartedTwice | SystemPowerStateByDriver => 0x200,
            InformationBeyondOutput => 0x312,
            PagedCodeAtRaisedIrql
            | DpcReturnedChangedIrql
            | ThreadExitAtRaisedIrql
            | MaximumWaitObjectsExceeded
            | BadExtensionType
            | NoMoreIrpStackLocations
            | MultipleIrpComplete
            | ReturnedHoldingCancelLock => return None,
        })
    }

    /// The four stop parameters: the sub-code (if any) followed by `args`.
    pub fn params(self, args: [u64; 3]) -> [u64; 4] {
        match self.subcode() {
            Some(sub) => [sub, args[0], args[1], args[2]],
            None => [args[0], args[1], args[2], 0],
        }
    }

    /// A short name, like Driver Verifier's rule names.
    pub fn name(self) -> &'static str {
        use Rule::*;
        match self {
            RaiseIrqlInvalid => "KeRaiseIrql to a lower level",
            LowerIrqlInvalid => "KeLowerIrql to a higher level",
            LowerIrqlInDpc => "KeLowerIrql below DISPATCH_LEVEL in a DPC",
            ReleaseSpinLockNotAtDispatch => "KeReleaseSpinLock not at DISPATCH_LEVEL",
            AcquireAtDpcLevelBelowDispatch => "KeAcquireSpinLockAtDpcLevel below DISPATCH_LEVEL",
            ReleaseFromDpcLevelBelowDispatch => {
                "KeReleaseSpinLockFromDpcLevel below DISPATCH_LEVEL"
            }
            AcquireSpinLockAboveDispatch => "KeAcquireSpinLock above DISPATCH_LEVEL",
            SetEventAboveDispatch => "KeSetEvent above DISPATCH_LEVEL",
            IsrReturnedChangedIrql => "ISR returned at a changed IRQL",
            WaitAboveDispatch => "wait above DISPATCH_LEVEL",
            WaitAtDispatchInfinite => "wait at DISPATCH_LEVEL without a time-out",
            WaitAtDispatchNonZero => "wait at DISPATCH_LEVEL with a non-zero time-out",
            SpinLockRecursive => "spin lock acquired twice by one processor",
            SpinLockWrongOwner => "spin lock released by another processor",
            SpinLockNotHeld => "spin lock released while not held",
            CallAboveMaxIrql => "call above its IRQL limit",
            PagedCodeAtRaisedIrql => "pageable code at DISPATCH_LEVEL or above",
            DpcReturnedChangedIrql => "DPC returned at a changed IRQL",
            ThreadExitAtRaisedIrql => "system thread ended above PASSIVE_LEVEL",
            MaximumWaitObjectsExceeded => "more than MAXIMUM_WAIT_OBJECTS in one wait",
            BadExtensionType => "extension read as the wrong type",
            NoMoreIrpStackLocations => "no IRP stack location left",
            CallDriverDeletedDevice => "IoCallDriver to a deleted device",
            DispatchChangedIrql => "dispatch routine changed the IRQL",
            CompleteWithPending => "IoCompleteRequest with STATUS_PENDING",
            CompleteAboveDispatch => "IoCompleteRequest above DISPATCH_LEVEL",
            CompleteWithCancelRoutine => "IoCompleteRequest with the cancel routine still set",
            CallDriverAboveDispatch => "IoCallDriver above DISPATCH_LEVEL",
            MultipleIrpComplete => "IRP completed twice",
            ReturnedHoldingCancelLock => "cancel routine returned holding the cancel spin lock",
            DeleteAttachedDevice => "device deleted while attached",
            DetachNotAttached => "IoDetachDevice with nothing attached",
            FreeIrpInUse => "IoFreeIrp on an IRP in use",
            ReturnedStatusMismatch => "returned status differs from IoStatus.Status",
            IrpNotHandled => "IRP neither completed, passed down nor pending",
            IrpDropped => "IRP dropped",
            CompletionMissedPending => "completion routine did not propagate the pending bit",
            CompletionChangedIrql => "completion routine changed the IRQL",
            PendingNotMarked => "STATUS_PENDING returned without IoMarkIrpPending",
            MarkedPendingNotReturned => "IoMarkIrpPending without returning STATUS_PENDING",
            DeleteDeviceTwice => "device deleted twice",
            DeviceInitializingNotCleared => "AddDevice left DO_DEVICE_INITIALIZING set",
            ZeroByteAllocation => "zero-byte pool allocation",
            PagedAllocationAtDispatch => "paged pool allocated above APC_LEVEL",
            AllocationAboveDispatch => "pool allocated above DISPATCH_LEVEL",
            LookasideBlockTooSmall => "lookaside list with entries below the minimum size",
            LookasideFreeWrongSize => "block of the wrong size freed to a lookaside list",
            RemoveLockTagNotAcquired => "IoReleaseRemoveLock with a tag not acquired",
            RemoveLockAndWaitTagNotAcquired => "IoReleaseRemoveLockAndWait with a tag not acquired",
            RemoveLockReinitialized => "remove lock initialized again after removal",
            PnpRemoveFailed => "a removal IRP that may not fail was failed",
            PnpCompletedUntouched => "PnP IRP completed untouched instead of passed down",
            PnpFailurePassedDown => "failed PnP IRP passed down instead of completed",
            PnpStatusResetToNotSupported => "PnP IRP status turned back into STATUS_NOT_SUPPORTED",
            PowerPagableNotInherited => "DO_POWER_PAGABLE not inherited from the stack",
            PowerIrpNotStarted => "power IRP handled without PoStartNextPowerIrp",
            PowerIrpToPagableAtDispatch => "power IRP sent to a pageable device at DISPATCH_LEVEL",
            PowerIrpViaIoCallDriver => "power IRP sent with IoCallDriver, not PoCallDriver",
            PowerIrpStartedTwice => "PoStartNextPowerIrp called twice for one IRP",
            SystemPowerStateByDriver => "system power state used by a driver",
            InformationBeyondOutput => "IoStatus.Information larger than the output buffer",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.subcode() {
            Some(sub) => write!(f, "{:#X}/{sub:#X} {}", self.code(), self.name()),
            None => write!(f, "{:#X} {}", self.code(), self.name()),
        }
    }
}

/// The symbolic name of a stop code.
pub(crate) fn code_name(code: u32) -> &'static str {
    match code {
        DRIVER_VERIFIER_DETECTED_VIOLATION => "DRIVER_VERIFIER_DETECTED_VIOLATION",
        DRIVER_VIOLATION => "DRIVER_VIOLATION",
        DRIVER_IRQL_NOT_LESS_OR_EQUAL => "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
        IRQL_UNEXPECTED_VALUE => "IRQL_UNEXPECTED_VALUE",
        IRQL_GT_ZERO_AT_SYSTEM_SERVICE => "IRQL_GT_ZERO_AT_SYSTEM_SERVICE",
        MAXIMUM_WAIT_OBJECTS_EXCEEDED => "MAXIMUM_WAIT_OBJECTS_EXCEEDED",
        DRIVER_VERIFIER_IOMANAGER_VIOLATION => "DRIVER_VERIFIER_IOMANAGER_VIOLATION",
        NO_MORE_IRP_STACK_LOCATIONS => "NO_MORE_IRP_STACK_LOCATIONS",
        KMODE_EXCEPTION_NOT_HANDLED => "KMODE_EXCEPTION_NOT_HANDLED",
        DRIVER_POWER_STATE_FAILURE => "DRIVER_POWER_STATE_FAILURE",
        INTERNAL_POWER_ERROR => "INTERNAL_POWER_ERROR",
        MULTIPLE_IRP_COMPLETE_REQUESTS => "MULTIPLE_IRP_COMPLETE_REQUESTS",
        DRIVER_RETURNED_HOLDING_CANCEL_LOCK => "DRIVER_RETURNED_HOLDING_CANCEL_LOCK",
        _ => "UNKNOWN_STOP",
    }
}
