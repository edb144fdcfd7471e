//! The I/O manager's side of a request: building an IRP for a caller (a
//! Win32 call, IoBuild…Request, the PnP manager) with its buffers chosen by
//! the transfer method, and finishing it when completion reaches the top.
//!
//! Finishing follows what Windows does (Wine's `test_return_status` pins it
//! against real Windows): a buffered request copies `IoStatus.Information`
//! bytes of the system buffer back to the caller exactly when the final
//! status is not an error; the caller's status block is written and its
//! event set only if the IRP was marked pending or its status is not an
//! error. Direct and neither requests were writing the caller's memory all
//! along.
//!
//! A synchronous Win32 caller's buffered output is kept in the request and
//! copied out by the caller when its call returns (NT's IopCompleteRequest
//! copies it in the requesting thread too), so the caller's buffer is never
//! wrapped in shared memory. Requests, like IRPs and system buffers, come
//! from the I/O manager's lookaside lists.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::task::Waker;

use super::buffer::{Mdl, UserMemory, get_system_address_for_mdl_safe};
use super::cancel::IrpCancelHandle;
use super::ctl_code::{TransferMethod, method_of};
use super::device::{DO_BUFFERED_IO, DO_DIRECT_IO, DeviceObject};
use super::irp::{IoStatusBlock, Irp, Origin, Parameters};
use super::lookaside;
use crate::ke::{Event, EventType};
use crate::pnp::PnpInformation;
use crate::status::NtStatus;
use crate::sync::Mutex;
use crate::verifier::{self, Rule};

/// A caller's buffer for a read, write or device control.
#[derive(Debug)]
pub(crate) enum Caller<'a> {
    /// A synchronous caller's own bytes: copied in, and a read's output
    /// kept for the caller to copy out when its call returns.
    Bytes(&'a [u8]),
    /// Caller memory that lives on past the call (overlapped I/O, IoBuild…).
    Memory(UserMemory),
}

impl Caller<'_> {
    /// Copies the caller's first `out.len()` bytes into `out`.
    fn read(&self, out: &mut [u8]) {
        match self {
            Caller::Bytes(bytes) => {
                let n = out.len().min(bytes.len());
                out[..n].copy_from_slice(&bytes[..n]);
            }
            Caller::Memory(memory) => {
                memory.read(0, out);
            }
        }
    }

    /// The memory a driver reaches directly (direct and neither I/O).
    fn into_memory(self) -> UserMemory {
        match self {
            Caller::Bytes(bytes) => lookaside::take_memory(bytes),
            Caller::Memory(memory) => memory,
        }
    }

    fn output(self) -> Output {
        match self {
            Caller::Bytes(_) => Output::Kept,
            Caller::Memory(memory) => Output::Memory(memory),
        }
    }
}

/// Where a buffered request's output goes when it finishes.
#[derive(Debug, Default)]
pub(crate) enum Output {
    #[default]
    None,
    /// Into caller memory, at completion.
    Memory(UserMemory),
    /// Kept in the request for the synchronous caller.
    Kept,
}

/// The buffers an IRP carries and where its output goes.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pub system: Option<Vec<u8>>,
    pub mdl: Option<Mdl>,
    pub user: Option<UserMemory>,
    pub type3_input: Option<UserMemory>,
    pub output: Output,
    /// The output part of the system buffer, for a request whose output
    /// the I/O manager copies back (a buffered read, METHOD_BUFFERED).
    pub output_length: Option<usize>,
}

/// A system buffer of `length` bytes holding the first bytes of `input`.
fn system_buffer(length: usize, input: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut buffer = lookaside::take_buffer(length);
    input(&mut buffer);
    buffer
}

impl Buffers {
    /// A read (into `caller`) or write (from `caller`) of `length` bytes on
    /// a device, by its flags (book l.4411–4426). A zero-length buffered
    /// request has no system buffer.
    pub(crate) fn read_write(
        device: &DeviceObject,
        caller: Caller<'_>,
        length: usize,
        read: bool,
    ) -> Buffers {
        let flags = device.flags();
        if flags & DO_BUFFERED_IO != 0 {
            if length == 0 {
                return Buffers::default();
            }
            if read {
                let system = lookaside::take_buffer(length);
                return Buffers {
                    system: Some(system),
                    output: caller.output(),
                    output_length: Some(length),
                    ..Buffers::default()
                };
            }
            let system = system_buffer(length, |b| caller.read(b));
            return Buffers { system: Some(system), ..Buffers::default() };
        }
        if flags & DO_DIRECT_IO != 0 {
            let mdl = (length > 0).then(|| Mdl::new(caller.into_memory()));
            return Buffers { mdl, ..Buffers::default() };
        }
        Buffers { user: Some(caller.into_memory()), ..Buffers::default() }
    }

    /// A device I/O control request, by the code's transfer method
    /// (book l.4428–4438). `output` is `None` for a zero-length output.
    pub(crate) fn device_control(
        code: u32,
        input: &[u8],
        output: Option<Caller<'_>>,
        output_length: usize,
    ) -> Buffers {
        let copy_input = |b: &mut [u8]| b[..input.len()].copy_from_slice(input);
        match method_of(code) {
            TransferMethod::Buffered => {
                let size = input.len().max(output_length);
                Buffers {
                    system: (size > 0).then(|| system_buffer(size, copy_input)),
                    output: output.map_or(Output::None, Caller::output),
                    output_length: Some(output_length),
                    ..Buffers::default()
                }
            }
            TransferMethod::InDirect | TransferMethod::OutDirect => Buffers {
                system: (!input.is_empty()).then(|| system_buffer(input.len(), copy_input)),
                mdl: output.filter(|_| output_length > 0).map(|c| Mdl::new(c.into_memory())),
                ..Buffers::default()
            },
            TransferMethod::Neither => Buffers {
                type3_input: (!input.is_empty()).then(|| UserMemory::new(input.to_vec())),
                user: output.map(Caller::into_memory),
                ..Buffers::default()
            },
        }
    }

    /// The caller memory the driver writes directly (direct and neither
    /// I/O), which a synchronous caller copies back from after the call.
    pub(crate) fn direct_memory(&self) -> Option<UserMemory> {
        self.mdl.as_ref().map(get_system_address_for_mdl_safe).or_else(|| self.user.clone())
    }
}

/// How a request ended, as the I/O manager saw it at the top of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Done {
    pub io_status: IoStatusBlock,
    pub pending_returned: bool,
}

/// Who waits for a request, and how.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// A synchronous caller: waits only after STATUS_PENDING, which
    /// requires the IRP marked pending, so the event is set only then.
    Synchronous,
    /// An overlapped caller, which may cancel the request (CancelIo).
    Overlapped,
    /// A driver's IoBuild…Request, with the driver's event.
    Event(Event),
    /// PoRequestPowerIrp: the power manager calls back when it finishes.
    Callback(Callback),
}

/// What the I/O manager calls with the final status block of a request
/// whose sender asked to be called back.
pub(crate) struct Callback(pub Box<dyn FnOnce(IoStatusBlock) + Send>);

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Callback")
    }
}

/// A request the I/O manager finishes.
///
/// A synchronous request's I/O path takes no lock and makes no reference
/// count check beyond its one clone into the IRP: a kept request is left
/// ready for the next synchronous call, a small output travels in two
/// words, and the outcome in two more.
pub(crate) struct Request {
    synchronous: bool,
    output: Output,
    /// Made on first use: most synchronous requests never need one.
    event: OnceLock<Event>,
    /// How the request ended, read without a lock: the status, the
    /// PENDING_RETURNED, FINISHED, HANDED and SMALL bits and the small
    /// output's length. Stored once, after `information` and `small`, with
    /// Release: a reader that sees FINISHED sees them.
    outcome: AtomicU64,
    /// IoStatus.Information of the finished request.
    information: AtomicUsize,
    /// The output length the I/O manager copies back at most, for the
    /// verifier ([`NO_OUTPUT_LIMIT`] if it copies nothing back).
    output_limit: AtomicUsize,
    /// A kept output of up to [`SMALL_MAX`] bytes (a 4-byte read, an IOCTL
    /// returning a ULONG), little-endian.
    small: [AtomicU64; 2],
    /// What finishing hands the caller otherwise.
    handed: Mutex<Handed>,
    /// An overlapped caller's future, woken when the request finishes.
    waker: Mutex<Option<Waker>>,
    /// Called once when the request finishes.
    callback: Mutex<Option<Callback>>,
    /// `callback` was given (read without its lock on the I/O path).
    calls_back: bool,
    /// The request's IRP, for CancelIo.
    irp: Option<IrpCancelHandle>,
}

/// `Request::outcome` bits above the status.
const PENDING_RETURNED: u64 = 1 << 32;
const FINISHED: u64 = 1 << 33;
/// `handed` holds something.
const HANDED: u64 = 1 << 34;
/// The kept output is in `small`; its length is at [`SMALL_SHIFT`].
const SMALL: u64 = 1 << 35;
const SMALL_SHIFT: u32 = 40;
/// The most bytes a kept output carries in `Request::small`.
const SMALL_MAX: usize = 16;
/// `Request::output_limit` of a request with no buffered output.
const NO_OUTPUT_LIMIT: usize = usize::MAX;

/// What a finished request hands its caller.
#[derive(Default)]
struct Handed {
    /// The buffered output kept for a synchronous caller.
    kept: Option<Vec<u8>>,
    /// A PnP query's answer.
    pnp: Option<Box<PnpInformation>>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request").field("done", &self.done()).finish_non_exhaustive()
    }
}

impl Request {
    /// Builds a request and its IRP for `device` (the top of its stack),
    /// both from the lookaside lists when they have one.
    pub(crate) fn build(
        device: &DeviceObject,
        major: u8,
        minor: u8,
        parameters: Parameters,
        buffers: Buffers,
        waiter: Waiter,
    ) -> (Arc<Request>, Irp) {
        let Buffers { system, mdl, user, type3_input, output, output_length } = buffers;
        let (kept_irp, kept_request) = lookaside::take_irp_and_request();
        let mut irp = Irp::from_body(kept_irp, device.stack_size(), Origin::Driver);
        let mut callback = None;
        let (synchronous, event, irp_handle) = match waiter {
            Waiter::Synchronous => (true, OnceLock::new(), None),
            Waiter::Overlapped => (false, OnceLock::new(), Some(irp.cancel_handle())),
            Waiter::Event(event) => (false, OnceLock::from(event), None),
            Waiter::Callback(call) => {
                callback = Some(call);
                (false, OnceLock::new(), None)
            }
        };
        let fresh = |output, event, callback: Option<Callback>, irp| Request {
            synchronous,
            output,
            event,
            outcome: AtomicU64::new(0),
            information: AtomicUsize::new(0),
            output_limit: AtomicUsize::new(NO_OUTPUT_LIMIT),
            small: [AtomicU64::new(0), AtomicU64::new(0)],
            handed: Mutex::new(Handed::default()),
            waker: Mutex::new(None),
            calls_back: callback.is_some(),
            callback: Mutex::new(callback),
            irp,
        };
        let request = match kept_request {
            // `conclude` left a kept request cleared and as its last call
            // had it: another synchronous call of the same kind takes it
            // as it is.
            Some(kept)
                if synchronous
                    && kept.synchronous
                    && matches!(
                        (&kept.output, &output),
                        (Output::Kept, Output::Kept) | (Output::None, Output::None)
                    ) =>
            {
                kept
            }
            // Otherwise set only what differs, in place (the I/O path moves
            // no whole Request).
            Some(mut kept) => match Arc::get_mut(&mut kept) {
                Some(slot) => {
                    slot.synchronous = synchronous;
                    slot.output = output;
                    slot.event = event;
                    slot.calls_back = callback.is_some();
                    *slot.callback.get_mut() = callback;
                    slot.irp = irp_handle;
                    kept
                }
                None => Arc::new(fresh(output, event, callback, irp_handle)),
            },
            None => Arc::new(fresh(output, event, callback, irp_handle)),
        };
        request.output_limit.store(output_length.unwrap_or(NO_OUTPUT_LIMIT), Ordering::Relaxed);
        irp.inner.origin = Origin::Request(request.clone());
        let parameters = match parameters {
            Parameters::DeviceIoControl {
                output_buffer_length,
                input_buffer_length,
                io_control_code,
                ..
            } => Parameters::DeviceIoControl {
                output_buffer_length,
                input_buffer_length,
                io_control_code,
                type3_input_buffer: type3_input,
            },
            other => other,
        };
        irp.set_buffers(system, mdl, user);
        let location = irp.next_stack_location_mut();
        location.major_function = major;
        location.minor_function = minor;
        location.set_parameters(parameters);
        (request, irp)
    }

    /// The event set when the request finishes (made on first use).
    pub(crate) fn event(&self) -> &Event {
        self.event.get_or_init(|| Event::new(EventType::NotificationEvent, false))
    }

    #[inline]
    pub(crate) fn done(&self) -> Option<Done> {
        let outcome = self.outcome.load(Ordering::Acquire);
        (outcome & FINISHED != 0).then(|| Done {
            io_status: IoStatusBlock {
                status: NtStatus(outcome as u32),
                information: self.information.load(Ordering::Relaxed),
            },
            pending_returned: outcome & PENDING_RETURNED != 0,
        })
    }

    /// The answer of a finished PnP query.
    pub(crate) fn pnp_information(&self) -> Option<PnpInformation> {
        self.handed.lock().pnp.as_deref().cloned()
    }

    /// IoCancelIrp on the request's IRP, if it has not finished.
    pub(crate) fn cancel(&self) -> bool {
        match (self.done(), &self.irp) {
            (None, Some(irp)) => super::cancel::cancel_irp(irp),
            _ => false,
        }
    }

    /// The request's IRP, as reports name it.
    pub(crate) fn describe(&self) -> String {
        match &self.irp {
            Some(irp) => format!("IRP {}", irp.number()),
            None => "a request".to_string(),
        }
    }

    pub(crate) fn set_waker(&self, waker: &Waker) {
        *self.waker.lock() = Some(waker.clone());
    }

    /// Completion reached the top of the stack.
    pub(crate) fn finish(&self, irp: &mut Irp) {
        let io_status = irp.io_status();
        let pending_returned = irp.pending_returned();
        let mut outcome = u64::from(io_status.status.0) | FINISHED;
        if pending_returned {
            outcome |= PENDING_RETURNED;
        }
        let mut kept = None;
        if !io_status.status.is_error() {
            let limit = self.output_limit.load(Ordering::Relaxed);
            if io_status.information > limit {
                information_beyond_output(irp.number(), io_status.information, limit);
            }
            match &self.output {
                Output::None => {}
                Output::Memory(out) => {
                    if let Some(system) = irp.system_buffer() {
                        out.write(0, &system[..io_status.information.min(system.len())]);
                    }
                }
                Output::Kept => {
                    let system = irp.system_buffer().unwrap_or_default();
                    let n = io_status.information.min(system.len());
                    if n <= SMALL_MAX {
                        outcome |= self.keep_small(&system[..n]);
                    } else {
                        kept = irp.take_system_buffer().map(|mut system| {
                            system.truncate(n);
                            system
                        });
                    }
                }
            }
        }
        let pnp = irp.take_pnp_information();
        if kept.is_some() || pnp.is_some() {
            *self.handed.lock() = Handed { kept, pnp };
            outcome |= HANDED;
        }
        // Completion reaches the top once.
        self.information.store(io_status.information, Ordering::Relaxed);
        self.outcome.store(outcome, Ordering::Release);
        let signal = if self.synchronous {
            pending_returned
        } else {
            pending_returned || !io_status.status.is_error()
        };
        if signal {
            crate::ke::set_event(self.event(), 0, false);
            // Take the waker out before waking: waking switches to the
            // waiting thread, which must find this lock free.
            let waker = self.waker.lock().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        if self.calls_back {
            let callback = self.callback.lock().take();
            if let Some(Callback(call)) = callback {
                call(io_status);
            }
        }
    }

    /// Keeps `output` (at most [`SMALL_MAX`] bytes) in `small`; returns the
    /// outcome bits that say so.
    fn keep_small(&self, output: &[u8]) -> u64 {
        let mut bytes = [0u8; SMALL_MAX];
        bytes[..output.len()].copy_from_slice(output);
        for (word, chunk) in self.small.iter().zip(bytes.chunks_exact(8)) {
            word.store(u64::from_le_bytes(std::array::from_fn(|i| chunk[i])), Ordering::Relaxed);
        }
        SMALL | ((output.len() as u64) << SMALL_SHIFT)
    }

    /// Copies the output `keep_small` kept into `out`, as far as it goes.
    fn copy_small(&self, outcome: u64, out: &mut [u8]) {
        let words = self.small.each_ref().map(|w| w.load(Ordering::Relaxed).to_le_bytes());
        let bytes = words.as_flattened();
        let n = ((outcome >> SMALL_SHIFT) as usize).min(SMALL_MAX).min(out.len());
        out[..n].copy_from_slice(&bytes[..n]);
    }

    /// A finished request its caller is done with goes back to the
    /// lookaside list, if nothing else refers to it.
    pub(crate) fn recycle(self: Arc<Self>) {
        self.conclude(&mut []);
    }

    /// A synchronous caller's end of a finished request: the kept buffered
    /// output copied into `out`, and the request recycled if nothing else
    /// refers to it.
    pub(crate) fn conclude(mut self: Arc<Self>, out: &mut [u8]) {
        let outcome = self.outcome.load(Ordering::Acquire);
        if outcome & SMALL != 0 {
            self.copy_small(outcome, out);
        }
        // The I/O path: nothing handed, nothing to clear, and ours alone
        // (no weak references are ever made), which a count load shows
        // without the atomic exchange of `Arc::get_mut`.
        let clean = outcome & HANDED == 0
            && self.synchronous
            && self.irp.is_none()
            && !self.calls_back
            && self.event.get().is_none()
            && !matches!(self.output, Output::Memory(_));
        if clean && Arc::strong_count(&self) == 1 {
            // Whoever held the other reference let go before we saw the count.
            fence(Ordering::Acquire);
            self.outcome.store(0, Ordering::Relaxed);
            return lookaside::give_request(self, None);
        }
        let copy = |kept: &Option<Vec<u8>>, out: &mut [u8]| {
            if let Some(kept) = kept {
                let n = kept.len().min(out.len());
                out[..n].copy_from_slice(&kept[..n]);
            }
        };
        let Some(request) = Arc::get_mut(&mut self) else {
            copy(&self.handed.lock().kept, out);
            return;
        };
        let Handed { kept, pnp } = std::mem::take(request.handed.get_mut());
        copy(&kept, out);
        drop(pnp);
        *request.outcome.get_mut() = 0;
        if let Output::Memory(_) = request.output {
            request.output = Output::None;
        }
        request.event = OnceLock::new();
        request.irp = None;
        *request.waker.get_mut() = None;
        request.calls_back = false;
        *request.callback.get_mut() = None;
        lookaside::give_request(self, kept);
    }
}

/// A buffered request's driver claimed more output than the caller's buffer
/// holds: Windows would copy past it; here the copy stops at the buffer
/// and, under I/O verification, the machine stops (spec V32).
#[cold]
fn information_beyond_output(number: u32, information: usize, limit: usize) {
    let args = [u64::from(number), information as u64, limit as u64];
    verifier::io_violation(Rule::InformationBeyondOutput, args, || {
        format!(
            "IRP {number} completed with IoStatus.Information {information}, larger than its \
             {limit}-byte output buffer"
        )
    });
}
