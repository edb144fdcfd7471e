//! The device tree as WinDbg's `!devnode` and `!devstack` print it, for
//! tests, teaching notebooks and failure reports.
//!
//! Addresses are the simulator's stand-ins: a node's is `0x8900_0000` plus
//! its index, a device's [`DeviceObject::address`], and a device extension
//! sits right after its 0xB8-byte DEVICE_OBJECT, as on x86 NT.

use std::fmt::Write;

use super::manager::with_tree;
use super::tree::{DevNode, DeviceNode, DeviceTree};
use crate::io::DeviceObject;

const DEVICE_OBJECT_SIZE: u32 = 0xB8;

fn node_address(node: DeviceNode) -> u32 {
    0x8900_0000 | (node.index() << 4)
}

/// `!devnode <node>`: its place in the tree, instance path, service,
/// problem, and state history, newest first.
pub fn devnode_text(node: DeviceNode) -> String {
    with_tree(|t| {
        let mut out = String::new();
        if let Some(n) = t.nodes.get(node) {
            write_node(&mut out, t, node, n, "");
        }
        out
    })
}

fn write_node(out: &mut String, tree: &DeviceTree, node: DeviceNode, n: &DevNode, indent: &str) {
    let link = |id: Option<DeviceNode>| id.map_or(0, node_address);
    let sibling = n.parent.and_then(|p| tree.nodes.get(p)).and_then(|p| {
        let at = p.children.iter().position(|c| *c == node)?;
        p.children.get(at + 1).copied()
    });
    let _ = writeln!(
        out,
        "{indent}DevNode {:#010x} for PDO {:#010x}",
        node_address(node),
        n.pdo.address()
    );
    let _ = writeln!(
        out,
        "{indent}  Parent {:#010x}   Sibling {:#010x}   Child {:#010x}",
        link(n.parent),
        link(sibling),
        link(n.children.first().copied())
    );
    let _ = writeln!(out, "{indent}  InstancePath is \"{}\"", n.instance_id);
    if let Some(service) = n.service {
        let _ = writeln!(out, "{indent}  ServiceName is \"{}\"", service.name);
    }
    let _ = writeln!(out, "{indent}  State = {} ({:#x})", n.state, n.state.value());
    let mut earlier = n.history.iter().rev().skip(1);
    if let Some(previous) = earlier.next() {
        let _ = writeln!(
            out,
            "{indent}  Previous State = {} ({:#x})",
            previous.state,
            previous.state.value()
        );
    }
    let count = n.history.len().saturating_sub(1);
    for (i, change) in n.history.iter().take(count).enumerate().rev() {
        let _ = writeln!(
            out,
            "{indent}  StateHistory[{i:02}] = {} ({:#x})",
            change.state,
            change.state.value()
        );
    }
    if let Some(problem) = n.problem {
        let _ = writeln!(out, "{indent}  Problem = {problem:?} (CM_PROB {})", problem.code());
    }
}

/// `!devnode 0 1`: the whole tree from its root, children indented.
pub fn tree_text() -> String {
    with_tree(|t| {
        let mut out = String::new();
        if let Some(root) = t.root {
            let _ = writeln!(out, "Dumping IopRootDeviceNode (= {:#010x})", node_address(root));
            write_subtree(&mut out, t, root, "");
        }
        out
    })
}

fn write_subtree(out: &mut String, tree: &DeviceTree, node: DeviceNode, indent: &str) {
    let Some(n) = tree.nodes.get(node) else { return };
    write_node(out, tree, node, n, indent);
    let deeper = format!("{indent}  ");
    for child in &n.children {
        write_subtree(out, tree, *child, &deeper);
    }
}

/// `!devstack <device>`: the stack `device` is in, top first, `>` marking
/// `device`, then its PnP node.
pub fn devstack_text(device: &DeviceObject) -> String {
    let mut top = device.clone();
    while let Some(above) = top.attached_device() {
        top = above;
    }
    let mut stack = vec![top.clone()];
    while let Some(below) = stack.last().and_then(DeviceObject::lower_device) {
        stack.push(below);
    }
    let mut out = String::from("  !DevObj   !DrvObj            !DevExt   ObjectName\n");
    for d in &stack {
        let mark = if d == device { '>' } else { ' ' };
        let driver = format!("\\Driver\\{}", d.driver_object().name());
        let name = d.name().map_or("", |n| n.trim_start_matches("\\Device\\"));
        let _ = writeln!(
            out,
            "{mark} {:08x}  {driver:<18} {:08x}  {name}",
            d.address(),
            d.address() + DEVICE_OBJECT_SIZE
        );
    }
    if let Some(pdo) = stack.last() {
        with_tree(|t| {
            if let Some(node) = t.node_of(pdo)
                && let Some(n) = t.nodes.get(node)
            {
                let _ = writeln!(out, "!DevNode {:08x} :", node_address(node));
                let _ = writeln!(out, "  DeviceInst is \"{}\"", n.instance_id);
                if let Some(service) = n.service {
                    let _ = writeln!(out, "  ServiceName is \"{}\"", service.name);
                }
            }
        });
    }
    out
}
