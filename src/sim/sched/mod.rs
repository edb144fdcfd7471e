//! Scheduling strategies: who runs at each scheduling point.
//!
//! At every scheduling point the machine lists what could happen next — a
//! processor continues, a ready thread is dispatched or preempts another, a
//! pending interrupt is delivered — and a [`Scheduler`] picks one. Each
//! strategy lives in its own file, as in shuttle's schedulers.

mod pct;
mod random;

pub use pct::Pct;
pub use random::Random;

use std::fmt;

/// One thing the machine can do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Continue the code on top of processor `cpu` (a DPC queued there runs
    /// first when its IRQL allows).
    Run { cpu: u32 },
    /// Put ready thread `thread` on idle processor `cpu`.
    Dispatch { cpu: u32, thread: u32 },
    /// Preempt the thread running below DISPATCH_LEVEL on `cpu` in favour of
    /// ready thread `thread`.
    Preempt { cpu: u32, thread: u32 },
    /// Deliver pending interrupt `irq` to processor `cpu`.
    Interrupt { cpu: u32, irq: u8 },
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Choice::Run { cpu } => write!(f, "run cpu{cpu}"),
            Choice::Dispatch { cpu, thread } => write!(f, "dispatch thread {thread} on cpu{cpu}"),
            Choice::Preempt { cpu, thread } => write!(f, "preempt cpu{cpu} for thread {thread}"),
            Choice::Interrupt { cpu, irq } => write!(f, "interrupt irq{irq} on cpu{cpu}"),
        }
    }
}

/// The logical task a choice advances; PCT gives priorities to tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Task {
    Thread(u32),
    /// The DPC drain of a processor.
    Dpc(u32),
    /// An interrupt line, from request through its ISRs.
    Interrupt(u8),
}

/// A choice together with the task it advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enabled {
    pub choice: Choice,
    pub task: Task,
}

/// A scheduling strategy. `choose` gets a non-empty list, in a deterministic
/// order, and returns an index into it.
pub trait Scheduler {
    fn choose(&mut self, step: u64, enabled: &[Enabled]) -> usize;
}

/// Which strategy a machine uses; built afresh from the seed for every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Uniformly random among the enabled choices.
    Random,
    /// Probabilistic concurrency testing with bug depth `depth`: random
    /// task priorities and `depth - 1` priority change points spread over
    /// the first `steps` steps.
    Pct { depth: u32, steps: u64 },
}

impl Strategy {
    pub(crate) fn build(self, seed: u64) -> Box<dyn Scheduler> {
        match self {
            Strategy::Random => Box::new(Random::new(seed)),
            Strategy::Pct { depth, steps } => Box::new(Pct::new(seed, depth, steps)),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Strategy::Random => write!(f, "random"),
            Strategy::Pct { depth, steps } => write!(f, "pct(depth {depth}, {steps} steps)"),
        }
    }
}
