//! Overlapped I/O: ReadFile, WriteFile and DeviceIoControl on a handle
//! opened with FILE_FLAG_OVERLAPPED, as futures.
//!
//! The call returns what the driver's dispatch routine returned, verbatim
//! (STATUS_PENDING included). Completion, later or already, is seen through
//! the [`Overlapped`]: its event is set and its status block written only if
//! the IRP was marked pending or its status is not an error (Windows' rule;
//! a request failed without pending behaves like a synchronous failure).
//! An `Overlapped` is a `Future`; in a simulation [`block_on`] drives one
//! from a simulated thread, and GetOverlappedResult waits on its event.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::error::{ERROR_IO_INCOMPLETE, fail, set_last_error};
use super::handle::{Handle, Open, lookup};
use super::io::send;
use crate::io::codes::{IRP_MJ_DEVICE_CONTROL, IRP_MJ_READ, IRP_MJ_WRITE};
use crate::io::irp::{IoStatusBlock, Parameters};
use crate::io::request::{Buffers, Caller, Request};
use crate::io::{DeviceObject, UserMemory};
use crate::ke::{Event, EventType, Interval, read_state_event, set_event, wait_for_single_object};
use crate::status::{
    NtStatus, STATUS_INVALID_PARAMETER, STATUS_NO_SUCH_DEVICE, STATUS_PENDING, STATUS_TIMEOUT,
};

/// An overlapped request in flight or finished.
#[derive(Debug)]
pub struct Overlapped {
    returned: NtStatus,
    request: Option<Arc<Request>>,
    memory: Option<UserMemory>,
}

impl Overlapped {
    fn failed(status: NtStatus) -> Overlapped {
        Overlapped { returned: status, request: None, memory: None }
    }

    /// What the Nt…File call returned: the dispatch routine's status.
    pub fn status(&self) -> NtStatus {
        self.returned
    }

    /// HasOverlappedIoCompleted: the request's event is set.
    pub fn is_complete(&self) -> bool {
        self.request.as_ref().is_some_and(|r| read_state_event(r.event()))
    }

    /// The status block, once written.
    pub fn io_status(&self) -> Option<IoStatusBlock> {
        let done = self.request.as_ref()?.done()?;
        (done.pending_returned || !done.io_status.status.is_error()).then_some(done.io_status)
    }

    /// The caller's buffer as it is now.
    pub fn buffer(&self) -> Vec<u8> {
        self.memory.as_ref().map(UserMemory::to_vec).unwrap_or_default()
    }

    /// The Win32 result of the starting call: TRUE if it completed with
    /// success, else FALSE with ERROR_IO_PENDING or the failure's error.
    pub fn started(&self) -> bool {
        self.returned.is_success() && self.returned != STATUS_PENDING || fail(self.returned)
    }
}

impl Future for Overlapped {
    type Output = Option<IoStatusBlock>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(request) = &self.request else { return Poll::Ready(None) };
        request.set_waker(cx.waker());
        if self.is_complete() || (self.returned != STATUS_PENDING && self.io_status().is_none()) {
            return Poll::Ready(self.io_status());
        }
        Poll::Pending
    }
}

/// GetOverlappedResult: the byte count of a finished request; with `wait`,
/// blocks the thread until it finishes. ERROR_IO_INCOMPLETE if it has not
/// finished and `wait` is false.
pub fn get_overlapped_result(overlapped: &Overlapped, bytes: &mut u32, wait: bool) -> bool {
    let Some(request) = &overlapped.request else { return fail(overlapped.returned) };
    if wait && overlapped.returned == STATUS_PENDING {
        wait_for_single_object(request.event(), None);
    }
    match overlapped.io_status() {
        Some(iosb) => {
            *bytes = iosb.information as u32;
            iosb.status.is_success() || fail(iosb.status)
        }
        None if overlapped.returned == STATUS_PENDING => {
            set_last_error(ERROR_IO_INCOMPLETE);
            false
        }
        None => fail(overlapped.returned),
    }
}

/// WaitForSingleObject's result: the object was signaled.
pub const WAIT_OBJECT_0: u32 = 0;
/// WaitForSingleObject's result: the time-out elapsed first.
pub const WAIT_TIMEOUT: u32 = 0x102;
/// WaitForSingleObject's result: it could not wait.
pub const WAIT_FAILED: u32 = 0xFFFF_FFFF;

/// WaitForSingleObject on the OVERLAPPED's event for at most
/// `milliseconds` (the Monitor's 100 ms slices, book l.9965): WAIT_OBJECT_0
/// once the request finished, WAIT_TIMEOUT if it has not. WAIT_FAILED with
/// ERROR_INVALID_HANDLE for a request that never started.
pub fn wait_for_overlapped(overlapped: &Overlapped, milliseconds: u32) -> u32 {
    let Some(request) = &overlapped.request else {
        set_last_error(super::error::ERROR_INVALID_HANDLE);
        return WAIT_FAILED;
    };
    let timeout = Interval::relative_ms(u64::from(milliseconds));
    match wait_for_single_object(request.event(), Some(timeout)) {
        STATUS_TIMEOUT => WAIT_TIMEOUT,
        _ => WAIT_OBJECT_0,
    }
}

fn overlapped_file(handle: Handle) -> Result<Open, NtStatus> {
    match lookup(handle)? {
        open if open.overlapped => Ok(open),
        _ => Err(STATUS_INVALID_PARAMETER),
    }
}

fn start(
    handle: Handle,
    major: u8,
    parameters: Parameters,
    buffers: impl FnOnce(&DeviceObject) -> Buffers,
    memory: UserMemory,
) -> Overlapped {
    let Open { file, top, .. } = match overlapped_file(handle) {
        Ok(open) => open,
        Err(status) => return Overlapped::failed(status),
    };
    if top.is_deleted() {
        return Overlapped::failed(STATUS_NO_SUCH_DEVICE);
    }
    let (returned, request) = send(file, &top, major, parameters, buffers(&top));
    if returned == STATUS_PENDING {
        super::handle::add_pending(handle, request.clone(), crate::ps::current_thread_key());
    }
    Overlapped { returned, request: Some(request), memory: Some(memory) }
}

/// CancelIo: cancels the calling thread's overlapped requests in flight on
/// `handle` (a request from another thread is left alone, book l.9965).
/// The driver's cancel routines complete them, typically with
/// STATUS_CANCELLED (ERROR_OPERATION_ABORTED).
pub fn cancel_io(handle: Handle) -> bool {
    match super::handle::pending_of(handle, crate::ps::current_thread_key()) {
        Ok(requests) => {
            for request in requests {
                request.cancel();
            }
            true
        }
        Err(status) => fail(status),
    }
}

/// ReadFile with an OVERLAPPED: `length` bytes at `offset`.
pub fn read_file_overlapped(handle: Handle, length: u32, offset: i64) -> Overlapped {
    let memory = UserMemory::zeroed(length as usize);
    let caller = Caller::Memory(memory.clone());
    start(
        handle,
        IRP_MJ_READ,
        Parameters::Read { length, key: 0, byte_offset: offset },
        |top| Buffers::read_write(top, caller, length as usize, true),
        memory,
    )
}

/// WriteFile with an OVERLAPPED: `data` at `offset`.
pub fn write_file_overlapped(handle: Handle, data: &[u8], offset: i64) -> Overlapped {
    let memory = UserMemory::new(data.to_vec());
    let caller = Caller::Memory(memory.clone());
    let length = data.len() as u32;
    start(
        handle,
        IRP_MJ_WRITE,
        Parameters::Write { length, key: 0, byte_offset: offset },
        |top| Buffers::read_write(top, caller, length as usize, false),
        memory,
    )
}

/// DeviceIoControl with an OVERLAPPED: `output` is the caller's buffer
/// (its length is the output length).
pub fn device_io_control_overlapped(
    handle: Handle,
    io_control_code: u32,
    input: &[u8],
    output: Vec<u8>,
) -> Overlapped {
    let output_length = output.len() as u32;
    let memory = UserMemory::new(output);
    let out = (output_length > 0).then(|| Caller::Memory(memory.clone()));
    start(
        handle,
        IRP_MJ_DEVICE_CONTROL,
        Parameters::DeviceIoControl {
            output_buffer_length: output_length,
            input_buffer_length: input.len() as u32,
            io_control_code,
            type3_input_buffer: None,
        },
        |_| Buffers::device_control(io_control_code, input, out, output_length as usize),
        memory,
    )
}

/// Wakes a simulated thread blocked in [`block_on`].
struct EventWaker(Event);

impl Wake for EventWaker {
    fn wake(self: Arc<Self>) {
        set_event(&self.0, 0, false);
    }
}

/// Runs a future to completion on the calling simulated (or threaded)
/// thread, sleeping on a kernel event while it is pending.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let event = Event::new(EventType::SynchronizationEvent, false);
    let waker = Waker::from(Arc::new(EventWaker(event.clone())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        wait_for_single_object(&event, None);
    }
}
