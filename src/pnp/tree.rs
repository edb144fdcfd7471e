//! The device tree: a node per device a bus reported, with its stack, ids,
//! PnP state and the history of its state changes (book l.4903–4915).
//!
//! States use NT's device-node names and values (PNP_DEVNODE_STATE, as
//! WinDbg's `!devnode` prints them). The PnP manager changes them, on its
//! worker, as the sequences of spec 02 §2.3 run.

use std::collections::BTreeMap;
use std::fmt;

use super::capabilities::DeviceCapabilities;
use super::install::Service;
use super::resources::{CmResourceList, ResourceRequirements};
use crate::io::{DeviceObject, Driver};
use crate::ob::{Arena, Id};
use crate::status::NtStatus;

/// A device node's PnP state (PNP_DEVNODE_STATE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceNodeState {
    /// Reported by its bus; ids not yet queried.
    Uninitialized,
    /// Ids, capabilities and requirements queried.
    Initialized,
    /// Every driver of the stack has had AddDevice.
    DriversAdded,
    /// Resources assigned; IRP_MN_START_DEVICE about to be sent.
    ResourcesAssigned,
    Started,
    /// IRP_MN_QUERY_STOP_DEVICE succeeded.
    QueryStopped,
    /// IRP_MN_STOP_DEVICE sent (resource rebalance).
    Stopped,
    /// IRP_MN_QUERY_REMOVE_DEVICE succeeded.
    QueryRemoved,
    /// IRP_MN_SURPRISE_REMOVAL sent; IRP_MN_REMOVE_DEVICE waits for the last
    /// handle to close.
    RemovePendingCloses,
    /// IRP_MN_REMOVE_DEVICE sent; the node stays (disabled, or a failed
    /// start) until it is started again or deleted.
    Removed,
    /// Gone from the tree.
    Deleted,
}

impl DeviceNodeState {
    /// NT's value (`!devnode` prints it after the name).
    pub fn value(self) -> u32 {
        match self {
            DeviceNodeState::Uninitialized => 0x301,
            DeviceNodeState::Initialized => 0x302,
            DeviceNodeState::DriversAdded => 0x303,
            DeviceNodeState::ResourcesAssigned => 0x304,
            DeviceNodeState::Started => 0x308,
            DeviceNodeState::QueryStopped => 0x309,
            DeviceNodeState::Stopped => 0x30A,
            DeviceNodeState::QueryRemoved => 0x310,
            DeviceNodeState::RemovePendingCloses => 0x311,
            DeviceNodeState::Removed => 0x312,
            DeviceNodeState::Deleted => 0x314,
        }
    }
}

impl fmt::Display for DeviceNodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceNode{self:?}")
    }
}

/// Why a device is not working (Device Manager's problem code, CM_PROB_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// CM_PROB_FAILED_INSTALL (28): no installed package matches its ids.
    NoDriver,
    /// CM_PROB_FAILED_ADD (31): a driver's DriverEntry or AddDevice failed.
    FailedAdd(NtStatus),
    /// CM_PROB_FAILED_START (10): IRP_MN_START_DEVICE failed.
    FailedStart(NtStatus),
    /// CM_PROB_DISABLED (22): disabled by the user.
    Disabled,
}

impl Problem {
    /// The CM_PROB_* number.
    pub fn code(self) -> u32 {
        match self {
            Problem::NoDriver => 28,
            Problem::FailedAdd(_) => 31,
            Problem::FailedStart(_) => 10,
            Problem::Disabled => 22,
        }
    }
}

/// One entry of a node's state history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateChange {
    /// Virtual time of the change, in 100 ns ticks.
    pub at_ticks: u64,
    pub state: DeviceNodeState,
}

/// A device in the tree.
#[derive(Debug)]
pub struct DevNode {
    pub(super) instance_id: String,
    pub(super) parent: Option<DeviceNode>,
    pub(super) children: Vec<DeviceNode>,
    pub(super) pdo: DeviceObject,
    pub(super) hardware_ids: Vec<String>,
    pub(super) compatible_ids: Vec<String>,
    pub(super) description: Option<String>,
    /// The function driver's service, once chosen.
    pub(super) service: Option<Service>,
    pub(super) lower_filters: Vec<Service>,
    pub(super) upper_filters: Vec<Service>,
    /// The drivers whose AddDevice built the stack, bottom-up.
    pub(super) drivers: Vec<Driver>,
    pub(super) state: DeviceNodeState,
    pub(super) problem: Option<Problem>,
    pub(super) history: Vec<StateChange>,
    pub(super) capabilities: DeviceCapabilities,
    pub(super) requirements: ResourceRequirements,
    /// The raw resources it was started with.
    pub(super) resources: Option<CmResourceList>,
}

/// A handle to a device node (generation-checked: a handle to a deleted
/// node is refused, never confused with a newer one).
pub type DeviceNode = Id<DevNode>;

/// Every device node of a machine.
#[derive(Debug, Default)]
pub struct DeviceTree {
    pub(super) nodes: Arena<DevNode>,
    pub(super) root: Option<DeviceNode>,
    /// Per device id, the next instance number (`Root\UNKNOWN\0003`).
    instances: BTreeMap<String, u32>,
}

impl DeviceTree {
    /// The instance path of a PnP device's PDO.
    pub(crate) fn instance_id(&self, pdo: &DeviceObject) -> Option<String> {
        self.node_of(pdo).and_then(|n| self.nodes.get(n)).map(|n| n.instance_id.clone())
    }

    /// The node whose PDO is `pdo`.
    pub(crate) fn node_of(&self, pdo: &DeviceObject) -> Option<DeviceNode> {
        self.nodes.iter().find(|(_, n)| n.pdo == *pdo).map(|(id, _)| id)
    }

    /// The next instance number of `device_id`.
    pub(super) fn next_instance(&mut self, device_id: &str) -> u32 {
        let counter = self.instances.entry(device_id.to_ascii_uppercase()).or_insert(0);
        let n = *counter;
        *counter += 1;
        n
    }

    /// Adds a node for `pdo` under `parent`, Uninitialized.
    pub(super) fn insert(
        &mut self,
        parent: Option<DeviceNode>,
        pdo: DeviceObject,
        instance_id: String,
        now_ticks: u64,
    ) -> DeviceNode {
        let state = DeviceNodeState::Uninitialized;
        let node = self.nodes.insert(DevNode {
            instance_id,
            parent,
            children: Vec::new(),
            pdo,
            hardware_ids: Vec::new(),
            compatible_ids: Vec::new(),
            description: None,
            service: None,
            lower_filters: Vec::new(),
            upper_filters: Vec::new(),
            drivers: Vec::new(),
            state,
            problem: None,
            history: vec![StateChange { at_ticks: now_ticks, state }],
            capabilities: DeviceCapabilities::default(),
            requirements: ResourceRequirements::default(),
            resources: None,
        });
        if let Some(parent) = parent.and_then(|p| self.nodes.get_mut(p)) {
            parent.children.push(node);
        }
        node
    }

    /// Moves a node to `state`, recording the change.
    pub(super) fn set_state(&mut self, node: DeviceNode, state: DeviceNodeState, now_ticks: u64) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.state = state;
            n.history.push(StateChange { at_ticks: now_ticks, state });
        }
    }

    /// Takes a deleted node out of the tree (its parent forgets it).
    pub(super) fn delete(&mut self, node: DeviceNode) {
        let parent = self.nodes.get(node).and_then(|n| n.parent);
        if let Some(parent) = parent.and_then(|p| self.nodes.get_mut(p)) {
            parent.children.retain(|c| *c != node);
        }
        self.nodes.remove(node);
    }

    /// `node` and its descendants, deepest first (the order removal takes).
    pub(super) fn subtree_deepest_first(&self, node: DeviceNode) -> Vec<DeviceNode> {
        let mut out = Vec::new();
        self.collect_post_order(node, &mut out);
        out
    }

    fn collect_post_order(&self, node: DeviceNode, out: &mut Vec<DeviceNode>) {
        if let Some(n) = self.nodes.get(node) {
            for child in &n.children {
                self.collect_post_order(*child, out);
            }
            out.push(node);
        }
    }
}
