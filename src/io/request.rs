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

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::task::Waker;

use super::buffer::{Mdl, UserMemory};
use super::cancel::IrpCancelHandle;
use super::ctl_code::{TransferMethod, method_of};
use super::device::{DO_BUFFERED_IO, DO_DIRECT_IO, DeviceObject};
use super::irp::{IoStatusBlock, Irp, Origin, Parameters};
use crate::ke::{Event, EventType};
use crate::sync::Mutex;

/// The buffers an IRP carries and what goes back to the caller.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pub system: Option<Vec<u8>>,
    pub mdl: Option<Mdl>,
    pub user: Option<UserMemory>,
    pub type3_input: Option<UserMemory>,
    /// Where a buffered request's output is copied at completion.
    pub copy_back: Option<UserMemory>,
}

impl Buffers {
    /// A read (`output`) or write (`input`) on a device, by its flags
    /// (book l.4411–4426). A zero-length buffered request has no system
    /// buffer.
    pub(crate) fn read_write(
        device: &DeviceObject,
        memory: UserMemory,
        length: usize,
        read: bool,
    ) -> Buffers {
        let flags = device.flags();
        if flags & DO_BUFFERED_IO != 0 {
            if length == 0 {
                return Buffers::default();
            }
            let system = if read {
                vec![0; length]
            } else {
                let mut data = vec![0; length];
                memory.read(0, &mut data);
                data
            };
            return Buffers {
                system: Some(system),
                copy_back: read.then_some(memory),
                ..Buffers::default()
            };
        }
        if flags & DO_DIRECT_IO != 0 {
            return Buffers { mdl: (length > 0).then(|| Mdl::new(memory)), ..Buffers::default() };
        }
        Buffers { user: Some(memory), ..Buffers::default() }
    }

    /// A device I/O control request, by the code's transfer method
    /// (book l.4428–4438).
    pub(crate) fn device_control(
        code: u32,
        input: &[u8],
        output: Option<UserMemory>,
        output_length: usize,
    ) -> Buffers {
        match method_of(code) {
            TransferMethod::Buffered => {
                let size = input.len().max(output_length);
                let system = (size > 0).then(|| {
                    let mut data = vec![0; size];
                    data[..input.len()].copy_from_slice(input);
                    data
                });
                Buffers { system, copy_back: output, ..Buffers::default() }
            }
            TransferMethod::InDirect | TransferMethod::OutDirect => Buffers {
                system: (!input.is_empty()).then(|| input.to_vec()),
                mdl: output.filter(|_| output_length > 0).map(Mdl::new),
                ..Buffers::default()
            },
            TransferMethod::Neither => Buffers {
                type3_input: (!input.is_empty()).then(|| UserMemory::new(input.to_vec())),
                user: output,
                ..Buffers::default()
            },
        }
    }
}

/// How a request ended, as the I/O manager saw it at the top of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Done {
    pub io_status: IoStatusBlock,
    pub pending_returned: bool,
}

/// A request the I/O manager finishes.
pub(crate) struct Request {
    /// A synchronous caller waits on the event only after STATUS_PENDING,
    /// which requires the IRP marked pending: for a request not marked
    /// pending the event is not set, saving the dispatcher lock.
    synchronous: bool,
    copy_back: Option<UserMemory>,
    event: Event,
    done: Mutex<Option<Done>>,
    waker: Mutex<Option<Waker>>,
    /// The request's IRP, for CancelIo.
    irp: OnceLock<IrpCancelHandle>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request").field("done", &*self.done.lock()).finish_non_exhaustive()
    }
}

impl Request {
    pub(crate) fn new(copy_back: Option<UserMemory>, event: Event) -> Arc<Request> {
        Arc::new(Request {
            synchronous: false,
            copy_back,
            event,
            done: Mutex::new(None),
            waker: Mutex::new(None),
            irp: OnceLock::new(),
        })
    }

    /// A request signaling a fresh notification event; `synchronous` for a
    /// caller that waits only after STATUS_PENDING.
    pub(crate) fn with_own_event(copy_back: Option<UserMemory>, synchronous: bool) -> Arc<Request> {
        Arc::new(Request {
            synchronous,
            copy_back,
            event: Event::new(EventType::NotificationEvent, false),
            done: Mutex::new(None),
            waker: Mutex::new(None),
            irp: OnceLock::new(),
        })
    }

    pub(crate) fn event(&self) -> &Event {
        &self.event
    }

    pub(crate) fn done(&self) -> Option<Done> {
        *self.done.lock()
    }

    /// IoCancelIrp on the request's IRP, if it has not finished.
    pub(crate) fn cancel(&self) -> bool {
        match (self.done(), self.irp.get()) {
            (None, Some(irp)) => super::cancel::cancel_irp(irp),
            _ => false,
        }
    }

    pub(crate) fn set_waker(&self, waker: &Waker) {
        *self.waker.lock() = Some(waker.clone());
    }

    /// Builds the IRP for this request on `device` (the top of its stack).
    pub(crate) fn irp(
        self: &Arc<Self>,
        device: &DeviceObject,
        major: u8,
        minor: u8,
        parameters: Parameters,
        buffers: Buffers,
    ) -> Irp {
        let mut irp = Irp::new(device.stack_size(), Origin::Request(self.clone()));
        let _ = self.irp.set(irp.cancel_handle());
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
                type3_input_buffer: buffers.type3_input,
            },
            other => other,
        };
        irp.set_buffers(buffers.system, buffers.mdl, buffers.user);
        let location = irp.next_stack_location_mut();
        location.major_function = major;
        location.minor_function = minor;
        location.parameters = parameters;
        irp
    }

    /// Completion reached the top of the stack.
    pub(crate) fn finish(&self, irp: &mut Irp) {
        let io_status = irp.io_status();
        let pending_returned = irp.pending_returned();
        if !io_status.status.is_error()
            && let (Some(out), Some(system)) = (&self.copy_back, irp.take_system_buffer())
        {
            let n = io_status.information.min(system.len());
            out.write(0, &system[..n]);
        }
        *self.done.lock() = Some(Done { io_status, pending_returned });
        let signal = if self.synchronous {
            pending_returned
        } else {
            pending_returned || !io_status.status.is_error()
        };
        if signal {
            crate::ke::set_event(&self.event, 0, false);
            // Take the waker out before waking: waking switches to the
            // waiting thread, which must find this lock free.
            let waker = self.waker.lock().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}
