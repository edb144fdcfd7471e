//! The executive's per-machine state: the object namespace, the I/O
//! manager's registries, the handle table, the PnP device tree, counters.
//!
//! Every OS thread of a machine (the one of a simulation, each of threaded
//! mode) can reach it through [`with_system`]. Each part sits behind its own
//! host lock, held only for the few instructions of a lookup or an update,
//! never across a kernel call.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::cm::Registry;
use crate::ex::worker::WorkQueues;
use crate::io::Driver;
use crate::io::interface::InterfaceRegistry;
use crate::ke::KSpinLock;
use crate::ob::Namespace;
use crate::pnp::{DeviceTree, DriverStore};
use crate::po::SystemPower;
use crate::sync::Mutex;
use crate::win32::HandleTable;

/// How the machine is set up: Driver Verifier's options, and how its
/// drivers were built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemOptions {
    /// I/O Verification: the 0xC9 checks on IRP handling (pending marks,
    /// returned statuses, dropped IRPs). Off, IRPs behave as on a machine
    /// without Driver Verifier (what Wine's conformance tests observe).
    pub io_verification: bool,
    /// Drivers' DebugPrint calls are on (a checked build, book l.3998).
    pub debug_print: bool,
}

impl Default for SystemOptions {
    fn default() -> Self {
        SystemOptions { io_verification: true, debug_print: false }
    }
}

/// The builder calls that set these options on a default machine, for
/// replay lines.
impl fmt::Display for SystemOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.io_verification {
            f.write_str(".io_verification(false)")?;
        }
        if self.debug_print {
            f.write_str(".debug_print(true)")?;
        }
        Ok(())
    }
}

/// One driver image's global of some type.
struct ImageGlobal {
    image: &'static str,
    value: Arc<dyn Any + Send + Sync>,
}

impl fmt::Debug for ImageGlobal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageGlobal({})", self.image)
    }
}

#[derive(Debug)]
pub(crate) struct System {
    pub options: SystemOptions,
    pub namespace: Mutex<Namespace>,
    pub interfaces: Mutex<InterfaceRegistry>,
    pub handles: Mutex<HandleTable>,
    pub devices: Mutex<DeviceTree>,
    /// Installed driver packages.
    pub driver_store: Mutex<DriverStore>,
    pub registry: Mutex<Registry>,
    /// ExQueueWorkItem's queues.
    pub work_queues: WorkQueues,
    /// The power manager's system state and broadcasts.
    pub system_power: Mutex<SystemPower>,
    pub drivers: Mutex<Vec<Driver>>,
    next_irp: AtomicU32,
    next_device: AtomicU32,
    /// ExAllocatePool calls left to fail (fault injection).
    pub allocation_failures: AtomicU32,
    /// The I/O manager's cancel spin lock (IoAcquireCancelSpinLock).
    pub cancel_lock: Arc<KSpinLock>,
    /// What driver images keep in global variables across calls (the
    /// client state of the book's DebugPrint library, say): per machine, as
    /// each machine loads its own copy of a driver.
    image_globals: Mutex<Vec<ImageGlobal>>,
    /// The verifier's warnings so far.
    pub warnings: Mutex<Vec<crate::verifier::Warning>>,
    /// Bumped whenever a device stack changes (attach, detach, delete), so
    /// an open handle's cached top of stack knows when to look again.
    stacks_epoch: AtomicU64,
}

impl System {
    pub(crate) fn new(options: SystemOptions) -> System {
        System {
            options,
            namespace: Mutex::new(Namespace::default()),
            interfaces: Mutex::new(InterfaceRegistry::default()),
            handles: Mutex::new(HandleTable::default()),
            devices: Mutex::new(DeviceTree::default()),
            driver_store: Mutex::new(DriverStore::default()),
            registry: Mutex::new(Registry::default()),
            work_queues: WorkQueues::default(),
            system_power: Mutex::new(SystemPower::default()),
            drivers: Mutex::new(Vec::new()),
            next_irp: AtomicU32::new(0),
            next_device: AtomicU32::new(0),
            allocation_failures: AtomicU32::new(0),
            cancel_lock: Arc::new(KSpinLock::named("Cancel")),
            stacks_epoch: AtomicU64::new(0),
            image_globals: Mutex::new(Vec::new()),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// The global of type `T` that the image `image` stored, if any.
    pub(crate) fn image_global<T: Any + Send + Sync>(&self, image: &str) -> Option<Arc<T>> {
        let globals = self.image_globals.lock();
        let found = globals.iter().find(|g| g.image == image && g.value.is::<T>())?;
        found.value.clone().downcast::<T>().ok()
    }

    /// Stores (or with `None` removes) image `image`'s global of type `T`.
    pub(crate) fn set_image_global<T: Any + Send + Sync>(
        &self,
        image: &'static str,
        value: Option<Arc<T>>,
    ) {
        let mut globals = self.image_globals.lock();
        globals.retain(|g| !(g.image == image && g.value.is::<T>()));
        if let Some(value) = value {
            globals.push(ImageGlobal { image, value });
        }
    }

    /// A device stack changed.
    pub(crate) fn stacks_changed(&self) {
        self.stacks_epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// How many times device stacks have changed.
    pub(crate) fn stacks_epoch(&self) -> u64 {
        self.stacks_epoch.load(Ordering::Acquire)
    }

    /// A number for the next IRP, for traces.
    pub(crate) fn irp_number(&self) -> u32 {
        let tag = super::pcr::tag();
        IRP_NUMBERS.with(|numbers| {
            let (machine, next, end) = numbers.get();
            if machine == tag && next != end {
                numbers.set((machine, next.wrapping_add(1), end));
                return next;
            }
            let start = self.next_irp.fetch_add(IRP_NUMBER_BLOCK, Ordering::Relaxed);
            numbers.set((tag, start.wrapping_add(1), start.wrapping_add(IRP_NUMBER_BLOCK)));
            start
        })
    }

    /// A number for an auto-named device (`\Device\00000001`).
    pub(crate) fn device_number(&self) -> u32 {
        self.next_device.fetch_add(1, Ordering::Relaxed) + 1
    }
}

thread_local! {
    static SYSTEM: RefCell<Option<Arc<System>>> = const { RefCell::new(None) };
}

/// Makes `system` the current OS thread's (or none). The device references
/// this thread's kept IRP bodies hold go first: they are the old machine's.
pub(crate) fn set(system: Option<Arc<System>>) {
    crate::io::lookaside::forget_devices(None);
    SYSTEM.with(|s| *s.borrow_mut() = system);
}

/// IRP numbers go to each OS thread in blocks of this many, so numbering
/// an IRP takes no shared atomic operation (one costs about 5 ns here). A
/// simulation runs on one OS thread: its IRPs are still numbered 0, 1,
/// 2, ... in order.
const IRP_NUMBER_BLOCK: u32 = 64;

thread_local! {
    /// This OS thread's block: the machine's tag, the next number, the end.
    static IRP_NUMBERS: Cell<(u32, u32, u32)> = const { Cell::new((0, 0, 0)) };
}

/// Runs `f` on the current machine's executive state.
#[track_caller]
pub(crate) fn with_system<R>(f: impl FnOnce(&System) -> R) -> R {
    SYSTEM.with(|s| f(s.borrow().as_ref().expect("wdmsim: kernel call outside Machine::run")))
}
