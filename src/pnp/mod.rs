//! The PnP manager, as far as a root-enumerated function driver needs it:
//! a device tree of root devices, binding a device to its driver, AddDevice
//! and IRP_MN_START_DEVICE to bring it up, IRP_MN_REMOVE_DEVICE to take it
//! down (book l.4789, l.5105–5113). The full state machine comes with Wdm2.
//!
//! Each root device gets a PDO from the simulator's root bus driver,
//! auto-named `\Device\nnnnnnnn`, and an instance path `Root\UNKNOWN\0000`
//! (the book's trace shows `Root#UNKNOWN#0003` in interface links).

mod root;

use std::collections::BTreeMap;

use crate::io::codes::{IRP_MJ_PNP, IRP_MN_REMOVE_DEVICE, IRP_MN_START_DEVICE};
use crate::io::device::{DO_DEVICE_INITIALIZING, get_attached_device};
use crate::io::irp::{IoStatusBlock, Parameters};
use crate::io::request::{Buffers, Request, Waiter};
use crate::io::{DeviceObject, Driver, call_driver, unload_driver};
use crate::ke::irql::{self, PASSIVE_LEVEL};
use crate::ke::wait_for_single_object;
use crate::ob::{Arena, Id};
use crate::sim::system::with_system;
use crate::status::{
    NtStatus, STATUS_INVALID_DEVICE_REQUEST, STATUS_NOT_SUPPORTED, STATUS_PENDING,
};
use crate::verifier::{self, Rule};

/// A device in the tree (opaque; reached through a [`DeviceNode`]).
#[derive(Debug)]
pub struct DevNode {
    instance_id: String,
    pdo: DeviceObject,
    driver: Option<Driver>,
    started: bool,
}

/// A handle to a device node (a generation-checked id: a stale handle to a
/// removed device is refused, not confused with a newer one).
pub type DeviceNode = Id<DevNode>;

#[derive(Debug, Default)]
pub struct DeviceTree {
    nodes: Arena<DevNode>,
    instances: BTreeMap<String, u32>,
}

impl DeviceTree {
    /// The instance path of a PnP device's PDO.
    pub(crate) fn instance_id(&self, pdo: &DeviceObject) -> Option<String> {
        self.nodes.iter().find(|(_, n)| n.pdo == *pdo).map(|(_, n)| n.instance_id.clone())
    }

    fn next_instance(&mut self, device_id: &str) -> u32 {
        let counter = self.instances.entry(device_id.to_ascii_uppercase()).or_insert(0);
        let n = *counter;
        *counter += 1;
        n
    }
}

/// The PDO of a device node.
pub fn pdo(node: DeviceNode) -> Option<DeviceObject> {
    with_system(|s| s.devices.lock().nodes.get(node).map(|n| n.pdo.clone()))
}

/// The instance path of a device node (`Root\UNKNOWN\0000`).
pub fn instance_id(node: DeviceNode) -> Option<String> {
    with_system(|s| s.devices.lock().nodes.get(node).map(|n| n.instance_id.clone()))
}

/// Whether the device was started and not removed since.
pub fn is_started(node: DeviceNode) -> bool {
    with_system(|s| s.devices.lock().nodes.get(node).is_some_and(|n| n.started))
}

/// Adds a root-enumerated device (`Root\<device_id>\NNNN`) whose function
/// driver is `driver`: creates its PDO, calls the driver's AddDevice, and
/// starts the stack with IRP_MN_START_DEVICE. A failing AddDevice or start
/// returns its status and leaves no device behind.
pub fn add_root_device(device_id: &str, driver: &Driver) -> Result<DeviceNode, NtStatus> {
    irql::check_max_irql("add_root_device", PASSIVE_LEVEL);
    let add_device =
        driver.entry_points().and_then(|e| e.add_device).ok_or(STATUS_INVALID_DEVICE_REQUEST)?;
    let pdo = root::create_pdo()?;
    let node = with_system(|s| {
        let mut tree = s.devices.lock();
        let n = tree.next_instance(device_id);
        let instance_id = format!("Root\\{}\\{n:04}", device_id.to_ascii_uppercase());
        tree.nodes.insert(DevNode {
            instance_id,
            pdo: pdo.clone(),
            driver: Some(driver.clone()),
            started: false,
        })
    });
    let status = add_device(driver, &pdo);
    if !status.is_success() {
        forget(node);
        crate::io::delete_device(&pdo);
        return Err(status);
    }
    let top = get_attached_device(&pdo);
    if top != pdo && top.flags() & DO_DEVICE_INITIALIZING != 0 {
        verifier::io_violation(
            Rule::DeviceInitializingNotCleared,
            [u64::from(top.id().0), 0, 0],
            || {
                format!(
                    "AddDevice of {} returned with DO_DEVICE_INITIALIZING still set on {}",
                    driver.name(),
                    top.label()
                )
            },
        );
    }
    let started = send_pnp_irp(&pdo, IRP_MN_START_DEVICE);
    if !started.status.is_success() {
        send_pnp_irp(&pdo, IRP_MN_REMOVE_DEVICE);
        forget(node);
        unload_if_idle(driver);
        return Err(started.status);
    }
    with_system(|s| {
        if let Some(n) = s.devices.lock().nodes.get_mut(node) {
            n.started = true;
        }
    });
    Ok(node)
}

/// Removes a device: IRP_MN_REMOVE_DEVICE down its stack (the function
/// driver detaches and deletes its FDO; the root bus deletes the PDO), then
/// unloads the driver if that was its last device. A stale node is
/// STATUS_NO_SUCH_DEVICE.
pub fn remove_device(node: DeviceNode) -> Result<(), NtStatus> {
    irql::check_max_irql("remove_device", PASSIVE_LEVEL);
    let (pdo, driver) = with_system(|s| {
        s.devices.lock().nodes.get(node).map(|n| (n.pdo.clone(), n.driver.clone()))
    })
    .ok_or(crate::status::STATUS_NO_SUCH_DEVICE)?;
    let removed = send_pnp_irp(&pdo, IRP_MN_REMOVE_DEVICE);
    forget(node);
    if let Some(driver) = driver {
        unload_if_idle(&driver);
    }
    if removed.status.is_success() { Ok(()) } else { Err(removed.status) }
}

fn forget(node: DeviceNode) {
    with_system(|s| s.devices.lock().nodes.remove(node));
}

fn unload_if_idle(driver: &Driver) {
    if driver.devices().is_empty() {
        unload_driver(driver);
    }
}

/// Sends a PnP IRP to the top of `pdo`'s stack and waits for it, as the PnP
/// manager does: IoStatus.Status starts as STATUS_NOT_SUPPORTED
/// (book l.5971).
pub(crate) fn send_pnp_irp(pdo: &DeviceObject, minor: u8) -> IoStatusBlock {
    let top = get_attached_device(pdo);
    let (request, mut irp) = Request::build(
        &top,
        IRP_MJ_PNP,
        minor,
        Parameters::None,
        Buffers::default(),
        Waiter::Synchronous,
    );
    irp.io_status_mut().status = STATUS_NOT_SUPPORTED;
    let status = call_driver(&top, irp);
    if status == STATUS_PENDING {
        wait_for_single_object(request.event(), None);
    }
    let io_status =
        request.done().map_or(IoStatusBlock { status, information: 0 }, |d| d.io_status);
    request.recycle();
    io_status
}
