//! Identity of kernel objects that drivers own (spin locks, events, timers,
//! DPCs, threads, interrupt objects).
//!
//! Drivers embed these objects in their own structures, as NT drivers embed a
//! KEVENT in a device extension, so they are not arena entries. Each carries
//! an [`IdCell`] that the machine fills on first use with a small number, in
//! the deterministic order of first use, so traces and reports can name it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sim;

/// A kernel object's number within one machine run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub u32);

/// What an object is, for printing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    SpinLock,
    Event,
    Timer,
    Dpc,
    Thread,
    Interrupt,
    Device,
    Driver,
}

impl ObjectKind {
    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::SpinLock => "lock",
            ObjectKind::Event => "event",
            ObjectKind::Timer => "timer",
            ObjectKind::Dpc => "dpc",
            ObjectKind::Thread => "thread",
            ObjectKind::Interrupt => "interrupt",
            ObjectKind::Device => "device",
            ObjectKind::Driver => "driver",
        }
    }
}

/// How a trace or report names an object: `lock#3` or `lock "BufferLock"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub kind: ObjectKind,
    pub name: Option<Arc<str>>,
}

impl ObjectInfo {
    pub(crate) fn describe(&self, id: ObjectId) -> Describe<'_> {
        Describe { info: self, id }
    }
}

pub(crate) struct Describe<'a> {
    info: &'a ObjectInfo,
    id: ObjectId,
}

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.info.name {
            Some(name) => write!(f, "{} \"{}\"", self.info.kind.label(), name),
            None => write!(f, "{}#{}", self.info.kind.label(), self.id.0),
        }
    }
}

/// The lazily assigned id of one object: `(machine tag << 32) | (id + 1)`,
/// zero until first use. An object carried into another machine gets a fresh
/// id there, so ids never collide across runs.
#[derive(Debug, Default)]
pub(crate) struct IdCell(AtomicU64);

impl IdCell {
    pub(crate) const fn new() -> IdCell {
        IdCell(AtomicU64::new(0))
    }

    /// This object's id in the current machine, assigning one if needed.
    #[inline]
    pub(crate) fn get(&self, kind: ObjectKind, name: Option<&str>) -> ObjectId {
        let tag = sim::machine_tag();
        let packed = self.0.load(Ordering::Relaxed);
        if packed != 0 && (packed >> 32) as u32 == tag {
            return ObjectId((packed as u32).wrapping_sub(1));
        }
        self.assign(tag, packed, kind, name)
    }

    #[cold]
    fn assign(&self, tag: u32, seen: u64, kind: ObjectKind, name: Option<&str>) -> ObjectId {
        let id = sim::register_object(ObjectInfo { kind, name: name.map(Arc::from) });
        let packed = (u64::from(tag) << 32) | u64::from(id.0 + 1);
        // Two threaded-mode processors may race to assign; the first wins and
        // the loser's number stays unused (threaded mode keeps no trace).
        match self.0.compare_exchange(seen, packed, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => id,
            Err(current) => ObjectId((current as u32).wrapping_sub(1)),
        }
    }
}
