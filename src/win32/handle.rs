//! The process handle table. A handle's value encodes its slot and the
//! slot's generation, so a closed handle, even one whose slot was reused,
//! is ERROR_INVALID_HANDLE rather than somebody else's file.

use std::fmt;

use crate::io::FileObject;
use crate::ob::{Arena, Id};
use crate::sim::system::with_system;
use crate::status::{NtStatus, STATUS_INVALID_HANDLE};

/// A Win32 HANDLE.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handle(pub u64);

/// INVALID_HANDLE_VALUE.
pub const INVALID_HANDLE_VALUE: Handle = Handle(u64::MAX);

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({:#x})", self.0)
    }
}

#[derive(Debug)]
pub(crate) struct HandleEntry {
    pub file: FileObject,
    pub overlapped: bool,
}

#[derive(Debug, Default)]
pub struct HandleTable {
    entries: Arena<HandleEntry>,
}

impl Handle {
    fn from_id(id: Id<HandleEntry>) -> Handle {
        Handle((u64::from(id.generation()) << 32) | ((u64::from(id.index()) + 1) << 2))
    }

    fn id(self) -> Option<Id<HandleEntry>> {
        let low = (self.0 & 0xFFFF_FFFF) as u32;
        if low == 0 || low & 3 != 0 || self == INVALID_HANDLE_VALUE {
            return None;
        }
        Some(Id::from_parts((low >> 2) - 1, (self.0 >> 32) as u32))
    }
}

pub(crate) fn insert(file: FileObject, overlapped: bool) -> Handle {
    with_system(|s| {
        Handle::from_id(s.handles.lock().entries.insert(HandleEntry { file, overlapped }))
    })
}

/// The file object and open mode of a handle.
pub(crate) fn lookup(handle: Handle) -> Result<(FileObject, bool), NtStatus> {
    let id = handle.id().ok_or(STATUS_INVALID_HANDLE)?;
    with_system(|s| s.handles.lock().entries.get(id).map(|e| (e.file.clone(), e.overlapped)))
        .ok_or(STATUS_INVALID_HANDLE)
}

pub(crate) fn remove(handle: Handle) -> Result<FileObject, NtStatus> {
    let id = handle.id().ok_or(STATUS_INVALID_HANDLE)?;
    with_system(|s| s.handles.lock().entries.remove(id).map(|e| e.file))
        .ok_or(STATUS_INVALID_HANDLE)
}
