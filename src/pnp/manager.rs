//! The PnP manager's sequences (spec 02 §1.2, §2.3), each run on the PnP
//! worker so that they are ordered: bringing a device up (ids, driver
//! selection, AddDevice bottom-up, resources, START), enumerating a bus,
//! orderly removal with its veto, disabling, resource rebalance, surprise
//! removal and the removal that follows the last close.

use std::sync::Arc;

use super::capabilities::DeviceCapabilities;
use super::install::Service;
use super::irp::{Answer, send, send_information};
use super::query::{
    BusQueryIdType, DeviceRelationType, DeviceTextType, PNP_DEVICE_FAILED, PnpInformation,
};
use super::resources::ResourceRequirements;
use super::root;
use super::tree::{DeviceNode, DeviceNodeState, DeviceTree, Problem};
use super::{PnpError, VetoType};
use crate::io::Shared;
use crate::io::codes::*;
use crate::io::device::{DO_DEVICE_INITIALIZING, DO_POWER_PAGABLE, get_attached_device};
use crate::io::irp::Parameters;
use crate::io::{DeviceObject, Driver, load_driver, unload_driver};
use crate::sim::system::with_system;
use crate::status::NtStatus;
use crate::verifier::{self, Rule};

fn now() -> u64 {
    crate::sim::now_ticks()
}

pub(super) fn with_tree<R>(f: impl FnOnce(&mut DeviceTree) -> R) -> R {
    with_system(|s| f(&mut s.devices.lock()))
}

fn set_state(node: DeviceNode, state: DeviceNodeState) {
    let at = now();
    with_tree(|t| t.set_state(node, state, at));
}

fn set_problem(node: DeviceNode, problem: Option<Problem>) {
    with_tree(|t| {
        if let Some(n) = t.nodes.get_mut(node) {
            n.problem = problem;
        }
    });
}

fn pdo_of(node: DeviceNode) -> Result<DeviceObject, PnpError> {
    with_tree(|t| t.nodes.get(node).map(|n| n.pdo.clone())).ok_or(PnpError::NoSuchDevNode)
}

pub(super) fn state_of(node: DeviceNode) -> Option<DeviceNodeState> {
    with_tree(|t| t.nodes.get(node).map(|n| n.state))
}

/// Handles open on the devices of `pdo`'s stack.
pub(super) fn open_handles(pdo: &DeviceObject) -> u32 {
    let mut count = pdo.open_count();
    let mut device = pdo.clone();
    while let Some(above) = device.attached_device() {
        count += above.open_count();
        device = above;
    }
    count
}

// ---------------------------------------------------------------------------
// Bringing a device up

/// Queries a new node's ids, capabilities, description and requirements
/// from its PDO, which is still alone in its stack (book l.6252).
fn initialize(node: DeviceNode) -> Result<(), PnpError> {
    let pdo = pdo_of(node)?;
    let ids = |id_type| match send(&pdo, IRP_MN_QUERY_ID, Parameters::QueryId { id_type }) {
        Answer { information: Some(PnpInformation::Ids(ids)), io_status }
            if io_status.status.is_success() =>
        {
            ids
        }
        Answer { information: Some(PnpInformation::Id(id)), io_status }
            if io_status.status.is_success() =>
        {
            vec![id]
        }
        _ => Vec::new(),
    };
    let hardware_ids = ids(BusQueryIdType::HardwareIds);
    let compatible_ids = ids(BusQueryIdType::CompatibleIds);
    let capabilities = query_capabilities(&pdo);
    let text =
        Parameters::QueryDeviceText { text_type: DeviceTextType::Description, locale_id: 0x409 };
    let description = match send(&pdo, IRP_MN_QUERY_DEVICE_TEXT, text) {
        Answer { information: Some(PnpInformation::Text(text)), io_status }
            if io_status.status.is_success() =>
        {
            Some(text)
        }
        _ => None,
    };
    send(&pdo, IRP_MN_QUERY_RESOURCES, Parameters::None);
    let requirements = match send(&pdo, IRP_MN_QUERY_RESOURCE_REQUIREMENTS, Parameters::None) {
        Answer { information: Some(PnpInformation::Requirements(r)), io_status }
            if io_status.status.is_success() =>
        {
            r
        }
        _ => ResourceRequirements::default(),
    };
    with_tree(|t| {
        if let Some(n) = t.nodes.get_mut(node) {
            n.hardware_ids = hardware_ids;
            n.compatible_ids = compatible_ids;
            n.capabilities = capabilities;
            n.description = description;
            n.requirements = requirements;
        }
    });
    set_state(node, DeviceNodeState::Initialized);
    Ok(())
}

fn query_capabilities(pdo: &DeviceObject) -> DeviceCapabilities {
    let capabilities = Shared::new(DeviceCapabilities::default());
    let parameters = Parameters::QueryCapabilities { capabilities: capabilities.clone() };
    send(pdo, IRP_MN_QUERY_CAPABILITIES, parameters);
    capabilities.get()
}

/// The loaded driver of `service`, loading it (DriverEntry) if needed.
fn driver_for(service: Service) -> Result<Driver, NtStatus> {
    let loaded =
        with_system(|s| s.drivers.lock().iter().find(|d| d.name() == service.name).cloned());
    match loaded {
        Some(driver) => Ok(driver),
        None => load_driver(service.name, service.entry),
    }
}

/// Picks the node's drivers (if no package was chosen yet) and builds its
/// stack: AddDevice of lower filters, function driver, upper filters, in
/// that order (book l.4969). A failing AddDevice sends REMOVE to the
/// drivers below it that succeeded (l.5103).
fn add_drivers(node: DeviceNode) -> Result<(), Problem> {
    let chosen = with_system(|s| {
        let tree = s.devices.lock();
        let n = tree.nodes.get(node)?;
        if n.service.is_some() {
            return Some(None);
        }
        Some(s.driver_store.lock().select(&n.hardware_ids, &n.compatible_ids))
    });
    match chosen {
        None => return Err(Problem::NoDriver),
        Some(Some(package)) => with_tree(|t| {
            if let Some(n) = t.nodes.get_mut(node) {
                n.service = Some(package.service);
                n.lower_filters = package.lower_filters;
                n.upper_filters = package.upper_filters;
                n.description.get_or_insert(package.description);
            }
        }),
        Some(None) => {}
    }
    let (pdo, services) = with_tree(|t| {
        let n = t.nodes.get(node)?;
        let mut services = n.lower_filters.clone();
        services.push(n.service?);
        services.extend(n.upper_filters.iter().copied());
        Some((n.pdo.clone(), services))
    })
    .ok_or(Problem::NoDriver)?;
    let mut added = Vec::new();
    for service in services {
        let outcome = driver_for(service).and_then(|driver| {
            let add_device = driver
                .entry_points()
                .and_then(|e| e.add_device)
                .ok_or(crate::status::STATUS_INVALID_DEVICE_REQUEST)?;
            let status = add_device(&driver, &pdo);
            if status.is_success() { Ok(driver) } else { Err(status) }
        });
        match outcome {
            Ok(driver) => {
                check_added_device(&pdo, &driver);
                added.push(driver);
            }
            Err(status) => {
                if !added.is_empty() {
                    send(&pdo, IRP_MN_REMOVE_DEVICE, Parameters::None);
                }
                for driver in &added {
                    unload_if_idle(driver);
                }
                return Err(Problem::FailedAdd(status));
            }
        }
    }
    with_tree(|t| {
        if let Some(n) = t.nodes.get_mut(node) {
            n.drivers = added;
        }
    });
    set_state(node, DeviceNodeState::DriversAdded);
    Ok(())
}

/// AddDevice must clear DO_DEVICE_INITIALIZING on its device (book l.3091,
/// 0xC9/0x243) and keep DO_POWER_PAGABLE if the device below has it
/// (0xC9/0x23F: power IRPs come down from it at PASSIVE_LEVEL).
fn check_added_device(pdo: &DeviceObject, driver: &Driver) {
    let top = get_attached_device(pdo);
    if let Some(lower) = top.lower_device()
        && lower.flags() & DO_POWER_PAGABLE != 0
        && top.flags() & DO_POWER_PAGABLE == 0
    {
        verifier::io_violation(
            Rule::PowerPagableNotInherited,
            [u64::from(top.id().0), u64::from(lower.id().0), 0],
            || format!("{} attached without DO_POWER_PAGABLE above {}", top.label(), lower.label()),
        );
    }
    if top != *pdo && top.flags() & DO_DEVICE_INITIALIZING != 0 {
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
}

/// Assigns resources and starts the stack, then asks what a started device
/// is asked (spec 02 §2.3.1): FILTER_RESOURCE_REQUIREMENTS, START, the
/// second QUERY_CAPABILITIES, QUERY_PNP_DEVICE_STATE, and BusRelations.
/// A failed start sends REMOVE to the stack (§2.3.5).
fn start(node: DeviceNode) -> Result<(), Problem> {
    let pdo = pdo_of(node).map_err(|_| Problem::NoDriver)?;
    send(&pdo, IRP_MN_QUERY_LEGACY_BUS_INFORMATION, Parameters::None);
    let requirements =
        with_tree(|t| t.nodes.get(node).map(|n| n.requirements.clone())).unwrap_or_default();
    let filtered = send_information(
        &pdo,
        IRP_MN_FILTER_RESOURCE_REQUIREMENTS,
        Parameters::None,
        Some(PnpInformation::Requirements(requirements.clone())),
    );
    let requirements = match filtered {
        Answer { information: Some(PnpInformation::Requirements(r)), io_status }
            if io_status.status.is_success() =>
        {
            r
        }
        _ => requirements,
    };
    let raw = requirements.assign();
    set_state(node, DeviceNodeState::ResourcesAssigned);
    let (allocated, translated) = if raw.is_empty() {
        (None, None)
    } else {
        (Some(Arc::new(raw.clone())), Some(Arc::new(raw.translated())))
    };
    let parameters = Parameters::StartDevice {
        allocated_resources: allocated,
        allocated_resources_translated: translated,
    };
    let started = send(&pdo, IRP_MN_START_DEVICE, parameters);
    if !started.status().is_success() {
        remove_stack(node, &pdo);
        return Err(Problem::FailedStart(started.status()));
    }
    with_tree(|t| {
        if let Some(n) = t.nodes.get_mut(node) {
            n.resources = Some(raw);
        }
    });
    set_state(node, DeviceNodeState::Started);
    let capabilities = query_capabilities(&pdo);
    with_tree(|t| {
        if let Some(n) = t.nodes.get_mut(node) {
            n.capabilities = capabilities;
        }
    });
    query_device_state(node, &pdo);
    enumerate(node);
    Ok(())
}

/// IRP_MN_QUERY_PNP_DEVICE_STATE; a device that reports itself failed is
/// taken away as if unplugged (book l.6254).
fn query_device_state(node: DeviceNode, pdo: &DeviceObject) {
    let answer = send(pdo, IRP_MN_QUERY_PNP_DEVICE_STATE, Parameters::None);
    if answer.status().is_success() && answer.io_status.information & PNP_DEVICE_FAILED != 0 {
        surprise_remove_subtree(node);
    }
}

/// IoInvalidateDeviceState's query, for a started device.
pub(super) fn requery_device_state(node: DeviceNode) {
    if state_of(node) == Some(DeviceNodeState::Started)
        && let Ok(pdo) = pdo_of(node)
    {
        query_device_state(node, &pdo);
    }
}

/// Brings up a node that has its PDO: ids, drivers, start. The node keeps
/// a problem code if a step fails.
pub(super) fn bring_up(node: DeviceNode) -> Result<(), PnpError> {
    if state_of(node) == Some(DeviceNodeState::Uninitialized) {
        initialize(node)?;
    }
    let outcome = add_drivers(node).and_then(|()| start(node));
    match outcome {
        Ok(()) => {
            set_problem(node, None);
            Ok(())
        }
        Err(problem) => {
            set_problem(node, Some(problem));
            if !matches!(problem, Problem::FailedStart(_)) {
                set_state(node, DeviceNodeState::Removed);
            }
            Err(PnpError::Failed(problem))
        }
    }
}

// ---------------------------------------------------------------------------
// Bus enumeration

/// IRP_MN_QUERY_DEVICE_RELATIONS(BusRelations): new children get nodes and
/// are brought up; children no longer reported are removed as if unplugged
/// (spec 02 §1.6).
pub(super) fn enumerate(node: DeviceNode) {
    let Ok(pdo) = pdo_of(node) else { return };
    let parameters =
        Parameters::QueryDeviceRelations { relation_type: DeviceRelationType::BusRelations };
    let answer = send(&pdo, IRP_MN_QUERY_DEVICE_RELATIONS, parameters);
    let Answer { information: Some(PnpInformation::Relations(reported)), io_status } = answer
    else {
        return;
    };
    if !io_status.status.is_success() {
        return;
    }
    let children = with_tree(|t| {
        t.nodes.get(node).map_or_else(Vec::new, |n| {
            n.children
                .iter()
                .filter_map(|c| t.nodes.get(*c).map(|cn| (*c, cn.pdo.clone())))
                .collect()
        })
    });
    for (child, child_pdo) in &children {
        if !reported.contains(child_pdo) {
            surprise_remove_subtree(*child);
        }
    }
    for child_pdo in reported {
        if children.iter().any(|(_, p)| *p == child_pdo) {
            continue;
        }
        let id = |id_type| match send(&child_pdo, IRP_MN_QUERY_ID, Parameters::QueryId { id_type })
        {
            Answer { information: Some(PnpInformation::Id(id)), .. } => Some(id),
            _ => None,
        };
        let device_id = id(BusQueryIdType::DeviceId).unwrap_or_else(|| "UNKNOWN".to_string());
        let instance = id(BusQueryIdType::InstanceId).unwrap_or_else(|| "0".to_string());
        let at = now();
        let child = with_tree(|t| {
            t.insert(Some(node), child_pdo.clone(), format!("{device_id}\\{instance}"), at)
        });
        // A child that cannot start keeps its problem code; siblings go on.
        let _ = bring_up(child);
    }
}

// ---------------------------------------------------------------------------
// Taking devices down

/// The nodes of `node`'s subtree that have a stack, deepest first; an
/// unplugged node waiting for its handles to close is gone already.
fn stacked_subtree(node: DeviceNode) -> Vec<(DeviceNode, DeviceObject)> {
    with_tree(|t| {
        t.subtree_deepest_first(node)
            .into_iter()
            .filter_map(|n| {
                let dn = t.nodes.get(n)?;
                let stacked =
                    has_stack(dn.state) && dn.state != DeviceNodeState::RemovePendingCloses;
                stacked.then(|| (n, dn.pdo.clone()))
            })
            .collect()
    })
}

fn instance_of(node: DeviceNode) -> String {
    with_tree(|t| t.nodes.get(node).map(|n| n.instance_id.clone())).unwrap_or_default()
}

/// IRP_MN_QUERY_REMOVE_DEVICE to the subtree, children first. A failure,
/// or (as Windows 2000 does) a handle still open after every driver
/// agreed, vetoes: CANCEL_REMOVE goes to every node queried, including the
/// one that failed (book l.4866; spec 02 §2.3.2).
fn query_remove_subtree(node: DeviceNode) -> Result<Vec<(DeviceNode, DeviceObject)>, PnpError> {
    // An unplugged device still waiting for its handles to close is gone
    // already; with a handle open it cannot go further (spec 02 §2.3.4).
    let waiting = with_tree(|t| {
        t.subtree_deepest_first(node)
            .into_iter()
            .filter(|n| {
                t.nodes.get(*n).is_some_and(|d| d.state == DeviceNodeState::RemovePendingCloses)
            })
            .collect::<Vec<_>>()
    });
    if let Some(n) = waiting.into_iter().find(|n| pdo_of(*n).is_ok_and(|p| open_handles(&p) > 0)) {
        return Err(PnpError::Vetoed { veto: VetoType::OutstandingOpen, name: instance_of(n) });
    }
    let nodes = stacked_subtree(node);
    let mut queried = Vec::new();
    for (n, pdo) in &nodes {
        queried.push((*n, pdo.clone()));
        let answer = send(pdo, IRP_MN_QUERY_REMOVE_DEVICE, Parameters::None);
        if !answer.status().is_success() {
            cancel_remove(&queried);
            return Err(PnpError::Vetoed { veto: VetoType::Device, name: instance_of(*n) });
        }
        set_state(*n, DeviceNodeState::QueryRemoved);
    }
    if let Some((n, _)) = nodes.iter().find(|(_, pdo)| open_handles(pdo) > 0) {
        cancel_remove(&queried);
        return Err(PnpError::Vetoed { veto: VetoType::OutstandingOpen, name: instance_of(*n) });
    }
    Ok(nodes)
}

fn cancel_remove(queried: &[(DeviceNode, DeviceObject)]) {
    for (n, pdo) in queried.iter().rev() {
        send(pdo, IRP_MN_CANCEL_REMOVE_DEVICE, Parameters::None);
        // The node that vetoed never left Started.
        if state_of(*n) == Some(DeviceNodeState::QueryRemoved) {
            set_state(*n, DeviceNodeState::Started);
        }
    }
}

/// IRP_MN_REMOVE_DEVICE to one node's stack; its drivers unload if it was
/// their last device.
fn remove_stack(node: DeviceNode, pdo: &DeviceObject) {
    send(pdo, IRP_MN_REMOVE_DEVICE, Parameters::None);
    let drivers = with_tree(|t| t.nodes.get_mut(node).map(|n| std::mem::take(&mut n.drivers)));
    for driver in drivers.unwrap_or_default() {
        unload_if_idle(&driver);
    }
    set_state(node, DeviceNodeState::Removed);
}

fn unload_if_idle(driver: &Driver) {
    if driver.devices().is_empty() {
        unload_driver(driver);
    }
}

/// What becomes of a node once its stack is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Afterwards {
    /// The device is gone (uninstalled or unplugged): its node is deleted
    /// and its bus deletes the PDO.
    Delete,
    /// The node stays, disabled, with its PDO, to be enabled again.
    Disable,
}

/// Orderly removal or disabling (Device Manager): QUERY_REMOVE to the
/// subtree, then REMOVE, children first. The children of a removed or
/// disabled device go away; the device itself is deleted or kept disabled.
pub(super) fn remove(node: DeviceNode, afterwards: Afterwards) -> Result<(), PnpError> {
    query_remove_subtree(node)?;
    for n in with_tree(|t| t.subtree_deepest_first(node)) {
        let fate = if n == node { afterwards } else { Afterwards::Delete };
        finish_removal(n, fate);
    }
    Ok(())
}

/// Whether the node has a stack above its PDO that REMOVE must reach.
fn has_stack(state: DeviceNodeState) -> bool {
    matches!(
        state,
        DeviceNodeState::Started
            | DeviceNodeState::QueryStopped
            | DeviceNodeState::Stopped
            | DeviceNodeState::QueryRemoved
            | DeviceNodeState::DriversAdded
            | DeviceNodeState::ResourcesAssigned
            | DeviceNodeState::RemovePendingCloses
    )
}

/// The last step of a removal: REMOVE to the node's stack, then the node
/// is deleted or kept disabled. A device that is gone gets its REMOVE even
/// with no driver above its PDO, so that its bus deletes the PDO.
fn finish_removal(node: DeviceNode, afterwards: Afterwards) {
    let (Some(state), Ok(pdo)) = (state_of(node), pdo_of(node)) else { return };
    if afterwards == Afterwards::Delete {
        root::set_present(&pdo, false);
    }
    if has_stack(state) || afterwards == Afterwards::Delete {
        remove_stack(node, &pdo);
    }
    match afterwards {
        Afterwards::Delete => delete_node(node),
        Afterwards::Disable => set_problem(node, Some(Problem::Disabled)),
    }
}

fn delete_node(node: DeviceNode) {
    set_state(node, DeviceNodeState::Deleted);
    with_tree(|t| t.delete(node));
}

/// Surprise removal (Windows 2000): IRP_MN_SURPRISE_REMOVAL to the subtree
/// at once, children first; then REMOVE, children first, to each node
/// whose handles are closed and whose children are gone. The others wait
/// for their last CloseHandle (book l.5590; spec 02 §2.3.4).
pub(super) fn surprise_remove_subtree(node: DeviceNode) {
    for n in with_tree(|t| t.subtree_deepest_first(node)) {
        let (Some(state), Ok(pdo)) = (state_of(n), pdo_of(n)) else { continue };
        root::set_present(&pdo, false);
        if has_stack(state) && state != DeviceNodeState::RemovePendingCloses {
            send(&pdo, IRP_MN_SURPRISE_REMOVAL, Parameters::None);
        }
        set_state(n, DeviceNodeState::RemovePendingCloses);
    }
    for n in with_tree(|t| t.subtree_deepest_first(node)) {
        remove_if_released(n);
    }
}

/// REMOVE for a surprise-removed node once nothing holds it: no handle
/// open on its stack and no child left. Its parent may then follow.
fn remove_if_released(node: DeviceNode) {
    let released = with_tree(|t| {
        t.nodes.get(node).is_some_and(|n| {
            n.state == DeviceNodeState::RemovePendingCloses && n.children.is_empty()
        })
    });
    if !released || pdo_of(node).is_ok_and(|pdo| open_handles(&pdo) > 0) {
        return;
    }
    let parent = with_tree(|t| t.nodes.get(node).and_then(|n| n.parent));
    finish_removal(node, Afterwards::Delete);
    if let Some(parent) = parent {
        remove_if_released(parent);
    }
}

/// The last handle on a surprise-removed device's stack closed: REMOVE it
/// (and the parents that waited for it) now.
pub(super) fn remove_after_last_close(pdo: &DeviceObject) {
    if let Some(node) = with_tree(|t| t.node_of(pdo)) {
        remove_if_released(node);
    }
}

/// Resource rebalance: QUERY_STOP; if every driver agrees, STOP and START
/// again with the (re)assigned resources; a refusal gets CANCEL_STOP
/// (book l.4870; spec 02 §2.3.3).
pub(super) fn stop_and_restart(node: DeviceNode) -> Result<(), PnpError> {
    let pdo = pdo_of(node)?;
    if state_of(node) != Some(DeviceNodeState::Started) {
        return Err(PnpError::InvalidState(state_of(node).unwrap_or(DeviceNodeState::Deleted)));
    }
    let answer = send(&pdo, IRP_MN_QUERY_STOP_DEVICE, Parameters::None);
    if !answer.status().is_success() {
        send(&pdo, IRP_MN_CANCEL_STOP_DEVICE, Parameters::None);
        return Err(PnpError::Vetoed { veto: VetoType::Device, name: instance_of(node) });
    }
    set_state(node, DeviceNodeState::QueryStopped);
    send(&pdo, IRP_MN_STOP_DEVICE, Parameters::None);
    set_state(node, DeviceNodeState::Stopped);
    match start(node) {
        Ok(()) => Ok(()),
        Err(problem) => {
            set_problem(node, Some(problem));
            Err(PnpError::Failed(problem))
        }
    }
}
