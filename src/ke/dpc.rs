//! Deferred procedure calls: KeInitializeDpc, KeInsertQueueDpc,
//! KeRemoveQueueDpc, KeSetTargetProcessorDpc (book l.11586–11660).
//!
//! A DPC is queued on a processor and runs there at DISPATCH_LEVEL as soon as
//! that processor's IRQL drops below DISPATCH_LEVEL: at once, before the
//! queuing call returns, if it was queued from PASSIVE_LEVEL code. Queuing a
//! DPC that is already queued does nothing and returns FALSE, so requests
//! coalesce into one run.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::irql::DISPATCH_LEVEL;
use crate::ob::{IdCell, ObjectId, ObjectKind};
use crate::sim::pcr::{self, Mode};
use crate::sim::state::{SimState, with_sim};
use crate::sim::{self, threaded};
use crate::sync::Mutex;
use crate::trace::Event;
use crate::verifier::{self, Rule};

/// A DeferredRoutine: (Dpc, SystemArgument1, SystemArgument2); the
/// DeferredContext is whatever the closure captures.
type DeferredRoutine = dyn Fn(&Dpc, usize, usize) + Send + Sync;

/// No target processor: the DPC runs on the processor that queues it.
const NO_TARGET: u32 = u32::MAX;

pub(crate) struct DpcInner {
    id: IdCell,
    name: Option<&'static str>,
    routine: Box<DeferredRoutine>,
    pub(crate) queued: AtomicBool,
    /// SystemArgument1 and SystemArgument2 of the pending run.
    args: Mutex<(usize, usize)>,
    target: AtomicU32,
    /// Bumped by every insertion; threaded mode skips stale queue entries.
    pub(crate) generation: AtomicU64,
}

impl fmt::Debug for DpcInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpc").field("name", &self.name).finish_non_exhaustive()
    }
}

impl DpcInner {
    pub(crate) fn id(&self) -> ObjectId {
        self.id.get(ObjectKind::Dpc, self.name)
    }

    fn target(&self) -> Option<u32> {
        let target = self.target.load(Ordering::Relaxed);
        (target != NO_TARGET).then_some(target)
    }
}

/// A KDPC. Cloning gives another handle to the same DPC.
#[derive(Clone, Debug)]
pub struct Dpc {
    inner: Arc<DpcInner>,
}

impl Dpc {
    /// KeInitializeDpc: `routine(dpc, SystemArgument1, SystemArgument2)`;
    /// the DeferredContext is whatever the closure captures.
    pub fn new(routine: impl Fn(&Dpc, usize, usize) + Send + Sync + 'static) -> Dpc {
        Dpc::build(None, Box::new(routine))
    }

    /// A DPC that traces and reports print by name.
    pub fn named(
        name: &'static str,
        routine: impl Fn(&Dpc, usize, usize) + Send + Sync + 'static,
    ) -> Dpc {
        Dpc::build(Some(name), Box::new(routine))
    }

    fn build(name: Option<&'static str>, routine: Box<DeferredRoutine>) -> Dpc {
        Dpc {
            inner: Arc::new(DpcInner {
                id: IdCell::new(),
                name,
                routine,
                queued: AtomicBool::new(false),
                args: Mutex::new((0, 0)),
                target: AtomicU32::new(NO_TARGET),
                generation: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn inner(&self) -> &Arc<DpcInner> {
        &self.inner
    }
}

/// KeInsertQueueDpc: queues the DPC with its two system arguments; FALSE if
/// it was already queued (the arguments of the first request stand).
pub fn insert_queue_dpc(dpc: &Dpc, argument1: usize, argument2: usize) -> bool {
    let inner = &dpc.inner;
    let id = inner.id();
    let cpu = pcr::cpu();
    match pcr::require_machine("KeInsertQueueDpc") {
        Mode::Sim => {
            let (target, queued) = with_sim(|s| {
                let target = inner.target().unwrap_or(cpu);
                (target, queue_in(s, inner, target, (argument1, argument2)))
            });
            sim::point(Event::DpcQueue { cpu: target, dpc: id, queued });
            queued
        }
        _ => {
            if inner.queued.swap(true, Ordering::AcqRel) {
                return false;
            }
            *inner.args.lock() = (argument1, argument2);
            let generation = inner.generation.fetch_add(1, Ordering::AcqRel) + 1;
            threaded::queue_dpc(inner.clone(), generation, inner.target());
            true
        }
    }
}

/// Queues `inner` on simulated processor `cpu` unless it is already queued.
pub(crate) fn queue_in(
    s: &mut SimState,
    inner: &Arc<DpcInner>,
    cpu: u32,
    args: (usize, usize),
) -> bool {
    if s.halted || inner.queued.swap(true, Ordering::AcqRel) {
        return false;
    }
    *inner.args.lock() = args;
    let cpu = cpu as usize % s.cpus.len();
    s.cpus[cpu].dpcs.push_back(inner.clone());
    true
}

/// KeRemoveQueueDpc: takes the DPC off its queue; FALSE if it was not queued.
pub fn remove_queue_dpc(dpc: &Dpc) -> bool {
    let inner = &dpc.inner;
    let id = inner.id();
    match pcr::require_machine("KeRemoveQueueDpc") {
        Mode::Sim => {
            let removed = with_sim(|s| {
                if !inner.queued.swap(false, Ordering::AcqRel) {
                    return false;
                }
                for cpu in &mut s.cpus {
                    cpu.dpcs.retain(|d| !Arc::ptr_eq(d, inner));
                }
                true
            });
            sim::point(Event::DpcRemove { dpc: id, removed });
            removed
        }
        _ => inner.queued.swap(false, Ordering::AcqRel),
    }
}

/// KeSetTargetProcessorDpc: run the DPC on processor `number` (taken modulo
/// the number of processors, the port's choice for an out-of-range number).
pub fn set_target_processor_dpc(dpc: &Dpc, number: u32) {
    dpc.inner.target.store(number, Ordering::Relaxed);
}

/// KeGetCurrentProcessorNumber.
pub fn get_current_processor_number() -> u32 {
    pcr::cpu()
}

/// Runs one dequeued DPC at DISPATCH_LEVEL and checks that it left the IRQL
/// as it found it (bug check 0xC8 otherwise).
pub(crate) fn run_dpc(inner: &Arc<DpcInner>) {
    let (argument1, argument2) = *inner.args.lock();
    let dpc = Dpc { inner: inner.clone() };
    (inner.routine)(&dpc, argument1, argument2);
    let irql = pcr::irql();
    if irql != DISPATCH_LEVEL {
        let p1 = (u64::from(irql.0) << 16) | (u64::from(DISPATCH_LEVEL.0) << 8) | 2;
        verifier::bug_check(
            Rule::DpcReturnedChangedIrql,
            [p1, u64::from(inner.id().0), 0],
            format!("a DPC routine returned at {irql}"),
        );
    }
}

/// The body of a simulated DPC frame: drains the processor's DPC queue, as
/// KiRetireDpcList does.
pub(crate) fn retire_dpc_list_sim(cpu: u32) {
    loop {
        let next = with_sim(|s| {
            let dpc = s.cpus.get_mut(cpu as usize)?.dpcs.pop_front()?;
            dpc.queued.store(false, Ordering::Release);
            Some(dpc)
        });
        let Some(dpc) = next else { break };
        sim::point(Event::DpcRun { cpu, dpc: dpc.id() });
        run_dpc(&dpc);
    }
}
