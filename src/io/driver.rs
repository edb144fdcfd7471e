//! Driver objects: loading a driver (DriverEntry), its dispatch table, its
//! per-driver state (IoAllocateDriverObjectExtension), and unloading.
//!
//! DriverEntry gets a [`DriverObject`] to fill in, as the book's drivers
//! fill `DriverObject->MajorFunction[...]` (book l.1441–1478). When it
//! returns success the entry points are frozen into the loaded [`Driver`].
//! An entry left unset fails its IRPs with STATUS_INVALID_DEVICE_REQUEST,
//! which Win32 callers see as error 1 (book l.4237).

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use super::codes::IRP_MJ_MAXIMUM_FUNCTION;
use super::device::DeviceObject;
use super::irp::{Irp, complete_request};
use crate::ke::irql::{self, PASSIVE_LEVEL};
use crate::ob::{IdCell, ObjectId, ObjectKind};
use crate::sim::system::with_system;
use crate::status::{
    NtStatus, STATUS_INVALID_DEVICE_REQUEST, STATUS_OBJECT_NAME_COLLISION, STATUS_SUCCESS,
};
use crate::sync::Mutex;
use crate::verifier::{self, Rule};

/// A dispatch routine: `DispatchXxx(DeviceObject, Irp)`.
pub type DispatchFn = fn(&DeviceObject, Irp) -> NtStatus;
/// DriverExtension->AddDevice: `AddDevice(DriverObject, Pdo)`.
pub type AddDeviceFn = fn(&Driver, &DeviceObject) -> NtStatus;
/// DriverUnload.
pub type UnloadFn = fn(&Driver);
/// DriverStartIo, called at DISPATCH_LEVEL.
pub type StartIoFn = fn(&DeviceObject, Irp);
/// DriverEntry(DriverObject, RegistryPath).
pub type DriverEntryFn = fn(&mut DriverObject, &str) -> NtStatus;

/// The entries of one major function table.
const MAJOR_FUNCTIONS: usize = IRP_MJ_MAXIMUM_FUNCTION as usize + 1;

/// DriverObject->DriverExtension.
#[derive(Clone, Copy, Debug, Default)]
pub struct DriverExtension {
    pub add_device: Option<AddDeviceFn>,
}

/// What DriverEntry fills in.
pub struct DriverObject {
    pub major_function: [Option<DispatchFn>; MAJOR_FUNCTIONS],
    pub driver_unload: Option<UnloadFn>,
    pub driver_start_io: Option<StartIoFn>,
    pub driver_extension: DriverExtension,
    driver: Driver,
}

impl fmt::Debug for DriverObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverObject").field("driver", &self.driver).finish_non_exhaustive()
    }
}

impl DriverObject {
    /// The driver being loaded, for IoCreateDevice in DriverEntry and for
    /// IoAllocateDriverObjectExtension.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }
}

/// The frozen entry points of a loaded driver.
#[derive(Clone, Copy)]
pub(crate) struct EntryPoints {
    pub major_function: [Option<DispatchFn>; MAJOR_FUNCTIONS],
    pub unload: Option<UnloadFn>,
    pub start_io: Option<StartIoFn>,
    pub add_device: Option<AddDeviceFn>,
}

pub(crate) struct DriverInner {
    id: IdCell,
    name: String,
    registry_path: String,
    entry: OnceLock<EntryPoints>,
    extension: OnceLock<Box<dyn Any + Send + Sync>>,
    /// The driver's devices (DriverObject->DeviceObject chain). A device
    /// lives until IoDeleteDevice takes it off this list (and its last
    /// reference goes), as NT's do.
    devices: Mutex<Vec<DeviceObject>>,
    unloaded: AtomicBool,
}

/// A loaded driver (what a PDRIVER_OBJECT points at once DriverEntry ran).
#[derive(Clone)]
pub struct Driver(Arc<DriverInner>);

impl PartialEq for Driver {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Driver {}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Driver({})", self.0.name)
    }
}

impl Driver {
    /// The service name (`Wdm1`).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The registry path DriverEntry was given.
    pub fn registry_path(&self) -> &str {
        &self.0.registry_path
    }

    pub(crate) fn id(&self) -> ObjectId {
        self.0.id.get(ObjectKind::Driver, Some(&self.0.name))
    }

    /// The per-driver state IoAllocateDriverObjectExtension stored: the
    /// Rust home of a C driver's globals. Asking for another type, or before
    /// it was stored, is bug check 0x1E.
    pub fn extension<T: Any>(&self) -> &T {
        match self.0.extension.get().and_then(|e| e.downcast_ref::<T>()) {
            Some(extension) => extension,
            None => {
                verifier::bug_check(
                    Rule::BadExtensionType,
                    [0xC000_0005, u64::from(self.id().0), 0],
                    format!(
                        "driver {} has no extension of type {}",
                        self.name(),
                        std::any::type_name::<T>()
                    ),
                );
                panic!("wdmsim: driver extension type mismatch while unwinding");
            }
        }
    }

    /// The driver's live device objects, in creation order
    /// (DriverObject->DeviceObject chain).
    pub fn devices(&self) -> Vec<DeviceObject> {
        self.0.devices.lock().clone()
    }

    pub fn is_unloaded(&self) -> bool {
        self.0.unloaded.load(Ordering::Acquire)
    }

    pub(crate) fn device_count(&self) -> usize {
        self.0.devices.lock().len()
    }

    pub(crate) fn add_device_object(&self, device: &DeviceObject) {
        self.0.devices.lock().push(device.clone());
    }

    pub(crate) fn remove_device_object(&self, device: &DeviceObject) {
        self.0.devices.lock().retain(|d| d != device);
    }

    /// The DriverStartIo routine DriverEntry set, if any.
    pub fn start_io(&self) -> Option<StartIoFn> {
        self.entry_points().and_then(|e| e.start_io)
    }

    pub(crate) fn entry_points(&self) -> Option<&EntryPoints> {
        self.0.entry.get()
    }

    /// The routine for `major`, or the I/O manager's default.
    #[inline]
    pub(crate) fn dispatch(&self, major: u8) -> DispatchFn {
        self.0
            .entry
            .get()
            .and_then(|e| e.major_function.get(major as usize).copied().flatten())
            .unwrap_or(invalid_device_request)
    }
}

/// The I/O manager's handler for an unset MajorFunction entry.
fn invalid_device_request(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    irp.io_status_mut().status = STATUS_INVALID_DEVICE_REQUEST;
    irp.io_status_mut().information = 0;
    complete_request(irp, 0);
    STATUS_INVALID_DEVICE_REQUEST
}

/// IoAllocateDriverObjectExtension: stores the driver's own state. Only once
/// per driver: STATUS_OBJECT_NAME_COLLISION after that.
pub fn allocate_driver_object_extension<T: Any + Send + Sync>(
    driver: &Driver,
    value: T,
) -> Result<(), NtStatus> {
    driver.0.extension.set(Box::new(value)).map_err(|_| STATUS_OBJECT_NAME_COLLISION)
}

/// Loads a driver: runs `driver_entry` at PASSIVE_LEVEL with the service's
/// registry path and keeps the entry points it set. A failing DriverEntry
/// aborts the load with its status.
pub fn load_driver(name: &str, driver_entry: DriverEntryFn) -> Result<Driver, NtStatus> {
    irql::check_max_irql("load_driver", PASSIVE_LEVEL);
    let registry_path = crate::cm::service_key(name);
    let driver = Driver(Arc::new(DriverInner {
        id: IdCell::new(),
        name: name.to_string(),
        registry_path: registry_path.clone(),
        entry: OnceLock::new(),
        extension: OnceLock::new(),
        devices: Mutex::new(Vec::new()),
        unloaded: AtomicBool::new(false),
    }));
    let mut object = DriverObject {
        major_function: [None; MAJOR_FUNCTIONS],
        driver_unload: None,
        driver_start_io: None,
        driver_extension: DriverExtension::default(),
        driver: driver.clone(),
    };
    let status = driver_entry(&mut object, &registry_path);
    if !status.is_success() {
        for device in driver.devices() {
            super::device::delete_device(&device);
        }
        return Err(status);
    }
    // Devices made in DriverEntry are ready once it returns (AddDevice's
    // devices the driver readies itself, book l.3091).
    for device in driver.devices() {
        device.clear_flags(super::device::DO_DEVICE_INITIALIZING);
    }
    let entry = EntryPoints {
        major_function: object.major_function,
        unload: object.driver_unload,
        start_io: object.driver_start_io,
        add_device: object.driver_extension.add_device,
    };
    // A fresh OnceLock: nobody else can have set it.
    let _ = driver.0.entry.set(entry);
    with_system(|s| s.drivers.lock().push(driver.clone()));
    Ok(driver)
}

/// Unloads a driver: calls its DriverUnload (PASSIVE_LEVEL) and forgets it.
pub fn unload_driver(driver: &Driver) -> NtStatus {
    irql::check_max_irql("unload_driver", PASSIVE_LEVEL);
    if driver.0.unloaded.swap(true, Ordering::AcqRel) {
        return STATUS_SUCCESS;
    }
    if let Some(unload) = driver.entry_points().and_then(|e| e.unload) {
        unload(driver);
    }
    with_system(|s| s.drivers.lock().retain(|d| d != driver));
    STATUS_SUCCESS
}
