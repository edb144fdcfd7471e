//! The memory an IRP carries: user memory (what a caller's buffer is), MDLs
//! over it for direct I/O, and the mapping MmGetSystemAddressForMdlSafe gives.
//!
//! A simulated process's buffer is a shared byte region: the I/O manager and a
//! driver reach the very bytes the caller sees, as direct and neither I/O do
//! on Windows (book l.4419–4426). Access is by copy or through a short
//! closure, never by a reference held across a kernel call.

use std::fmt;
use std::sync::Arc;

use crate::sync::Mutex;

/// A region of a caller's memory (the pages behind a Win32 buffer).
#[derive(Clone)]
pub struct UserMemory(Arc<Mutex<Vec<u8>>>);

impl fmt::Debug for UserMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserMemory({} bytes)", self.len())
    }
}

/// Two views are equal when they are the same memory.
impl PartialEq for UserMemory {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl UserMemory {
    pub fn new(bytes: Vec<u8>) -> UserMemory {
        UserMemory(Arc::new(Mutex::new(bytes)))
    }

    /// Whether this is the only view of the region (so it can be reused).
    pub(crate) fn is_unique(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }

    /// The region's allocated size.
    pub(crate) fn capacity(&self) -> usize {
        self.0.lock().capacity()
    }

    /// Makes the region hold `bytes`, reusing its allocation.
    pub(crate) fn refill(&self, bytes: &[u8]) {
        let mut region = self.0.lock();
        region.clear();
        region.extend_from_slice(bytes);
    }

    pub fn zeroed(length: usize) -> UserMemory {
        UserMemory::new(vec![0; length])
    }

    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies out the region's bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.0.lock().clone()
    }

    /// Runs `f` on the bytes. `f` must not make kernel calls.
    pub fn with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.0.lock())
    }

    /// Runs `f` on the bytes, mutably. `f` must not make kernel calls.
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        f(&mut self.0.lock())
    }

    /// Copies `bytes` in at `offset`; returns how many fit.
    pub fn write(&self, offset: usize, bytes: &[u8]) -> usize {
        self.with_mut(|region| {
            let Some(room) = region.get_mut(offset..) else { return 0 };
            let n = room.len().min(bytes.len());
            room[..n].copy_from_slice(&bytes[..n]);
            n
        })
    }

    /// Copies out up to `out.len()` bytes from `offset`; returns how many.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> usize {
        self.with(|region| {
            let Some(from) = region.get(offset..) else { return 0 };
            let n = from.len().min(out.len());
            out[..n].copy_from_slice(&from[..n]);
            n
        })
    }
}

/// A structure a stack location's parameters point to (DEVICE_CAPABILITIES,
/// a POWER_SEQUENCE): every location that copies the parameters reaches the
/// same structure, as the pointer would in NT. Access is by a short closure.
pub struct Shared<T>(Arc<Mutex<T>>);

impl<T> Shared<T> {
    pub fn new(value: T) -> Shared<T> {
        Shared(Arc::new(Mutex::new(value)))
    }

    /// Runs `f` on the structure. `f` must not make kernel calls.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0.lock())
    }

    /// Runs `f` on the structure, mutably. `f` must not make kernel calls.
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock())
    }
}

impl<T: Clone> Shared<T> {
    /// A copy of the structure as it is now.
    pub fn get(&self) -> T {
        self.0.lock().clone()
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

/// Two views are equal when they are the same structure.
impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.lock().fmt(f)
    }
}

/// A memory descriptor list: locked pages of a caller's buffer (IoAllocateMdl
/// + MmProbeAndLockPages, done by the I/O manager for direct I/O).
#[derive(Clone, Debug)]
pub struct Mdl {
    memory: UserMemory,
    byte_count: usize,
}

impl Mdl {
    pub(crate) fn new(memory: UserMemory) -> Mdl {
        let byte_count = memory.len();
        Mdl { memory, byte_count }
    }

    /// MmGetMdlByteCount.
    pub fn byte_count(&self) -> usize {
        self.byte_count
    }
}

/// MmGetSystemAddressForMdlSafe: a kernel view of the MDL's pages. Never
/// fails in the simulator (the pages are always resident).
pub fn get_system_address_for_mdl_safe(mdl: &Mdl) -> UserMemory {
    mdl.memory.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_are_bounded_by_the_region() {
        let memory = UserMemory::new(b"abcdef".to_vec());
        assert_eq!(memory.write(4, b"XYZ"), 2);
        assert_eq!(memory.to_vec(), b"abcdXY");
        let mut out = [0u8; 4];
        assert_eq!(memory.read(3, &mut out), 3);
        assert_eq!(&out[..3], b"dXY");
        assert_eq!(memory.write(9, b"Q"), 0);
        let mdl = Mdl::new(memory.clone());
        assert_eq!(mdl.byte_count(), 6);
        get_system_address_for_mdl_safe(&mdl).write(0, b"m");
        assert_eq!(memory.to_vec(), b"mbcdXY", "the view is the caller's memory");
    }
}
