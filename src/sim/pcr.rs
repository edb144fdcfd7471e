//! The processor control region: what the code running now can ask about its
//! processor without a lookup (NT keeps the same things in the KPCR).
//!
//! One `Pcr` per OS thread. In a simulation every simulated processor runs on
//! the one OS thread, and the scheduler loads the chosen processor's IRQL and
//! number here before it resumes a fiber and saves them back after. In
//! threaded mode each OS thread is a processor of its own. Keeping the IRQL in
//! a thread-local `Cell` makes `KeGetCurrentIrql` one load in both modes.

use std::cell::Cell;

use crate::ke::Irql;

/// Which machine, if any, the current OS thread belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// No machine: kernel calls are a harness error.
    Off,
    Sim,
    Threaded,
}

/// What kind of code the processor is running, for the rules that depend on
/// it (lowering IRQL inside a DPC, terminating a thread from an ISR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    Thread,
    Dpc,
    Isr,
}

#[derive(Debug)]
pub(crate) struct Pcr {
    pub irql: Cell<Irql>,
    pub mode: Cell<Mode>,
    /// Processor number (KeGetCurrentProcessorNumber).
    pub cpu: Cell<u32>,
    pub context: Cell<Context>,
    /// The machine's instance number (0 for none), for object ids.
    pub tag: Cell<u32>,
    /// The machine is a free build (drivers' DebugPrint calls are off):
    /// a trace call asks this on every call, so it is kept here.
    pub free_build: Cell<bool>,
}

thread_local! {
    pub(crate) static PCR: Pcr = const {
        Pcr {
            irql: Cell::new(Irql::PASSIVE_LEVEL),
            mode: Cell::new(Mode::Off),
            cpu: Cell::new(0),
            context: Cell::new(Context::Thread),
            tag: Cell::new(0),
            free_build: Cell::new(true),
        }
    };
}

#[inline]
pub(crate) fn irql() -> Irql {
    PCR.with(|p| p.irql.get())
}

#[inline]
pub(crate) fn set_irql(irql: Irql) {
    PCR.with(|p| p.irql.set(irql));
}

#[inline]
pub(crate) fn mode() -> Mode {
    PCR.with(|p| p.mode.get())
}

#[inline]
pub(crate) fn cpu() -> u32 {
    PCR.with(|p| p.cpu.get())
}

#[inline]
pub(crate) fn context() -> Context {
    PCR.with(|p| p.context.get())
}

#[inline]
pub(crate) fn tag() -> u32 {
    PCR.with(|p| p.tag.get())
}

/// Attaches this OS thread to machine `tag` in `mode`, a free build
/// unless `debug_print`.
pub(crate) fn attach(mode: Mode, tag: u32, debug_print: bool) {
    PCR.with(|p| {
        p.mode.set(mode);
        p.tag.set(tag);
        p.free_build.set(!debug_print);
    });
}

/// Whether the machine is a free build (drivers' DebugPrint calls off).
#[inline]
pub(crate) fn free_build() -> bool {
    PCR.with(|p| p.free_build.get())
}

/// Loads the registers of the processor about to run.
#[inline]
pub(crate) fn load(cpu: u32, irql: Irql, context: Context) {
    PCR.with(|p| {
        p.cpu.set(cpu);
        p.irql.set(irql);
        p.context.set(context);
    });
}

/// Resets the registers when a machine leaves this OS thread.
pub(crate) fn reset() {
    attach(Mode::Off, 0, false);
    load(0, Irql::PASSIVE_LEVEL, Context::Thread);
}

/// Fails loudly when a kernel call is made outside any machine: that is a
/// harness mistake (like `tokio::spawn` outside a runtime), not driver input.
#[track_caller]
pub(crate) fn require_machine(call: &str) -> Mode {
    let mode = mode();
    assert!(mode != Mode::Off, "wdmsim: {call} called outside Machine::run");
    mode
}
