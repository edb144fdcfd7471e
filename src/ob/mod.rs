//! Object manager: how kernel objects are named and addressed.
//!
//! Objects that the simulator owns live in [`Arena`]s and are addressed by
//! typed, generation-checked [`Id`]s, so a reference kept past an object's
//! deletion is a detected fault instead of a hit on whatever reuses the slot.
//! Objects that drivers own (locks, events, DPCs) carry an [`ObjectId`]
//! assigned on first use, for traces and reports. The [`Namespace`] maps
//! names (`\Device\...`, `\??\...`) to devices and symbolic links.

mod arena;
mod namespace;
mod object;

pub use arena::{Arena, Id};
pub use namespace::Namespace;
pub(crate) use object::IdCell;
pub use object::{ObjectId, ObjectInfo, ObjectKind};

/// ObReferenceObject on a device: another counted reference.
pub fn reference_object(device: &crate::io::DeviceObject) -> crate::io::DeviceObject {
    device.clone()
}

/// ObDereferenceObject: gives a reference back; a deleted device's memory
/// goes with its last one.
pub fn dereference_object(device: crate::io::DeviceObject) {
    drop(device);
}
