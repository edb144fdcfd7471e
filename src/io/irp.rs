//! IRPs: allocation, stack locations, IoCallDriver, IoCompleteRequest and the
//! completion walk (book l.886–918, l.4293–4302, l.5482–5549; spec §1.7–1.8).
//!
//! An [`Irp`] is owned by one party at a time. IoCallDriver takes it by
//! value, so the caller cannot touch it after passing it down; completing it
//! consumes it; a completion routine gets it back by value and either hands
//! it on ([`Completion::Continue`]) or keeps it
//! ([`Completion::MoreProcessingRequired`]). Completing twice cannot be
//! written. What the types cannot rule out (pending marks that disagree with
//! the returned status, a dispatch routine that drops an IRP, IRQL changes)
//! Driver Verifier's I/O checks find at run time (verifier rules 0xC9/...).
//!
//! Locations are numbered as NT numbers them: 1 is the lowest driver's,
//! `stack_count` the top's; `current_location` is `stack_count + 1` before
//! the first IoCallDriver.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

use super::buffer::{Mdl, Shared, UserMemory};
use super::codes::{IRP_MJ_PNP, IRP_MJ_POWER, IRP_MN_QUERY_POWER, IRP_MN_SET_POWER, function_name};
use super::device::{DO_POWER_PAGABLE, DeviceObject};
use super::file::FileObject;
use super::interface::Guid;
use super::irp_shared::{IrpShared, RecordHold};
use super::lookaside;
use super::request::Request;
use crate::ke::irql::{self, DISPATCH_LEVEL};
use crate::pnp::{
    BusQueryIdType, CmResourceList, DeviceCapabilities, DeviceRelationType, DeviceTextType,
    PnpInformation,
};
use crate::po::{PowerAction, PowerSequence, PowerState, SystemPowerState};
use crate::sim::pcr::{self, Mode};
use crate::sim::system::with_system;
use crate::sim::{self};
use crate::status::{
    NtStatus, STATUS_CANCELLED, STATUS_NOT_SUPPORTED, STATUS_PENDING, STATUS_SUCCESS,
};
use crate::trace::Event;
use crate::verifier::{self, Rule, WarningKind};

/// IO_STATUS_BLOCK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoStatusBlock {
    pub status: NtStatus,
    pub information: usize,
}

impl Default for IoStatusBlock {
    fn default() -> Self {
        IoStatusBlock { status: STATUS_SUCCESS, information: 0 }
    }
}

/// Stack location control bits.
pub const SL_PENDING_RETURNED: u8 = 0x01;
pub const SL_INVOKE_ON_CANCEL: u8 = 0x20;
pub const SL_INVOKE_ON_SUCCESS: u8 = 0x40;
pub const SL_INVOKE_ON_ERROR: u8 = 0x80;

/// IO_NO_INCREMENT: no priority boost for the waiting thread.
pub const IO_NO_INCREMENT: i8 = 0;

/// A stack location's Parameters, one variant per kind of request.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Parameters {
    #[default]
    None,
    Create {
        desired_access: u32,
        options: u32,
        file_attributes: u16,
        share_access: u16,
    },
    Read {
        length: u32,
        key: u32,
        byte_offset: i64,
    },
    Write {
        length: u32,
        key: u32,
        byte_offset: i64,
    },
    DeviceIoControl {
        output_buffer_length: u32,
        input_buffer_length: u32,
        io_control_code: u32,
        /// METHOD_NEITHER: the caller's input buffer.
        type3_input_buffer: Option<UserMemory>,
    },
    /// IRP_MN_START_DEVICE: the resources assigned, as the bus sees them
    /// (raw) and as the processor does (translated); `None` when the
    /// device needs none (book l.5720–5722). Shared: the lists are the PnP
    /// manager's, every location reads the same ones.
    StartDevice {
        allocated_resources: Option<Arc<CmResourceList>>,
        allocated_resources_translated: Option<Arc<CmResourceList>>,
    },
    /// IRP_MN_QUERY_DEVICE_RELATIONS.
    QueryDeviceRelations {
        relation_type: DeviceRelationType,
    },
    /// IRP_MN_QUERY_INTERFACE: which interface, of what size and version.
    QueryInterface {
        interface_type: Guid,
        size: u16,
        version: u16,
    },
    /// IRP_MN_QUERY_CAPABILITIES: the structure every driver of the stack
    /// fills in turn.
    QueryCapabilities {
        capabilities: Shared<DeviceCapabilities>,
    },
    /// IRP_MN_QUERY_ID.
    QueryId {
        id_type: BusQueryIdType,
    },
    /// IRP_MN_QUERY_DEVICE_TEXT.
    QueryDeviceText {
        text_type: DeviceTextType,
        locale_id: u32,
    },
    /// IRP_MN_SET_POWER and IRP_MN_QUERY_POWER (Parameters.Power).
    Power {
        state: PowerState,
        shutdown_type: PowerAction,
    },
    /// IRP_MN_WAIT_WAKE: the deepest system state to wake from.
    WaitWake {
        power_state: SystemPowerState,
    },
    /// IRP_MN_POWER_SEQUENCE: the counters the bus driver fills.
    PowerSequence {
        sequence: Shared<PowerSequence>,
    },
}

/// The context a completion routine gets (its PVOID Context).
pub type CompletionContext = Option<Arc<dyn Any + Send + Sync>>;

/// A completion routine: `(DeviceObject, Irp, Context)`. The device is the
/// one of the driver that set the routine (`None` for a driver-built IRP's
/// own routine).
pub type CompletionRoutine = fn(Option<&DeviceObject>, Irp, &CompletionContext) -> Completion;

/// What a completion routine does with the IRP it was handed.
#[derive(Debug)]
pub enum Completion {
    /// Let completion go on to the next driver up (the routine "returned
    /// STATUS_SUCCESS"); the routine hands the IRP back.
    Continue(Irp),
    /// STATUS_MORE_PROCESSING_REQUIRED: the routine kept the IRP (it stored
    /// it, will complete it again, or freed it). The walk stops here.
    MoreProcessingRequired,
}

/// `IrpInner::current` of an IRP completed to the top or freed.
const DISPOSED: u8 = 0;

/// Entries of a stack of `stack_size` locations: at least one, so every
/// position has a location to read.
fn entries(stack_size: u8) -> usize {
    usize::from(stack_size).max(1)
}

/// The locations of a new body of `stack_size` locations.
fn new_stack(stack_size: u8) -> Box<[IoStackLocation]> {
    (0..entries(stack_size)).map(|_| IoStackLocation::default()).collect()
}

/// IO_STACK_LOCATION.
///
/// The two device references are kept when the IRP's body goes back to
/// the lookaside list, hidden: the next IRP sent through the same devices
/// takes no new reference (an `Arc` clone and its drop are two atomic
/// operations, about 10 ns here; ten of them were a quarter of a
/// three-layer IRP's time). NT's locations hold no reference
/// at all; the remove lock keeps the device. A kept reference is dropped
/// when the device is deleted (from this thread's lists at once, from a
/// body in flight when it is disposed) and when the thread leaves its
/// machine (`io::lookaside::forget_devices`).
#[derive(Clone, Default)]
pub struct IoStackLocation {
    pub major_function: u8,
    pub minor_function: u8,
    pub flags: u8,
    control: u8,
    /// `device` is this IRP's: IoCallDriver sent it to this location.
    named: bool,
    pub parameters: Parameters,
    device: Option<DeviceObject>,
    pub file_object: Option<FileObject>,
    completion: Option<(CompletionRoutine, CompletionContext)>,
    /// The device of the driver that set `completion`, handed to the
    /// routine; the walk lends it out and puts it back.
    completer: Option<DeviceObject>,
}

impl fmt::Debug for IoStackLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoStackLocation")
            .field("function", &function_name(self.major_function, self.minor_function))
            .field("parameters", &self.parameters)
            .field("control", &self.control)
            .field("device", &self.device_object())
            .finish_non_exhaustive()
    }
}

impl IoStackLocation {
    /// The device this location belongs to (set by IoCallDriver).
    #[inline]
    pub fn device_object(&self) -> Option<&DeviceObject> {
        self.device.as_ref().filter(|_| self.named)
    }

    /// Records `device` as this location's (IoCallDriver), taking a
    /// reference only if the location does not keep one to it already.
    #[inline]
    fn name_device(&mut self, device: &DeviceObject) {
        if self.device.as_ref() != Some(device) {
            self.device = Some(device.clone());
        }
        self.named = true;
    }

    /// Moves the kept device references into `forgotten`: all of them, or
    /// only those to `device`.
    fn forget_devices(&mut self, device: Option<&DeviceObject>, forgotten: &mut Vec<DeviceObject>) {
        for kept in [&mut self.device, &mut self.completer] {
            if kept.as_ref().is_some_and(|k| device.is_none_or(|d| d == k)) {
                forgotten.extend(kept.take());
            }
        }
        if self.device.is_none() {
            self.named = false;
        }
    }

    /// ZeroIrpStackLocation, as the completion walk leaves each location it
    /// passes: a reclaimed IRP sent down again carries nothing of the last
    /// round (its device and major function stay, as in NT).
    #[inline]
    fn zero(&mut self) {
        self.minor_function = 0;
        self.flags = 0;
        self.control = 0;
        self.clear_parameters();
        if let Some(file) = self.file_object.take() {
            file.release();
        }
    }

    /// Parameters back to None. The variants that hold no reference are
    /// moved out and forgotten: the enum's drop glue is an out-of-line call
    /// that every location of every IRP would pay (the I/O path's hot spot).
    #[inline]
    fn clear_parameters(&mut self) {
        match self.parameters {
            Parameters::None => {}
            Parameters::Create { .. }
            | Parameters::Read { .. }
            | Parameters::Write { .. }
            | Parameters::QueryDeviceRelations { .. }
            | Parameters::QueryInterface { .. }
            | Parameters::QueryId { .. }
            | Parameters::QueryDeviceText { .. }
            | Parameters::Power { .. }
            | Parameters::WaitWake { .. } => {
                std::mem::forget(std::mem::replace(&mut self.parameters, Parameters::None));
            }
            _ => self.parameters = Parameters::None,
        }
    }

    /// Sets the parameters without running the old value's drop glue (see
    /// [`IoStackLocation::clear_parameters`]).
    #[inline]
    pub(crate) fn set_parameters(&mut self, parameters: Parameters) {
        self.clear_parameters();
        // `None` owns nothing: forgetting it is dropping it.
        std::mem::forget(std::mem::replace(&mut self.parameters, parameters));
    }

    /// Back to a fresh location (a body going to the lookaside list). The
    /// device references stay, hidden, unless their device was deleted.
    #[inline(always)]
    fn reset(&mut self) {
        self.zero();
        self.major_function = 0;
        self.named = false;
        if self.device.as_ref().is_some_and(DeviceObject::is_deleted) {
            self.device = None;
        }
        if self.completer.as_ref().is_some_and(DeviceObject::is_deleted) {
            self.completer = None;
        }
        if self.completion.is_some() {
            self.completion = None;
        }
    }

    /// The SL_PENDING_RETURNED bit (IoMarkIrpPending sets it).
    #[inline]
    pub fn is_pending(&self) -> bool {
        self.control & SL_PENDING_RETURNED != 0
    }

    #[inline]
    pub fn control(&self) -> u8 {
        self.control
    }
}

/// Where an IRP goes when completion passes the top of its stack.
pub(crate) enum Origin {
    /// IoAllocateIrp: its allocator's completion routine takes it back and
    /// frees it; if it reaches the top anyway, the I/O manager frees it.
    Driver,
    /// A request the I/O manager finishes (a Win32 call, IoBuild…Request,
    /// the PnP manager): buffers copied back, status recorded, event set.
    Request(Arc<Request>),
}

pub(crate) struct IrpInner {
    number: u32,
    io_status: IoStatusBlock,
    pending_returned: bool,
    /// The `stack_count` locations (at least one entry). NT's fresh IRP
    /// points its current location one past the top, at no location; here
    /// that position reads and writes the top location, so a creator that
    /// looks at it sees no garbage and an IRP carries no empty entry.
    stack: Box<[IoStackLocation]>,
    stack_count: u8,
    /// The current location, 1-based; 0 once the IRP is completed to the
    /// top or freed (dropping it then is not a leak).
    current: u8,
    system_buffer: Option<Vec<u8>>,
    mdl_address: Option<Mdl>,
    user_buffer: Option<UserMemory>,
    driver_context: [usize; 4],
    /// What a PnP query returns where NT's IoStatus.Information points.
    /// Boxed: rare, and an IRP body stays small.
    pnp_information: Option<Box<PnpInformation>>,
    priority_boost: i8,
    pub(crate) origin: Origin,
    pub(crate) shared: Arc<IrpShared>,
}

impl IrpInner {
    fn new(number: u32, stack_size: u8, origin: Origin, verify: bool) -> IrpInner {
        IrpInner {
            number,
            io_status: IoStatusBlock::default(),
            pending_returned: false,
            stack: new_stack(stack_size),
            stack_count: stack_size,
            current: stack_size.saturating_add(1),
            system_buffer: None,
            mdl_address: None,
            user_buffer: None,
            driver_context: [0; 4],
            pnp_information: None,
            priority_boost: 0,
            origin,
            shared: Arc::new(IrpShared::new(number, stack_size, verify)),
        }
    }

    /// A body from the lookaside list made into IRP `number` (the fields
    /// [`IrpInner::clear`] left are set here; the stack keeps its memory).
    /// `reuse` is IoReuseIrp's: the IRP stays the same IRP.
    fn prepare(&mut self, number: u32, stack_size: u8, origin: Origin, verify: bool, reuse: bool) {
        self.number = number;
        self.io_status = IoStatusBlock::default();
        self.pending_returned = false;
        // `clear` reset the locations (their device references stay,
        // hidden); only a new size replaces them.
        if self.stack.len() != entries(stack_size) {
            self.stack = new_stack(stack_size);
        }
        self.stack_count = stack_size;
        self.current = stack_size.saturating_add(1);
        self.driver_context = [0; 4];
        self.priority_boost = 0;
        self.origin = origin;
        let unique = Arc::strong_count(&self.shared) == 1;
        if self.shared.fits(stack_size, verify) && (reuse || unique) {
            // Whoever held the record last let go before we saw the count.
            fence(Ordering::Acquire);
            self.shared.clear(number);
        } else {
            // A record grows to the largest IRP its body has carried, so a
            // thread that mixes stack depths settles without reallocating.
            let locations = stack_size.max(self.shared.locations());
            self.shared = Arc::new(IrpShared::new(number, locations, verify));
        }
    }

    /// Drops every reference the body holds into a machine, so it can wait
    /// on a lookaside list; returns the system buffer for its own list.
    fn clear(&mut self) -> Option<Vec<u8>> {
        for location in self.stack.iter_mut() {
            location.reset();
        }
        self.mdl_address = None;
        self.user_buffer = None;
        if self.pnp_information.is_some() {
            self.pnp_information = None;
        }
        self.origin = Origin::Driver;
        // The power record names devices: a kept body must not keep them.
        self.shared.forget_power();
        // The shared record stays: IoCallDriver may still hold it to check
        // the dispatch routine's return; `prepare` replaces it if it is
        // still held then (by a cancel handle, say).
        self.current = DISPOSED;
        self.system_buffer.take()
    }

    /// A kept body lets go of device references (see
    /// [`lookaside::forget_devices`]).
    pub(crate) fn forget_devices(
        &mut self,
        device: Option<&DeviceObject>,
        forgotten: &mut Vec<DeviceObject>,
    ) {
        for location in self.stack.iter_mut() {
            location.forget_devices(device, forgotten);
        }
    }
}

/// An I/O request packet. Not `Clone`: there is one owner at a time.
pub struct Irp {
    pub(crate) inner: Box<IrpInner>,
}

impl fmt::Debug for Irp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Irp")
            .field("number", &self.inner.number)
            .field("io_status", &self.inner.io_status)
            .field("current_location", &self.inner.current)
            .field("stack_count", &self.stack_count())
            .finish_non_exhaustive()
    }
}

impl Irp {
    /// A fresh IRP with `stack_size` locations.
    /// Taken from this thread's lookaside list when it has one.
    pub(crate) fn new(stack_size: u8, origin: Origin) -> Irp {
        Irp::from_body(lookaside::take_irp(), stack_size, origin)
    }

    /// A fresh IRP in `kept`, a body from the lookaside list, if any.
    pub(crate) fn from_body(kept: Option<Box<IrpInner>>, stack_size: u8, origin: Origin) -> Irp {
        let (number, verify) = with_system(|s| (s.irp_number(), s.options.io_verification));
        let inner = match kept {
            Some(mut inner) => {
                inner.prepare(number, stack_size, origin, verify, false);
                inner
            }
            None => Box::new(IrpInner::new(number, stack_size, origin, verify)),
        };
        Irp { inner }
    }

    /// The IRP's number in traces.
    #[inline]
    pub fn number(&self) -> u32 {
        self.inner.number
    }

    /// Irp->IoStatus.
    #[inline]
    pub fn io_status(&self) -> IoStatusBlock {
        self.inner.io_status
    }

    #[inline]
    pub fn io_status_mut(&mut self) -> &mut IoStatusBlock {
        &mut self.inner.io_status
    }

    /// Irp->PendingReturned: whether the lower driver marked it pending.
    #[inline]
    pub fn pending_returned(&self) -> bool {
        self.inner.pending_returned
    }

    /// Irp->Cancel: IoCancelIrp was called for it.
    #[inline]
    pub fn cancel(&self) -> bool {
        self.inner.shared.cancel.load(Ordering::Acquire)
    }

    /// Irp->StackCount.
    #[inline]
    pub fn stack_count(&self) -> u8 {
        self.inner.stack_count
    }

    /// Irp->CurrentLocation (1-based; `stack_count + 1` before any call).
    #[inline]
    pub fn current_location(&self) -> u8 {
        self.inner.current
    }

    /// AssociatedIrp.SystemBuffer (buffered I/O), if the request has one.
    #[inline]
    pub fn system_buffer(&self) -> Option<&[u8]> {
        self.inner.system_buffer.as_deref()
    }

    #[inline]
    pub fn system_buffer_mut(&mut self) -> Option<&mut [u8]> {
        self.inner.system_buffer.as_deref_mut()
    }

    /// Irp->MdlAddress (direct I/O).
    #[inline]
    pub fn mdl_address(&self) -> Option<&Mdl> {
        self.inner.mdl_address.as_ref()
    }

    /// Irp->UserBuffer (neither I/O; METHOD_NEITHER output).
    #[inline]
    pub fn user_buffer(&self) -> Option<&UserMemory> {
        self.inner.user_buffer.as_ref()
    }

    /// Tail.Overlay.DriverContext: four words for the current owner.
    #[inline]
    pub fn driver_context(&self) -> &[usize; 4] {
        &self.inner.driver_context
    }

    #[inline]
    pub fn driver_context_mut(&mut self) -> &mut [usize; 4] {
        &mut self.inner.driver_context
    }

    /// The answer of a PnP query so far (NT: what IoStatus.Information
    /// points to): the bus driver sets it, drivers above may replace it.
    pub fn pnp_information(&self) -> Option<&PnpInformation> {
        self.inner.pnp_information.as_deref()
    }

    pub fn set_pnp_information(&mut self, information: Option<PnpInformation>) {
        self.inner.pnp_information = information.map(Box::new);
    }

    pub(crate) fn take_pnp_information(&mut self) -> Option<Box<PnpInformation>> {
        self.inner.pnp_information.take()
    }

    /// The boost IoCompleteRequest was given (recorded, not applied).
    pub fn priority_boost(&self) -> i8 {
        self.inner.priority_boost
    }

    /// Sets AssociatedIrp.SystemBuffer, as a driver does on an IRP it
    /// allocated (IoAllocateIrp) before sending it, and returns what was
    /// there, as it takes its buffer back after completion.
    pub fn replace_system_buffer(&mut self, buffer: Option<Vec<u8>>) -> Option<Vec<u8>> {
        std::mem::replace(&mut self.inner.system_buffer, buffer)
    }

    pub(crate) fn set_buffers(
        &mut self,
        system_buffer: Option<Vec<u8>>,
        mdl_address: Option<Mdl>,
        user_buffer: Option<UserMemory>,
    ) {
        self.inner.system_buffer = system_buffer;
        self.inner.mdl_address = mdl_address;
        self.inner.user_buffer = user_buffer;
    }

    pub(crate) fn take_system_buffer(&mut self) -> Option<Vec<u8>> {
        self.inner.system_buffer.take()
    }

    /// Location `n` (1-based), or the empty entry past the top.
    #[inline]
    fn location(&self, n: u8) -> &IoStackLocation {
        let index = (n as usize).saturating_sub(1).min(self.inner.stack.len() - 1);
        &self.inner.stack[index]
    }

    #[inline]
    fn location_mut(&mut self, n: u8) -> &mut IoStackLocation {
        let last = self.inner.stack.len() - 1;
        let index = (n as usize).saturating_sub(1).min(last);
        &mut self.inner.stack[index]
    }

    /// IoGetCurrentIrpStackLocation.
    #[inline]
    pub fn current_stack_location(&self) -> &IoStackLocation {
        self.location(self.inner.current)
    }

    #[inline]
    pub fn current_stack_location_mut(&mut self) -> &mut IoStackLocation {
        let current = self.inner.current;
        self.location_mut(current)
    }

    /// The location the next IoCallDriver will use, if there is one left.
    #[inline]
    pub(crate) fn next_location(&self) -> Option<&IoStackLocation> {
        let current = self.inner.current;
        (current > 1).then(|| self.location(current - 1))
    }

    /// The record shared with cancel handles and the verifier.
    #[inline]
    pub(crate) fn shared_record(&self) -> &IrpShared {
        &self.inner.shared
    }

    /// IoGetNextIrpStackLocation: the lower driver's location. An IRP with
    /// no location left is bug check 0x35 (NO_MORE_IRP_STACK_LOCATIONS).
    #[inline]
    pub fn next_stack_location_mut(&mut self) -> &mut IoStackLocation {
        let current = self.inner.current;
        if current <= 1 {
            no_more_stack_locations(self);
        }
        self.location_mut(current.saturating_sub(1))
    }

    /// The IRP is done with (completed to the top, or freed): its body goes
    /// back to the lookaside list.
    pub(crate) fn dispose(self) {
        let mut inner = self.inner;
        let system_buffer = inner.clear();
        lookaside::give_irp(inner, system_buffer);
    }
}

impl Drop for IrpInner {
    fn drop(&mut self) {
        if self.current == DISPOSED || !self.shared.verified() {
            return;
        }
        // An IRP nobody completed, freed or kept: its requester waits
        // forever (book l.3864).
        let location = (self.current as usize).saturating_sub(1).min(self.stack.len() - 1);
        let (major, minor) =
            self.stack.get(location).map_or((0, 0), |l| (l.major_function, l.minor_function));
        verifier::bug_check(
            Rule::IrpDropped,
            [u64::from(self.number), 0, 0],
            format!(
                "IRP {} ({}) was dropped without being completed, passed down or freed",
                self.number,
                function_name(major, minor)
            ),
        );
    }
}

#[cold]
fn no_more_stack_locations(irp: &Irp) {
    verifier::bug_check(
        Rule::NoMoreIrpStackLocations,
        [u64::from(irp.number()), 0, 0],
        format!("IRP {} has no stack location left", irp.number()),
    );
}

/// IoAllocateIrp: an IRP with `stack_size` locations that the calling
/// driver owns and must free (IoFreeIrp). `None` under allocation failure.
pub fn allocate_irp(stack_size: u8, _charge_quota: bool) -> Option<Irp> {
    irql::check_max_irql("IoAllocateIrp", DISPATCH_LEVEL);
    if crate::ex::pool::take_injected_failure() {
        return None;
    }
    Some(Irp::new(stack_size, Origin::Driver))
}

/// IoFreeIrp: frees an IRP this driver allocated. Freeing one that belongs
/// to a request (a Win32 call's IRP, say) is 0xC9/0x20B.
pub fn free_irp(irp: Irp) {
    if let Origin::Request(_) = irp.inner.origin {
        verifier::io_violation(Rule::FreeIrpInUse, [u64::from(irp.number()), 0, 0], || {
            format!("IoFreeIrp on IRP {}, which a requester is waiting for", irp.number())
        });
    }
    irp.dispose();
}

/// IoReuseIrp: resets an IRP this driver allocated for another request,
/// with `status` in IoStatus.Status.
pub fn reuse_irp(irp: &mut Irp, status: NtStatus) {
    let stack_size = irp.stack_count();
    reset(irp, stack_size);
    irp.inner.io_status.status = status;
}

/// IoInitializeIrp: gives an IRP `stack_size` fresh locations.
pub fn initialize_irp(irp: &mut Irp, stack_size: u8) {
    reset(irp, stack_size);
}

#[inline]
fn reset(irp: &mut Irp, stack_size: u8) {
    let inner = &mut irp.inner;
    let verify = inner.shared.verified();
    for location in inner.stack.iter_mut() {
        location.reset();
    }
    inner.system_buffer = None;
    inner.mdl_address = None;
    inner.user_buffer = None;
    inner.pnp_information = None;
    inner.shared.forget_power();
    let origin = std::mem::replace(&mut inner.origin, Origin::Driver);
    inner.prepare(inner.number, stack_size, origin, verify, true);
}

/// IoGetCurrentIrpStackLocation.
#[inline]
pub fn get_current_irp_stack_location(irp: &Irp) -> &IoStackLocation {
    irp.current_stack_location()
}

/// IoGetNextIrpStackLocation.
#[inline]
pub fn get_next_irp_stack_location(irp: &mut Irp) -> &mut IoStackLocation {
    irp.next_stack_location_mut()
}

/// IoCopyCurrentIrpStackLocationToNext: the lower driver gets this
/// driver's parameters, without its completion routine or control bits.
#[inline]
pub fn copy_current_irp_stack_location_to_next(irp: &mut Irp) {
    let current = irp.inner.current;
    if current <= 1 {
        no_more_stack_locations(irp);
        return;
    }
    // Field by field: the device (IoCallDriver sets it) and the completion
    // entry are not cloned only to be dropped, which costs two reference
    // counts each on the hot path.
    if current > irp.inner.stack_count {
        // A fresh IRP has no current location: the next one gets nothing.
        let next = irp.next_stack_location_mut();
        let (device, completer) = (next.device.take(), next.completer.take());
        *next = IoStackLocation { device, completer, ..IoStackLocation::default() };
        return;
    }
    let at = current as usize - 1;
    let (lower, upper) = irp.inner.stack.split_at_mut(at);
    let (Some(next), Some(this)) = (lower.last_mut(), upper.first()) else { return };
    next.major_function = this.major_function;
    next.minor_function = this.minor_function;
    next.flags = this.flags;
    next.control = 0;
    next.set_parameters(this.parameters.clone());
    next.file_object.clone_from(&this.file_object);
    if next.completion.is_some() {
        next.completion = None;
    }
}

/// IoSkipCurrentIrpStackLocation: the lower driver will see this driver's
/// own location; this driver cannot set a completion routine for the call.
#[inline]
pub fn skip_current_irp_stack_location(irp: &mut Irp) {
    irp.inner.current = irp.inner.current.saturating_add(1);
}

/// IoSetCompletionRoutine: `routine` runs as completion passes back up
/// through this driver, when the final status matches the flags.
#[inline(always)]
pub fn set_completion_routine(
    irp: &mut Irp,
    routine: CompletionRoutine,
    context: CompletionContext,
    invoke_on_success: bool,
    invoke_on_error: bool,
    invoke_on_cancel: bool,
) {
    let mut control = 0;
    if invoke_on_success {
        control |= SL_INVOKE_ON_SUCCESS;
    }
    if invoke_on_error {
        control |= SL_INVOKE_ON_ERROR;
    }
    if invoke_on_cancel {
        control |= SL_INVOKE_ON_CANCEL;
    }
    let current = irp.inner.current;
    if current <= 1 {
        no_more_stack_locations(irp);
        return;
    }
    // The routine gets the device of the driver setting it: the current
    // location's (none for the IRP's creator, which has no location).
    let (lower, upper) = irp.inner.stack.split_at_mut(usize::from(current) - 1);
    let (Some(next), setter) = (lower.last_mut(), upper.first().and_then(|l| l.device_object()))
    else {
        return;
    };
    if next.completer.as_ref() != setter {
        next.completer = setter.cloned();
    }
    next.completion = Some((routine, context));
    next.control = control;
}

/// IoMarkIrpPending: sets the pending bit of the current location. The
/// dispatch routine must then return STATUS_PENDING (book l.4302).
#[inline]
pub fn mark_irp_pending(irp: &mut Irp) {
    // The creator's own completion routine has no location to mark.
    if irp.inner.current <= irp.inner.stack_count {
        irp.current_stack_location_mut().control |= SL_PENDING_RETURNED;
    }
}

/// IoCallDriver: passes `irp` to `device`'s driver: moves to the next stack
/// location, records the device there, and calls the dispatch routine for
/// the location's major function, returning what it returns. Power IRPs
/// go through PoCallDriver instead (book l.6429).
#[inline]
pub fn call_driver(device: &DeviceObject, irp: Irp) -> NtStatus {
    call_driver_via(device, irp, Via::Io)
}

/// Who is passing an IRP to a driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// IoCallDriver.
    Io,
    /// PoCallDriver.
    Po,
    /// The power manager presenting a power IRP it held while the device
    /// was busy: its sender already returned STATUS_PENDING for it.
    Held,
}

pub(crate) fn call_driver_via(device: &DeviceObject, mut irp: Irp, via: Via) -> NtStatus {
    let irql_before = pcr::irql();
    if irql_before > DISPATCH_LEVEL {
        verifier::bug_check(
            Rule::CallDriverAboveDispatch,
            [u64::from(irql_before.0), u64::from(irp.number()), 0],
            format!("IoCallDriver at {irql_before}"),
        );
        irp.dispose();
        return STATUS_PENDING;
    }
    if irp.inner.current <= 1 {
        no_more_stack_locations(&irp);
        irp.dispose();
        return STATUS_PENDING;
    }
    if device.is_deleted() {
        verifier::bug_check(
            Rule::CallDriverDeletedDevice,
            [u64::from(device.id().0), u64::from(irp.number()), 0],
            format!("IoCallDriver to {}, which was deleted", device.label()),
        );
        irp.dispose();
        return STATUS_PENDING;
    }
    if irp.inner.shared.verified()
        && irp.next_location().is_some_and(|l| l.major_function == IRP_MJ_PNP)
    {
        irp.inner.shared.passed_down(irp.inner.current);
    }
    irp.inner.current -= 1;
    let location = irp.inner.current;
    let (major, minor) = {
        let loc = irp.location_mut(location);
        loc.name_device(device);
        (loc.major_function, loc.minor_function)
    };
    let number = irp.number();
    let verified = irp.inner.shared.verified();
    if verified {
        let shared = &irp.inner.shared;
        shared.dispatching(location);
        if major == IRP_MJ_POWER {
            let irql = pcr::irql();
            if via == Via::Io && device.flags() & DO_POWER_PAGABLE != 0 && irql >= DISPATCH_LEVEL {
                verifier::io_violation(
                    Rule::PowerIrpToPagableAtDispatch,
                    [0, u64::from(number), u64::from(device.id().0)],
                    || format!("power IRP {number} sent to pageable {} at {irql}", device.label()),
                );
            }
            if via == Via::Io {
                verifier::io_violation(
                    Rule::PowerIrpViaIoCallDriver,
                    [u64::from(number), u64::from(device.id().0), 0],
                    || format!("IoCallDriver with power IRP {number} to {}", device.label()),
                );
            }
            if is_serialized_power(minor) {
                shared.power_visited(device);
            }
        }
        if major == IRP_MJ_PNP {
            check_pnp_pass_down(&irp, device, shared);
        }
    }
    let mode = pcr::mode();
    if mode == Mode::Sim {
        sim::point(Event::IrpCall { irp: number, device: device.id(), major, minor, location });
    }
    // Lending pays off only when calls can nest: not for one location.
    let lend = mode == Mode::Threaded && irp.stack_count() > 1;
    let hold = (verified && via != Via::Held).then(|| RecordHold::take(&irp.inner.shared, lend));
    let dispatch = device.driver_object().dispatch(major);
    let status = dispatch(device, irp);
    let irql_after = pcr::irql();
    if irql_after != irql_before {
        verifier::io_violation(
            Rule::DispatchChangedIrql,
            [u64::from(device.id().0), u64::from(irql_before.0), u64::from(irql_after.0)],
            || {
                format!(
                    "a dispatch routine of {} returned at {irql_after}, called at {irql_before}",
                    device.label()
                )
            },
        );
    }
    if let Some(hold) = &hold {
        hold.returned(device, location, status);
    }
    drop(hold);
    if pcr::mode() == Mode::Sim {
        sim::record(Event::IrpReturn { irp: number, status });
    }
    status
}

/// IoCompleteRequest: the owner is done with the IRP. Completion walks back
/// up the stack, running each completion routine whose flags match, and
/// the I/O manager finishes the request at the top. Completing with
/// STATUS_PENDING is 0xC9/0x06, above DISPATCH_LEVEL 0xC9/0x0E.
pub fn complete_request(mut irp: Irp, priority_boost: i8) {
    let irql = pcr::irql();
    if irql > DISPATCH_LEVEL {
        verifier::bug_check(
            Rule::CompleteAboveDispatch,
            [u64::from(irql.0), u64::from(irp.number()), 0],
            format!("IoCompleteRequest at {irql}"),
        );
        irp.dispose();
        return;
    }
    irp.inner.shared.check_completed_unowned();
    let status = irp.inner.io_status.status;
    if status == STATUS_PENDING {
        // Windows completes it (Wine's test_return_status sees the caller
        // get the status); only Driver Verifier objects.
        verifier::io_violation(
            Rule::CompleteWithPending,
            [u64::from(status.0), u64::from(irp.number()), 0],
            || format!("IoCompleteRequest on IRP {} with STATUS_PENDING", irp.number()),
        );
    }
    if irp.inner.shared.verified() {
        check_pnp_completion(&irp, status);
    }
    if irp.inner.shared.cancel_routine_set.load(Ordering::Acquire) {
        verifier::io_violation(
            Rule::CompleteWithCancelRoutine,
            [0, u64::from(irp.number()), 0],
            || {
                format!(
                    "IoCompleteRequest on IRP {} with its cancel routine still set",
                    irp.number()
                )
            },
        );
    }
    irp.inner.priority_boost = priority_boost;
    if pcr::mode() == Mode::Sim {
        sim::point(Event::IrpComplete { irp: irp.number(), status, location: irp.inner.current });
    }
    walk(irp);
}

/// The completion walk (spec §1.8): from the completing location upward.
fn walk(mut irp: Irp) {
    let top = irp.stack_count();
    loop {
        let location = irp.inner.current;
        if location > top {
            finish(irp);
            return;
        }
        let (pending, control, completion) = {
            let loc = irp.location_mut(location);
            let seen = (loc.is_pending(), loc.control, loc.completion.take());
            loc.zero();
            seen
        };
        irp.inner.pending_returned = pending;
        let inner = &irp.inner;
        let device = irp.location(location).device_object();
        inner.shared.walked(device, location, pending, inner.io_status.status);
        irp.inner.current = location + 1;
        let status = irp.inner.io_status.status;
        let wanted = match completion {
            Some(entry)
                if (status.is_success() && control & SL_INVOKE_ON_SUCCESS != 0)
                    || (!status.is_success() && control & SL_INVOKE_ON_ERROR != 0)
                    || (irp.cancel() && control & SL_INVOKE_ON_CANCEL != 0) =>
            {
                Some(entry)
            }
            _ => None,
        };
        match wanted {
            Some((routine, context)) => {
                // Lent to the routine and put back, so the next IRP through
                // this driver takes no reference (an IRP the routine keeps
                // goes without it).
                let setter = irp.location_mut(location).completer.take();
                let number = irp.number();
                let irql = pcr::irql();
                match routine(setter.as_ref(), irp, &context) {
                    Completion::MoreProcessingRequired => return,
                    Completion::Continue(returned) => {
                        irp = returned;
                        let kept = &mut irp.location_mut(location).completer;
                        if kept.is_none() {
                            *kept = setter;
                        }
                        check_completion_routine_return(&irp, number, irql);
                    }
                }
            }
            None => {
                if irp.inner.pending_returned && location < top {
                    irp.location_mut(location + 1).control |= SL_PENDING_RETURNED;
                }
            }
        }
    }
}

/// After a completion routine let completion go on: it must have left the
/// IRQL alone (0xC4/0xFA) and, if the IRP was pending below, marked it
/// pending at its own level (0xC9/0x228; book l.5545–5549). The reports
/// are out of line: this runs for every routine of every IRP.
#[inline]
fn check_completion_routine_return(irp: &Irp, number: u32, irql_before: crate::ke::Irql) {
    let irql_after = pcr::irql();
    if irql_after != irql_before {
        completion_changed_irql(number, irql_before, irql_after);
    }
    let location = irp.inner.current;
    if irp.inner.pending_returned
        && location <= irp.stack_count()
        && !irp.location(location).is_pending()
    {
        completion_missed_pending(number);
    }
}

#[cold]
fn completion_changed_irql(number: u32, before: crate::ke::Irql, after: crate::ke::Irql) {
    verifier::bug_check(
        Rule::CompletionChangedIrql,
        [u64::from(number), u64::from(before.0), u64::from(after.0)],
        format!("a completion routine of IRP {number} returned at {after}"),
    );
}

#[cold]
fn completion_missed_pending(number: u32) {
    verifier::io_violation(Rule::CompletionMissedPending, [u64::from(number), 0, 0], || {
        format!(
            "a completion routine of IRP {number} did not mark it pending after PendingReturned"
        )
    });
}

/// The top of the stack: the I/O manager's own part of completion.
fn finish(mut irp: Irp) {
    let status = irp.inner.io_status;
    if pcr::mode() == Mode::Sim {
        sim::record(Event::IrpDone {
            irp: irp.number(),
            status: status.status,
            information: status.information as u64,
        });
    }
    let shared = &irp.inner.shared;
    // Only a cancel routine can complete an IRP it does not own, and one
    // that ran took the routine from the slot before whoever completes
    // cleared it: this load sees it (the slot's lock orders the two).
    if shared.cancel_routine_called.load(Ordering::Acquire) {
        shared.finished();
        if status.status != STATUS_CANCELLED || status.information != 0 {
            cancelled_without_cancel_status(irp.number(), status);
        }
    }
    shared.check_power_started();
    // The request moves out (disposing resets the origin anyway): no
    // reference count taken only to be dropped.
    if let Origin::Request(request) = std::mem::replace(&mut irp.inner.origin, Origin::Driver) {
        request.finish(&mut irp);
    }
    irp.dispose();
}

#[cold]
fn cancelled_without_cancel_status(number: u32, status: IoStatusBlock) {
    verifier::warn(
        WarningKind::CancelledWithoutCancelStatus,
        format!(
            "IRP {number} was cancelled (its cancel routine ran) but completed with {:?} and \
             Information {}, not STATUS_CANCELLED and 0",
            status.status, status.information
        ),
    );
}

/// A PnP IRP on its way down may not carry a failure (a failed IRP is
/// completed, book l.5444: 0xC9/0x215), and a status a driver set may not
/// turn back into STATUS_NOT_SUPPORTED (0xC9/0x216).
fn check_pnp_pass_down(irp: &Irp, device: &DeviceObject, shared: &IrpShared) {
    let status = irp.inner.io_status.status;
    let args = [u64::from(device.id().0), u64::from(irp.number()), u64::from(status.0)];
    if status == STATUS_NOT_SUPPORTED {
        if shared.pnp_status_was_set() {
            verifier::io_violation(Rule::PnpStatusResetToNotSupported, args, || {
                format!(
                    "PnP IRP {} reached {} reset to STATUS_NOT_SUPPORTED",
                    irp.number(),
                    device.label()
                )
            });
        }
        return;
    }
    shared.set_pnp_status_set();
    if status.is_error() {
        verifier::io_violation(Rule::PnpFailurePassedDown, args, || {
            format!(
                "PnP IRP {} passed down to {} failed with {status}",
                irp.number(),
                device.label()
            )
        });
    }
}

/// Completing a PnP IRP: a status set earlier may not turn back into
/// STATUS_NOT_SUPPORTED (0xC9/0x216), and a function or filter driver (a
/// device with one below it) that completes one still untouched, without
/// having passed it down, should have passed it down (l.5091, l.6266:
/// 0xC9/0x22F). Only a PDO, at the bottom, completes PnP IRPs it does not
/// handle.
fn check_pnp_completion(irp: &Irp, status: NtStatus) {
    let location = irp.current_stack_location();
    if location.major_function != IRP_MJ_PNP {
        return;
    }
    let shared = &irp.inner.shared;
    let Some(device) = location.device_object() else { return };
    let args = [u64::from(device.id().0), u64::from(irp.number()), u64::from(status.0)];
    if status != STATUS_NOT_SUPPORTED {
        shared.set_pnp_status_set();
    } else if shared.pnp_status_was_set() {
        verifier::io_violation(Rule::PnpStatusResetToNotSupported, args, || {
            format!(
                "{} completed PnP IRP {} reset to STATUS_NOT_SUPPORTED",
                device.label(),
                irp.number()
            )
        });
    } else if device.lower_device().is_some() && !shared.was_passed_down(irp.inner.current) {
        verifier::io_violation(Rule::PnpCompletedUntouched, args, || {
            format!("{} completed PnP IRP {} untouched", device.label(), irp.number())
        });
    }
}

/// SET_POWER and QUERY_POWER: the power IRPs the power manager serializes
/// per device, and for which every driver calls PoStartNextPowerIrp.
pub(crate) fn is_serialized_power(minor: u8) -> bool {
    minor == IRP_MN_SET_POWER || minor == IRP_MN_QUERY_POWER
}

/// Marks the sender's location pending for a power IRP the power manager
/// holds: PoCallDriver returns STATUS_PENDING for it, as if the sender had
/// pended it. (After IoSkipCurrentIrpStackLocation this is the location
/// above the sender's, whose owner gets STATUS_PENDING in turn; the
/// location the held IRP will use stays clean for the drivers that get it.)
pub(crate) fn mark_sender_pending(irp: &mut Irp) {
    if irp.inner.current <= irp.inner.stack_count {
        irp.current_stack_location_mut().control |= SL_PENDING_RETURNED;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `clear_parameters` forgets these variants instead of dropping them:
    /// none of their fields may own anything.
    #[test]
    fn the_variants_clear_parameters_forgets_own_nothing() {
        assert!(!std::mem::needs_drop::<Guid>());
        assert!(!std::mem::needs_drop::<DeviceRelationType>());
        assert!(!std::mem::needs_drop::<BusQueryIdType>());
        assert!(!std::mem::needs_drop::<DeviceTextType>());
        assert!(!std::mem::needs_drop::<PowerState>());
        assert!(!std::mem::needs_drop::<PowerAction>());
        assert!(!std::mem::needs_drop::<SystemPowerState>());
    }
}
