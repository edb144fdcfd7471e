//! The process handle table. A handle's value encodes its slot and the
//! slot's generation, so a closed handle, even one whose slot was reused,
//! is ERROR_INVALID_HANDLE rather than somebody else's file.

use std::fmt;
use std::sync::Arc;

use crate::io::request::Request;
use crate::io::{DeviceObject, FileObject, get_attached_device};
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
    /// A kernel handle (ZwCreateFile): not the process's to close at exit.
    kernel: bool,
    /// The top of the file's device stack, as of stack epoch `top_epoch`
    /// (IoGetRelatedDeviceObject, walked again only after a stack changed).
    top: DeviceObject,
    top_epoch: u64,
    /// Overlapped requests in flight, with the thread that issued each.
    pub pending: Vec<(Arc<Request>, u64)>,
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

pub(crate) fn insert(file: FileObject, overlapped: bool, kernel: bool) -> Handle {
    with_system(|s| {
        let top_epoch = s.stacks_epoch();
        let top = get_attached_device(file.device_object());
        let entry = HandleEntry { file, overlapped, kernel, top, top_epoch, pending: Vec::new() };
        Handle::from_id(s.handles.lock().entries.insert(entry))
    })
}

/// What an open handle refers to.
#[derive(Debug)]
pub(crate) struct Open {
    pub file: FileObject,
    /// The top of the file's device stack, where its requests go.
    pub top: DeviceObject,
    /// Opened with FILE_FLAG_OVERLAPPED.
    pub overlapped: bool,
}

/// The file object, stack top and open mode of a handle.
pub(crate) fn lookup(handle: Handle) -> Result<Open, NtStatus> {
    let id = handle.id().ok_or(STATUS_INVALID_HANDLE)?;
    with_system(|s| {
        let epoch = s.stacks_epoch();
        let mut handles = s.handles.lock();
        let entry = handles.entries.get_mut(id)?;
        if entry.top_epoch != epoch {
            // Let go of the old top before walking: it may be deleted.
            entry.top = entry.file.device_object().clone();
            entry.top = get_attached_device(&entry.top);
            entry.top_epoch = epoch;
        }
        Some(Open {
            file: entry.file.clone(),
            top: entry.top.clone(),
            overlapped: entry.overlapped,
        })
    })
    .ok_or(STATUS_INVALID_HANDLE)
}

/// Remembers an overlapped request in flight on `handle`.
pub(crate) fn add_pending(handle: Handle, request: Arc<Request>, thread: u64) {
    let Some(id) = handle.id() else { return };
    with_system(|s| {
        if let Some(entry) = s.handles.lock().entries.get_mut(id) {
            entry.pending.retain(|(r, _)| r.done().is_none());
            entry.pending.push((request, thread));
        }
    });
}

/// The requests in flight on `handle` that `thread` issued.
pub(crate) fn pending_of(handle: Handle, thread: u64) -> Result<Vec<Arc<Request>>, NtStatus> {
    let id = handle.id().ok_or(STATUS_INVALID_HANDLE)?;
    with_system(|s| {
        let mut handles = s.handles.lock();
        let entry = handles.entries.get_mut(id).ok_or(STATUS_INVALID_HANDLE)?;
        entry.pending.retain(|(r, _)| r.done().is_none());
        Ok(entry.pending.iter().filter(|(_, t)| *t == thread).map(|(r, _)| r.clone()).collect())
    })
}

/// Takes `handle` out of the table: its file object, and the overlapped
/// requests still in flight on it.
pub(crate) fn remove(handle: Handle) -> Result<(FileObject, Vec<Arc<Request>>), NtStatus> {
    let id = handle.id().ok_or(STATUS_INVALID_HANDLE)?;
    let entry =
        with_system(|s| s.handles.lock().entries.remove(id)).ok_or(STATUS_INVALID_HANDLE)?;
    let pending = entry.pending.into_iter().filter(|(r, _)| r.done().is_none()).map(|(r, _)| r);
    Ok((entry.file, pending.collect()))
}

/// The requests in flight that `thread` issued, on any handle; with
/// `None`, every thread's.
pub(crate) fn pending_of_thread(thread: Option<u64>) -> Vec<Arc<Request>> {
    with_system(|s| {
        let mut handles = s.handles.lock();
        let mut out = Vec::new();
        for (_, entry) in handles.entries.iter_mut() {
            entry.pending.retain(|(r, _)| r.done().is_none());
            let mine = entry.pending.iter().filter(|(_, t)| thread.is_none_or(|me| *t == me));
            out.extend(mine.map(|(r, _)| r.clone()));
        }
        out
    })
}

/// The process's own (not kernel) handles, in handle-table order.
pub(crate) fn user_handles() -> Vec<Handle> {
    with_system(|s| {
        let handles = s.handles.lock();
        handles
            .entries
            .iter()
            .filter(|(_, e)| !e.kernel)
            .map(|(id, _)| Handle::from_id(id))
            .collect()
    })
}
