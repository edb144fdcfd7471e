//! The PnP manager: the device tree, driver selection from installed
//! packages, and the PnP IRP sequences of a device's life (book ch. 8–9,
//! l.4685–6300; spec 02).
//!
//! Device Manager's operations are this module's functions: add a device,
//! remove (uninstall) it, disable and enable it, stop it for a resource
//! rebalance, unplug it. Each is queued to the PnP worker, which runs one
//! action at a time, and the caller waits for its outcome, which is what
//! Windows' configuration manager would report: `Ok`, a veto with its
//! type (CR_REMOVE_VETOED), or the problem code the device was left with.
//! Bus drivers report children through IRP_MN_QUERY_DEVICE_RELATIONS after
//! IoInvalidateDeviceRelations.

mod capabilities;
mod dump;
mod install;
mod irp;
mod manager;
mod query;
mod resources;
mod root;
mod tree;

pub use capabilities::DeviceCapabilities;
pub use dump::{devnode_text, devstack_text, tree_text};
pub(crate) use install::DriverStore;
pub use install::{DriverPackage, Service};
pub use query::{
    BusQueryIdType, DeviceRelationType, DeviceTextType, PNP_DEVICE_DISABLED,
    PNP_DEVICE_DONT_DISPLAY_IN_UI, PNP_DEVICE_FAILED, PNP_DEVICE_NOT_DISABLEABLE,
    PNP_DEVICE_REMOVED, PNP_DEVICE_RESOURCE_REQUIREMENTS_CHANGED, PnpInformation,
};
pub use resources::{
    CmResourceList, PartialResource, ResourceDescriptor, ResourceRequirements, ShareDisposition,
};
pub use tree::{DevNode, DeviceNode, DeviceNodeState, DeviceTree, Problem, StateChange};

use crate::cm::{RegistryValue, service_key};
use crate::ex::worker::{WorkQueue, queue_work_item, run_and_wait};
use crate::io::{DeviceObject, Driver};
use crate::sim::system::with_system;
use manager::{Afterwards, with_tree};

/// PNP_VETO_TYPE: who refused a removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VetoType {
    /// PNP_VetoOutstandingOpen (5): a handle is open on the device.
    OutstandingOpen = 5,
    /// PNP_VetoDevice (6): a driver of the device failed the query.
    Device = 6,
}

/// Why a Device Manager operation did not happen (the CONFIGRET the
/// configuration manager returns).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PnpError {
    /// CR_NO_SUCH_DEVNODE: the node was deleted (or never existed).
    #[error("CR_NO_SUCH_DEVNODE")]
    NoSuchDevNode,
    /// CR_REMOVE_VETOED, naming the device that vetoed.
    #[error("CR_REMOVE_VETOED: {veto:?} by {name}")]
    Vetoed { veto: VetoType, name: String },
    /// CR_FAILURE: the device was left with this problem.
    #[error("CR_FAILURE: problem {0:?}")]
    Failed(Problem),
    /// CR_INVALID_DEVNODE: the operation does not apply in this state.
    #[error("CR_INVALID_DEVNODE: the device is {0}")]
    InvalidState(DeviceNodeState),
}

/// Runs `action` on the PnP worker and waits for its outcome.
fn run<R: Send + 'static>(action: impl FnOnce() -> R + Send + 'static) -> R {
    run_and_wait(WorkQueue::Pnp, action)
}

/// Installs a driver package: later devices whose ids match it get its
/// drivers. Writes the service key (Type 1, Start 3, ErrorControl 1,
/// ImagePath) and its Parameters values (spec 03 §4.4–4.5).
pub fn install(package: DriverPackage) {
    with_system(|s| {
        let mut registry = s.registry.lock();
        for service in
            package.lower_filters.iter().chain([&package.service]).chain(&package.upper_filters)
        {
            let key = service_key(service.name);
            registry.set_value(&key, "Type", RegistryValue::Dword(1));
            registry.set_value(&key, "Start", RegistryValue::Dword(3));
            registry.set_value(&key, "ErrorControl", RegistryValue::Dword(1));
            let image = format!("System32\\Drivers\\{}.sys", service.name);
            registry.set_value(&key, "ImagePath", RegistryValue::String(image));
        }
        let parameters = format!("{}\\Parameters", service_key(package.service.name));
        for (name, value) in &package.parameters {
            registry.set_value(&parameters, name, value.clone());
        }
        s.driver_store.lock().install(package);
    });
}

/// The tree's root node (`HTREE\ROOT\0`), made on first use.
fn root_node() -> Result<DeviceNode, PnpError> {
    if let Some(root) = with_tree(|t| t.root) {
        return Ok(root);
    }
    let pdo = root::create_root().map_err(|_| PnpError::NoSuchDevNode)?;
    let at = crate::sim::now_ticks();
    Ok(with_tree(|t| {
        let root = t.insert(None, pdo, "HTREE\\ROOT\\0".to_string(), at);
        t.set_state(root, DeviceNodeState::Started, at);
        t.root = Some(root);
        root
    }))
}

/// Add New Hardware: a root-enumerated device of class Unknown with this
/// hardware id (instance `Root\UNKNOWN\NNNN`), brought up with the drivers
/// of the best installed package. Fails with the problem the device was
/// left with (it stays in the tree, as in Device Manager).
pub fn add_root_device(hardware_id: &str) -> Result<DeviceNode, PnpError> {
    add_root_device_with(hardware_id, ResourceRequirements::default())
}

/// As [`add_root_device`], for a device that needs resources (the LogConfig
/// of a legacy device's INF, book l.10486).
pub fn add_root_device_with(
    hardware_id: &str,
    requirements: ResourceRequirements,
) -> Result<DeviceNode, PnpError> {
    let hardware_id = hardware_id.to_string();
    run(move || {
        let root = root_node()?;
        let description =
            with_system(|s| s.driver_store.lock().select(std::slice::from_ref(&hardware_id), &[]))
                .map(|p| p.description);
        let device_id = "Root\\UNKNOWN".to_string();
        let n = with_tree(|t| t.next_instance(&device_id));
        let instance = format!("{n:04}");
        let instance_path = format!("{device_id}\\{instance}");
        let pdo =
            root::create_pdo(device_id, instance, vec![hardware_id], description, requirements)
                .map_err(|_| PnpError::NoSuchDevNode)?;
        let at = crate::sim::now_ticks();
        let node = with_tree(|t| t.insert(Some(root), pdo, instance_path, at));
        manager::bring_up(node).map(|()| node)
    })
}

/// Uninstall: QUERY_REMOVE to the device and its children, then REMOVE;
/// the nodes leave the tree. Vetoed while a handle is open or a driver
/// fails the query (CANCEL_REMOVE follows).
pub fn remove_device(node: DeviceNode) -> Result<(), PnpError> {
    run(move || {
        manager::state_of(node).ok_or(PnpError::NoSuchDevNode)?;
        manager::remove(node, Afterwards::Delete)
    })
}

/// Disable: as removal, but the node stays, with CM_PROB_DISABLED, and can
/// be enabled again.
pub fn disable_device(node: DeviceNode) -> Result<(), PnpError> {
    run(move || match manager::state_of(node) {
        None => Err(PnpError::NoSuchDevNode),
        Some(DeviceNodeState::Started) => manager::remove(node, Afterwards::Disable),
        Some(state) => Err(PnpError::InvalidState(state)),
    })
}

/// Enable a disabled device (or retry one that failed to start): AddDevice
/// and START again.
pub fn enable_device(node: DeviceNode) -> Result<(), PnpError> {
    run(move || match manager::state_of(node) {
        None => Err(PnpError::NoSuchDevNode),
        Some(DeviceNodeState::Removed) => manager::bring_up(node),
        Some(state) => Err(PnpError::InvalidState(state)),
    })
}

/// A resource rebalance: QUERY_STOP, STOP and START again with the new
/// resources; a veto gets CANCEL_STOP.
pub fn stop_device(node: DeviceNode) -> Result<(), PnpError> {
    run(move || manager::stop_and_restart(node))
}

/// Unplug: SURPRISE_REMOVAL to the device and its children now, REMOVE
/// when each one's last handle closes.
pub fn surprise_remove_device(node: DeviceNode) -> Result<(), PnpError> {
    run(move || {
        manager::state_of(node).ok_or(PnpError::NoSuchDevNode)?;
        manager::surprise_remove_subtree(node);
        Ok(())
    })
}

/// IoInvalidateDeviceRelations: a bus driver found children come or go;
/// the PnP manager asks it for its BusRelations, later, on its worker.
/// Callable up to DISPATCH_LEVEL.
pub fn invalidate_device_relations(pdo: &DeviceObject, relation_type: DeviceRelationType) {
    if relation_type != DeviceRelationType::BusRelations {
        return;
    }
    let pdo = pdo.clone();
    queue_work_item(
        WorkQueue::Pnp,
        Box::new(move || {
            if let Some(node) = with_tree(|t| t.node_of(&pdo)) {
                manager::enumerate(node);
            }
        }),
    );
}

/// IoInvalidateDeviceState: the PnP manager sends QUERY_PNP_DEVICE_STATE,
/// later; a device that reports PNP_DEVICE_FAILED is taken away.
pub fn invalidate_device_state(pdo: &DeviceObject) {
    let pdo = pdo.clone();
    queue_work_item(
        WorkQueue::Pnp,
        Box::new(move || {
            if let Some(node) = with_tree(|t| t.node_of(&pdo)) {
                manager::requery_device_state(node);
            }
        }),
    );
}

/// The I/O manager closed a handle on `device`: a surprise-removed device
/// whose last handle this was now gets its REMOVE.
pub(crate) fn handle_closed(device: &DeviceObject) {
    // The handle may be open on any named device of the stack: its node is
    // the PDO's, at the bottom.
    let mut pdo = device.clone();
    while let Some(below) = pdo.lower_device() {
        pdo = below;
    }
    let pending = with_tree(|t| t.node_of(&pdo).and_then(|n| t.nodes.get(n)).map(|n| n.state))
        == Some(DeviceNodeState::RemovePendingCloses);
    if pending {
        queue_work_item(WorkQueue::Pnp, Box::new(move || manager::remove_after_last_close(&pdo)));
    }
}

fn node_field<R>(node: DeviceNode, f: impl FnOnce(&DevNode) -> R) -> Option<R> {
    with_tree(|t| t.nodes.get(node).map(f))
}

/// The node's PnP state; `None` once it is deleted.
pub fn state(node: DeviceNode) -> Option<DeviceNodeState> {
    node_field(node, |n| n.state)
}

/// Whether the device is started.
pub fn is_started(node: DeviceNode) -> bool {
    state(node) == Some(DeviceNodeState::Started)
}

/// The node's problem code, if it is not working.
pub fn problem(node: DeviceNode) -> Option<Problem> {
    node_field(node, |n| n.problem).flatten()
}

/// Every state the node has been in, with the virtual time of each change.
pub fn history(node: DeviceNode) -> Vec<StateChange> {
    node_field(node, |n| n.history.clone()).unwrap_or_default()
}

/// The node's PDO.
pub fn pdo(node: DeviceNode) -> Option<DeviceObject> {
    node_field(node, |n| n.pdo.clone())
}

/// The node's instance path (`Root\UNKNOWN\0000`).
pub fn instance_id(node: DeviceNode) -> Option<String> {
    node_field(node, |n| n.instance_id.clone())
}

/// The node's function driver, while its stack exists.
pub fn function_driver(node: DeviceNode) -> Option<Driver> {
    node_field(node, |n| {
        let service = n.service?;
        n.drivers.iter().find(|d| d.name() == service.name).cloned()
    })
    .flatten()
}

/// The node's children, in the order its bus reported them.
pub fn children(node: DeviceNode) -> Vec<DeviceNode> {
    node_field(node, |n| n.children.clone()).unwrap_or_default()
}

/// The capabilities the stack reported at its last QUERY_CAPABILITIES.
pub fn capabilities(node: DeviceNode) -> Option<DeviceCapabilities> {
    node_field(node, |n| n.capabilities.clone())
}

/// The raw resources the device was last started with.
pub fn resources(node: DeviceNode) -> Option<CmResourceList> {
    node_field(node, |n| n.resources.clone()).flatten()
}

/// The PDOs of started devices, children before their parents (the order
/// the power manager puts them to sleep in).
pub(crate) fn started_pdos_children_first() -> Vec<DeviceObject> {
    with_tree(|t| {
        let Some(root) = t.root else { return Vec::new() };
        t.subtree_deepest_first(root)
            .into_iter()
            .filter(|n| Some(*n) != t.root)
            .filter_map(|n| t.nodes.get(n))
            .filter(|n| n.state == DeviceNodeState::Started)
            .map(|n| n.pdo.clone())
            .collect()
    })
}

/// The node whose PDO is `pdo`.
pub fn node_of(pdo: &DeviceObject) -> Option<DeviceNode> {
    with_tree(|t| t.node_of(pdo))
}
