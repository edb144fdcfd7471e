//! Interrupt objects: connection to a line, ISR dispatch at DIRQL, and
//! KeSynchronizeExecution (book l.11304–11347, l.11502–11514).
//!
//! When a line's request is delivered to a processor whose IRQL is below the
//! line's DIRQL, that processor raises to the DIRQL and calls the connected
//! ISRs in connection order, each under its interrupt spin lock, until one
//! returns TRUE. KeSynchronizeExecution takes the same lock at the same
//! level, so a critical-section routine and the ISR exclude each other on
//! every processor.

use std::fmt;
use std::sync::Arc;

use super::irql::{self, Irql, PASSIVE_LEVEL};
use super::spin_lock::{self, KSpinLock};
use crate::hal;
use crate::ob::{IdCell, ObjectId, ObjectKind};
use crate::sim::pcr::{self, Mode};
use crate::sim::state::{Line, with_sim};
use crate::sim::{self, threaded};
use crate::status::{NtStatus, STATUS_INVALID_PARAMETER};
use crate::trace::Event;
use crate::verifier::{self, Rule};

/// KINTERRUPT_MODE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptMode {
    /// The device holds the line asserted until its ISR quietens it.
    LevelSensitive,
    /// Each edge is one request (ISA, the parallel port).
    Latched,
}

/// What IoConnectInterrupt takes besides the ISR (from the translated
/// CM_PARTIAL_RESOURCE_DESCRIPTOR, book Table 17.1).
#[derive(Clone, Debug)]
pub struct InterruptConfig {
    pub vector: u32,
    pub irql: Irql,
    /// The highest DIRQL of the driver's interrupts; normally `irql`.
    pub synchronize_irql: Irql,
    pub mode: InterruptMode,
    pub share_vector: bool,
    /// ProcessorEnableMask.
    pub affinity: u64,
    /// A spin lock shared by several interrupt objects of one driver; each
    /// object has its own when `None`.
    pub spin_lock: Option<Arc<KSpinLock>>,
    /// How traces and reports name the interrupt.
    pub name: Option<&'static str>,
}

impl InterruptConfig {
    /// The usual configuration for ISA `irq`, as HalGetInterruptVector
    /// translates it (book Table 9.1): latched, not shared, any processor.
    pub fn for_irq(irq: u8) -> InterruptConfig {
        let irql = hal::irql_for_irq(irq);
        InterruptConfig {
            vector: hal::vector_for_irq(irq),
            irql,
            synchronize_irql: irql,
            mode: InterruptMode::Latched,
            share_vector: false,
            affinity: u64::MAX,
            spin_lock: None,
            name: None,
        }
    }
}

pub(crate) struct InterruptInner {
    id: IdCell,
    name: Option<&'static str>,
    pub irq: u8,
    pub irql: Irql,
    pub synchronize_irql: Irql,
    pub mode: InterruptMode,
    pub share: bool,
    pub affinity: u64,
    lock: Arc<KSpinLock>,
    isr: Box<dyn Fn() -> bool + Send + Sync>,
}

impl fmt::Debug for InterruptInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interrupt")
            .field("name", &self.name)
            .field("irq", &self.irq)
            .field("irql", &self.irql)
            .finish_non_exhaustive()
    }
}

impl InterruptInner {
    pub(crate) fn id(&self) -> ObjectId {
        self.id.get(ObjectKind::Interrupt, self.name)
    }
}

/// A connected interrupt (PKINTERRUPT). Not `Clone`: disconnecting consumes
/// it, so a driver cannot synchronize with an interrupt it disconnected.
#[derive(Debug)]
pub struct Interrupt {
    inner: Arc<InterruptInner>,
}

/// Connects `isr` (with its ServiceContext captured) to the line of
/// `config.vector`. Errors: STATUS_INVALID_PARAMETER for a vector that names
/// no line, a non-device IRQL, a SynchronizeIrql below the IRQL, no usable
/// processor in the affinity, or a line already connected without sharing.
pub(crate) fn connect(
    config: InterruptConfig,
    isr: impl Fn() -> bool + Send + Sync + 'static,
) -> Result<Interrupt, NtStatus> {
    if !irql::check_max_irql("IoConnectInterrupt", PASSIVE_LEVEL) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let irq = hal::irq_for_vector(config.vector).ok_or(STATUS_INVALID_PARAMETER)?;
    if !config.irql.is_device_level() || config.synchronize_irql < config.irql {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let lock = config
        .spin_lock
        .unwrap_or_else(|| Arc::new(config.name.map_or_else(KSpinLock::new, KSpinLock::named)));
    let inner = Arc::new(InterruptInner {
        id: IdCell::new(),
        name: config.name,
        irq,
        irql: config.irql,
        synchronize_irql: config.synchronize_irql,
        mode: config.mode,
        share: config.share_vector,
        affinity: config.affinity,
        lock,
        isr: Box::new(isr),
    });
    let attach = |line: &mut Line, processors: u32| {
        let usable = if processors >= 64 { u64::MAX } else { (1u64 << processors) - 1 };
        if inner.affinity & usable == 0 {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if line.objects.iter().any(|o| !o.share || !inner.share || o.mode != inner.mode) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        line.objects.push(inner.clone());
        Ok(())
    };
    match pcr::require_machine("IoConnectInterrupt") {
        Mode::Sim => with_sim(|s| {
            let processors = s.config.processors;
            attach(&mut s.lines[irq as usize], processors)
        })?,
        _ => threaded::with_line(irq, |line, processors| attach(line, processors))?,
    }
    sim::yield_point();
    Ok(Interrupt { inner })
}

/// Disconnects the interrupt from its line.
pub(crate) fn disconnect(interrupt: Interrupt) {
    irql::check_max_irql("IoDisconnectInterrupt", PASSIVE_LEVEL);
    let inner = interrupt.inner;
    let detach = |line: &mut Line| line.objects.retain(|o| !Arc::ptr_eq(o, &inner));
    match pcr::require_machine("IoDisconnectInterrupt") {
        Mode::Sim => with_sim(|s| detach(&mut s.lines[inner.irq as usize])),
        _ => threaded::with_line(inner.irq, |line, _| detach(line)),
    }
    sim::yield_point();
}

/// KeSynchronizeExecution: runs `routine` at the interrupt's SynchronizeIrql
/// holding its spin lock, so it cannot overlap the ISR on any processor.
pub fn synchronize_execution<R>(interrupt: &Interrupt, routine: impl FnOnce() -> R) -> R {
    let inner = &interrupt.inner;
    let old = irql::raise_irql(inner.synchronize_irql);
    spin_lock::lock_raw(&inner.lock);
    let result = routine();
    spin_lock::unlock_raw(&inner.lock);
    irql::change_irql(inner.synchronize_irql, old);
    result
}

/// Calls the ISRs connected to `irq` in connection order until one claims
/// the interrupt. The caller has raised to the line's DIRQL.
fn service(objects: &[Arc<InterruptInner>]) -> bool {
    for object in objects {
        let entry = pcr::irql();
        spin_lock::lock_raw(&object.lock);
        let claimed = (object.isr)();
        spin_lock::unlock_raw(&object.lock);
        let exit = pcr::irql();
        if exit != entry {
            verifier::bug_check(
                Rule::IsrReturnedChangedIrql,
                [u64::from(object.id().0), u64::from(entry.0), u64::from(exit.0)],
                format!("an ISR on irq{} returned at {exit}, entered at {entry}", object.irq),
            );
        }
        if claimed {
            return true;
        }
    }
    false
}

/// The body of a simulated ISR frame.
pub(crate) fn dispatch_sim(irq: u8) {
    let objects = with_sim(|s| s.lines[irq as usize].objects.clone());
    let claimed = service(&objects);
    let cpu = pcr::cpu();
    with_sim(|s| {
        s.record(Event::IsrExit { cpu, irq, claimed });
        if !claimed {
            s.record(Event::Unclaimed { irq });
        }
    });
}

/// Threaded mode: a worker thread services a request on `irq`.
pub(crate) fn dispatch_threaded(objects: &[Arc<InterruptInner>]) -> bool {
    let Some(first) = objects.first() else { return false };
    let old = pcr::irql();
    pcr::set_irql(first.irql);
    let claimed = service(objects);
    pcr::set_irql(old);
    claimed
}
