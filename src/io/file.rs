//! File objects: what an open handle refers to (book l.4383).
//!
//! A file object names the device it was opened on, the part of the path
//! after the device name (FileName), the driver's FsContext words, and the
//! current byte offset that synchronous reads and writes use (only
//! SetFilePointer moves it for a device: spec §1.14).

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::device::DeviceObject;
use crate::ke::{Event, EventType, set_event};

pub(crate) struct FileInner {
    file_name: String,
    device: DeviceObject,
    synchronous: bool,
    current_byte_offset: AtomicI64,
    fs_context: AtomicUsize,
    fs_context2: AtomicUsize,
    /// Made when the handle is closed while IRPs still refer to the file:
    /// set each time one lets go, for the closer waiting to send
    /// IRP_MJ_CLOSE.
    closing: OnceLock<Event>,
}

/// A file object (FILE_OBJECT). Cloning references it.
#[derive(Clone)]
pub struct FileObject(Arc<FileInner>);

impl PartialEq for FileObject {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for FileObject {}

impl fmt::Debug for FileObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileObject({:?} on {})", self.0.file_name, self.0.device.label())
    }
}

impl FileObject {
    pub(crate) fn new(device: &DeviceObject, file_name: &str, synchronous: bool) -> FileObject {
        FileObject(Arc::new(FileInner {
            file_name: file_name.to_string(),
            device: device.clone(),
            synchronous,
            current_byte_offset: AtomicI64::new(0),
            fs_context: AtomicUsize::new(0),
            fs_context2: AtomicUsize::new(0),
            closing: OnceLock::new(),
        }))
    }

    /// Whether nothing but this reference holds the file (no IRP, no call
    /// in progress): NT sends IRP_MJ_CLOSE when the last one goes.
    pub(crate) fn is_last_reference(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }

    /// The event set each time an IRP lets go of the file, from now on.
    pub(crate) fn closing_event(&self) -> Event {
        self.0.closing.get_or_init(|| Event::new(EventType::SynchronizationEvent, false)).clone()
    }

    /// An IRP's stack location lets go of the file: wakes a closer waiting
    /// for the file's last IRP, if there is one.
    #[inline]
    pub(crate) fn release(self) {
        let closing = self.0.closing.get().cloned();
        drop(self);
        if let Some(event) = closing {
            set_event(&event, 0, false);
        }
    }

    /// FileObject->FileName: the path after the device name, "" for a plain
    /// open of the device.
    pub fn file_name(&self) -> &str {
        &self.0.file_name
    }

    /// FileObject->DeviceObject: the device the open was for.
    pub fn device_object(&self) -> &DeviceObject {
        &self.0.device
    }

    /// Opened for synchronous I/O (FO_SYNCHRONOUS_IO: no FILE_FLAG_OVERLAPPED).
    pub fn is_synchronous(&self) -> bool {
        self.0.synchronous
    }

    /// FileObject->CurrentByteOffset.
    pub fn current_byte_offset(&self) -> i64 {
        self.0.current_byte_offset.load(Ordering::Acquire)
    }

    pub(crate) fn set_current_byte_offset(&self, offset: i64) {
        self.0.current_byte_offset.store(offset, Ordering::Release);
    }

    /// FileObject->FsContext, for the driver's per-open state.
    pub fn fs_context(&self) -> usize {
        self.0.fs_context.load(Ordering::Acquire)
    }

    pub fn set_fs_context(&self, value: usize) {
        self.0.fs_context.store(value, Ordering::Release);
    }

    /// FileObject->FsContext2.
    pub fn fs_context2(&self) -> usize {
        self.0.fs_context2.load(Ordering::Acquire)
    }

    pub fn set_fs_context2(&self, value: usize) {
        self.0.fs_context2.store(value, Ordering::Release);
    }
}
