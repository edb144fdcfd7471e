//! A three-deep device stack (upper filter → FDO → PDO) for IRP
//! benchmarks: the upper two layers copy their stack location to the next
//! and set a completion routine; the PDO copies 4 bytes under a spin lock
//! and completes. The sender allocates each IRP (IoAllocateIrp), gets it
//! back in its own completion routine and frees it (IoFreeIrp).
//!
//! Several senders can share one stack ([`Stack3::sender`]) and several
//! stacks one driver ([`Stack3::load`], [`Stack3::on`]): the scaling
//! benchmark's separate and shared devices. A holding stack
//! ([`Stack3::holding`]) keeps every read pending at the PDO, for
//! measuring what an IRP in flight holds.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use crate::ddk::*;
use crate::io;
use crate::sync::Mutex;

/// A layer's device extension: the device below, if any, the PDO's data,
/// and the IRPs a holding PDO keeps pending.
#[derive(Default)]
struct Layer {
    lower: OnceLock<DeviceObject>,
    data: OnceLock<SpinLock<[u8; 4]>>,
    held: Mutex<Vec<Irp>>,
}

fn stack_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_READ as usize] = Some(layer_read);
    STATUS_SUCCESS
}

fn holding_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_READ as usize] = Some(holding_read);
    STATUS_SUCCESS
}

/// Dispatch for IRP_MJ_READ in a holding stack: the upper layers as in
/// [`layer_read`]; the PDO marks the IRP pending and keeps it.
fn holding_read(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let layer = device.extension::<Layer>();
    if layer.lower.get().is_some() {
        return layer_read(device, irp);
    }
    io_mark_irp_pending(&mut irp);
    layer.held.lock().push(irp);
    STATUS_PENDING
}

/// Dispatch for IRP_MJ_READ at every layer.
fn layer_read(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let layer = device.extension::<Layer>();
    if let Some(lower) = layer.lower.get() {
        io_copy_current_irp_stack_location_to_next(&mut irp);
        io_set_completion_routine(&mut irp, layer_completed, None, true, true, true);
        return io_call_driver(lower, irp);
    }
    let mut count = 0;
    if let (Some(data), Some(buffer)) = (layer.data.get(), irp.system_buffer_mut()) {
        let data = data.acquire();
        count = data.len().min(buffer.len());
        buffer[..count].copy_from_slice(&data[..count]);
    }
    *irp.io_status_mut() = IoStatusBlock { status: STATUS_SUCCESS, information: count };
    io_complete_request(irp, IO_NO_INCREMENT);
    STATUS_SUCCESS
}

/// A layer's completion routine: passes the pending mark up (book
/// l.5545) and lets completion go on.
fn layer_completed(
    _device: Option<&DeviceObject>,
    mut irp: Irp,
    _: &CompletionContext,
) -> Completion {
    if irp.pending_returned() {
        io_mark_irp_pending(&mut irp);
    }
    Completion::Continue(irp)
}

/// Where the sender's completion routine leaves the IRP.
#[derive(Debug, Default)]
struct Returned(Mutex<Option<Irp>>);

fn sender_completed(
    _device: Option<&DeviceObject>,
    irp: Irp,
    context: &CompletionContext,
) -> Completion {
    if let Some(returned) = context.as_ref().and_then(|c| c.downcast_ref::<Returned>()) {
        *returned.0.lock() = Some(irp);
    }
    Completion::MoreProcessingRequired
}

thread_local! {
    /// Where [`here_completed`] leaves the IRP: on the sender's own thread,
    /// which is where this stack completes every read.
    static RETURNED_HERE: RefCell<Option<Irp>> = const { RefCell::new(None) };
}

/// The completion routine of [`Stack3::read_here`]: no context, no lock.
fn here_completed(_device: Option<&DeviceObject>, irp: Irp, _: &CompletionContext) -> Completion {
    let mut irp = Some(irp);
    let _ = RETURNED_HERE.try_with(|slot| *slot.borrow_mut() = irp.take());
    // Only during thread teardown: nobody is waiting for it.
    if let Some(irp) = irp {
        io_free_irp(irp);
    }
    Completion::MoreProcessingRequired
}

/// How many IRPs a holding stack's PDO has room for before its list grows.
pub const HOLD_MAX: usize = 4096;

/// A held IRP's sender: frees the IRP when it comes back.
fn held_completed(_device: Option<&DeviceObject>, irp: Irp, _: &CompletionContext) -> Completion {
    io_free_irp(irp);
    Completion::MoreProcessingRequired
}

/// The stack and what the sender keeps between IRPs.
#[derive(Debug)]
pub struct Stack3 {
    top: DeviceObject,
    pdo: DeviceObject,
    returned: Arc<Returned>,
    context: CompletionContext,
    buffer: Option<Vec<u8>>,
}

impl Stack3 {
    /// Loads the driver and builds the stack; the PDO holds `[1, 2, 3, 4]`.
    pub fn new() -> Result<Stack3, NtStatus> {
        Stack3::on(&Stack3::load()?)
    }

    /// Loads the driver, to build stacks [`Stack3::on`] it.
    pub fn load() -> Result<Driver, NtStatus> {
        io::load_driver("Stack3", stack_entry)
    }

    /// A stack whose PDO keeps every read pending until
    /// [`Stack3::complete_held`].
    /// Room for [`HOLD_MAX`] IRPs is made first, so holding one allocates
    /// nothing in the driver (as NT drivers queue IRPs through the list
    /// entry inside the IRP).
    pub fn holding() -> Result<Stack3, NtStatus> {
        let stack = Stack3::on(&io::load_driver("Stack3Hold", holding_entry)?)?;
        stack.pdo.extension::<Layer>().held.lock().reserve(HOLD_MAX);
        Ok(stack)
    }

    /// Builds a stack of three new devices of `driver`.
    pub fn on(driver: &Driver) -> Result<Stack3, NtStatus> {
        let create =
            || io_create_device(driver, Layer::default(), None, FILE_DEVICE_UNKNOWN, 0, false);
        let (pdo, fdo, filter) = (create()?, create()?, create()?);
        let _ = pdo.extension::<Layer>().data.set(SpinLock::named("data", [1, 2, 3, 4]));
        for (upper, lower) in [(&fdo, &pdo), (&filter, &fdo)] {
            let below =
                io_attach_device_to_device_stack(upper, lower).ok_or(STATUS_NO_SUCH_DEVICE)?;
            let _ = upper.extension::<Layer>().lower.set(below);
        }
        for device in [&pdo, &fdo, &filter] {
            device.set_flags(DO_BUFFERED_IO);
            device.clear_flags(DO_DEVICE_INITIALIZING);
        }
        Ok(Stack3::sending_to(filter, pdo))
    }

    fn sending_to(top: DeviceObject, pdo: DeviceObject) -> Stack3 {
        let returned = Arc::new(Returned::default());
        let context: CompletionContext = Some(returned.clone());
        Stack3 { top, pdo, returned, context, buffer: Some(vec![0; 4]) }
    }

    /// Another sender on the same three devices, with its own buffer.
    pub fn sender(&self) -> Stack3 {
        Stack3::sending_to(self.top.clone(), self.pdo.clone())
    }

    /// One synchronous 4-byte read through the three layers; returns the
    /// bytes read. The sender's routine hands the IRP back through a slot
    /// in its context, so completion may run on any thread.
    pub fn read(&mut self) -> usize {
        let context = self.context.clone();
        self.read_with(sender_completed, context, |stack| stack.returned.0.lock().take())
    }

    /// The same read with the IRP handed back through a thread-local slot
    /// and no context: what the I/O path costs without the sender's own
    /// hand-off (an `Arc` context and a mutex, six atomic operations). NT's
    /// sender keeps its IRP pointer and needs none; here the IRP moves into
    /// the routine. Correct only because this stack completes every read
    /// on the calling thread, inside IoCallDriver.
    pub fn read_here(&mut self) -> usize {
        self.read_with(here_completed, None, |_| {
            RETURNED_HERE.try_with(|slot| slot.borrow_mut().take()).ok().flatten()
        })
    }

    fn read_with(
        &mut self,
        routine: CompletionRoutine,
        context: CompletionContext,
        take_back: impl FnOnce(&Stack3) -> Option<Irp>,
    ) -> usize {
        let Some(mut irp) = io_allocate_irp(self.top.stack_size(), false) else { return 0 };
        irp.replace_system_buffer(self.buffer.take());
        let next = io_get_next_irp_stack_location(&mut irp);
        next.major_function = IRP_MJ_READ;
        next.parameters = Parameters::Read { length: 4, key: 0, byte_offset: 0 };
        io_set_completion_routine(&mut irp, routine, context, true, true, true);
        io_call_driver(&self.top, irp);
        let Some(mut irp) = take_back(self) else { return 0 };
        let count = irp.io_status().information;
        self.buffer = irp.replace_system_buffer(None);
        io_free_irp(irp);
        count
    }

    /// Sends a read without a buffer that a holding stack's PDO keeps
    /// pending; false if no IRP could be allocated or it did not pend.
    pub fn send_held(&self) -> bool {
        let Some(mut irp) = io_allocate_irp(self.top.stack_size(), false) else { return false };
        let next = io_get_next_irp_stack_location(&mut irp);
        next.major_function = IRP_MJ_READ;
        next.parameters = Parameters::Read { length: 0, key: 0, byte_offset: 0 };
        io_set_completion_routine(&mut irp, held_completed, None, true, true, true);
        io_call_driver(&self.top, irp) == STATUS_PENDING
    }

    /// Completes every IRP the PDO holds; returns how many.
    pub fn complete_held(&self) -> usize {
        let held = std::mem::take(&mut *self.pdo.extension::<Layer>().held.lock());
        let count = held.len();
        for mut irp in held {
            *irp.io_status_mut() = IoStatusBlock { status: STATUS_SUCCESS, information: 0 };
            io_complete_request(irp, IO_NO_INCREMENT);
        }
        count
    }

    /// The sender's buffer after the last read.
    pub fn buffer(&self) -> &[u8] {
        self.buffer.as_deref().unwrap_or_default()
    }
}
