//! The machine: simulated processors, virtual time, the seeded scheduler,
//! exploration over seeds, and threaded mode.
//!
//! A [`Machine`] is a configuration. Each [`Machine::run`] boots a fresh
//! machine, runs the scenario closure as its first thread, and returns a
//! [`Run`]: the scenario's value or the [`Failure`] that stopped it, plus the
//! trace. In a simulation the run is a function of (scenario, seed): the same
//! seed gives the same trace, byte for byte.

pub mod clock;
mod explore;
pub(crate) mod fiber;
pub(crate) mod pcr;
mod report;
pub(crate) mod rng;
mod run;
pub mod sched;
pub(crate) mod state;
pub(crate) mod system;
pub(crate) mod threaded;

pub use explore::Exploration;
pub use report::{CpuReport, MachineReport, ThreadReport};
pub use sched::{Choice, Strategy};
pub use system::SystemOptions;

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::ke::dispatcher::DispatcherHeader;
use crate::ob::{ObjectId, ObjectInfo, ObjectKind};
use crate::trace::{Event, Trace};
use crate::verifier::BugCheck;
use pcr::Mode;
use state::{SimState, Stop, with_sim};

/// Most processors a machine can have (KAFFINITY is 64 bits wide).
pub const PROCESSORS_MAX: u32 = 64;

/// Default bound on scheduling steps before a run is declared stuck.
pub const STEPS_MAX_DEFAULT: u64 = 5_000_000;

/// Default number of steps PCT spreads its change points over.
pub const PCT_STEPS_DEFAULT: u64 = 2_000;

/// The settings of a simulated machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    pub processors: u32,
    pub seed: u64,
    pub strategy: Strategy,
    pub steps_max: u64,
    /// Record the trace (on by default; off for throughput runs).
    pub trace: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Sim(SimConfig),
    Threaded { processors: u32 },
}

/// How to build a machine: simulated (deterministic) or threaded (real OS
/// threads). The mode is chosen here, at run time, not by recompiling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    kind: Kind,
    options: SystemOptions,
}

/// A machine configuration that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("a machine has 1 to {PROCESSORS_MAX} processors, not {0}")]
    Processors(u32),
}

/// Why a run did not finish normally.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// A driver broke a kernel rule.
    #[error("{0}")]
    BugCheck(BugCheck),
    /// Every thread is blocked or spinning and no timer can wake one.
    #[error("deadlock {0}")]
    Deadlock(MachineReport),
    /// The run took more scheduling steps than its limit (a livelock, or a
    /// scenario that never ends).
    #[error("step limit reached {0}")]
    StepLimit(MachineReport),
    /// Scenario code panicked (a failed assertion inside the machine).
    #[error("scenario panicked: {0}")]
    Panic(String),
    /// The scenario thread ended without returning its value.
    #[error("the scenario thread was terminated before it returned")]
    Unfinished,
    #[error("invalid machine: {0}")]
    Config(ConfigError),
}

impl Failure {
    pub fn bug_check(&self) -> Option<&BugCheck> {
        match self {
            Failure::BugCheck(check) => Some(check),
            _ => None,
        }
    }

    pub fn deadlock(&self) -> Option<&MachineReport> {
        match self {
            Failure::Deadlock(report) => Some(report),
            _ => None,
        }
    }
}

/// The outcome of one run.
#[must_use = "a Run holds the scenario's failure, if any"]
#[derive(Debug)]
pub struct Run<T> {
    pub result: Result<T, Failure>,
    pub trace: Trace,
    /// The seed (simulation) that produced this run.
    pub seed: u64,
    /// Scheduling steps taken.
    pub steps: u64,
    /// Virtual time at the end.
    pub now_ticks: u64,
    /// One line that rebuilds this machine, to replay the run.
    pub replay: String,
    /// What the verifier warned of, in order.
    pub warnings: Vec<crate::verifier::Warning>,
}

impl<T> Run<T> {
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    pub fn failure(&self) -> Option<&Failure> {
        self.result.as_ref().err()
    }

    /// The failure, how to replay it, and the last trace lines.
    pub fn report(&self) -> String {
        match &self.result {
            Ok(_) => format!("ok after {} steps; replay: {}", self.steps, self.replay),
            Err(failure) => format!(
                "{failure}\nreplay: {}\nlast trace lines:\n{}",
                self.replay,
                self.trace.tail(30)
            ),
        }
    }

    /// The scenario's value; a test helper that panics with
    /// [`Run::report`] if the run failed.
    #[track_caller]
    pub fn value(self) -> T {
        match self.result {
            Ok(value) => value,
            Err(_) => panic!("wdmsim run failed: {}", self.report()),
        }
    }

    /// As [`Run::value`], keeping the run for further inspection.
    #[track_caller]
    pub fn value_ref(&self) -> &T {
        match &self.result {
            Ok(value) => value,
            Err(_) => panic!("wdmsim run failed: {}", self.report()),
        }
    }
}

impl Machine {
    /// A simulated machine: 2 processors, seed 0, random scheduling.
    pub fn sim() -> Machine {
        Machine {
            kind: Kind::Sim(SimConfig {
                processors: 2,
                seed: 0,
                strategy: Strategy::Random,
                steps_max: STEPS_MAX_DEFAULT,
                trace: true,
            }),
            options: SystemOptions::default(),
        }
    }

    /// A threaded machine: 2 processors on real OS threads.
    pub fn threaded() -> Machine {
        Machine { kind: Kind::Threaded { processors: 2 }, options: SystemOptions::default() }
    }

    /// Driver Verifier's I/O Verification (on by default). Off, a driver's
    /// IRP mistakes behave as on a machine without Driver Verifier.
    pub fn io_verification(mut self, on: bool) -> Machine {
        self.options.io_verification = on;
        self
    }

    /// Drivers built with their DebugPrint trace calls on (the book's
    /// checked build, DBG=1, book l.3998). Off by default: a trace call is
    /// then a plain `tracing` event and no DebugPrint client thread runs.
    pub fn debug_print(mut self, on: bool) -> Machine {
        self.options.debug_print = on;
        self
    }

    pub fn processors(mut self, n: u32) -> Machine {
        match &mut self.kind {
            Kind::Sim(config) => config.processors = n,
            Kind::Threaded { processors } => *processors = n,
        }
        self
    }

    /// The seed of a simulation (threaded mode has none).
    pub fn seed(mut self, seed: u64) -> Machine {
        if let Kind::Sim(config) = &mut self.kind {
            config.seed = seed;
        }
        self
    }

    pub fn strategy(mut self, strategy: Strategy) -> Machine {
        if let Kind::Sim(config) = &mut self.kind {
            config.strategy = strategy;
        }
        self
    }

    pub fn random(self) -> Machine {
        self.strategy(Strategy::Random)
    }

    /// PCT with bug depth `depth` over the default step estimate.
    pub fn pct(self, depth: u32) -> Machine {
        self.strategy(Strategy::Pct { depth, steps: PCT_STEPS_DEFAULT })
    }

    pub fn steps_max(mut self, steps: u64) -> Machine {
        if let Kind::Sim(config) = &mut self.kind {
            config.steps_max = steps;
        }
        self
    }

    pub fn trace(mut self, on: bool) -> Machine {
        if let Kind::Sim(config) = &mut self.kind {
            config.trace = on;
        }
        self
    }

    pub fn config(&self) -> Option<&SimConfig> {
        match &self.kind {
            Kind::Sim(config) => Some(config),
            Kind::Threaded { .. } => None,
        }
    }

    pub fn is_threaded(&self) -> bool {
        matches!(self.kind, Kind::Threaded { .. })
    }

    /// The Rust expression that builds this machine.
    pub fn replay_line(&self) -> String {
        match &self.kind {
            Kind::Sim(c) => {
                let strategy = match c.strategy {
                    Strategy::Random => String::new(),
                    Strategy::Pct { depth, steps: PCT_STEPS_DEFAULT } => format!(".pct({depth})"),
                    Strategy::Pct { depth, steps } => {
                        format!(".strategy(Strategy::Pct {{ depth: {depth}, steps: {steps} }})")
                    }
                };
                format!(
                    "Machine::sim().processors({}){strategy}.seed({:#x}){}",
                    c.processors, c.seed, self.options
                )
            }
            Kind::Threaded { processors } => {
                format!("Machine::threaded().processors({processors}){}", self.options)
            }
        }
    }

    /// Boots the machine, runs `scenario` as its first thread (named "main")
    /// at PASSIVE_LEVEL, and runs until every thread has ended.
    pub fn run<T: 'static>(&self, scenario: impl FnOnce() -> T + 'static) -> Run<T> {
        match &self.kind {
            Kind::Sim(config) => run_sim(config, self.options, self.replay_line(), scenario),
            Kind::Threaded { processors } => {
                threaded::run(*processors, self.options, self.replay_line(), scenario)
            }
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Sim(c) => write!(
                f,
                "simulation: {} processors, {} scheduling, seed {:#x}",
                c.processors, c.strategy, c.seed
            ),
            Kind::Threaded { processors } => write!(f, "threaded: {processors} processors"),
        }
    }
}

fn validate(processors: u32) -> Result<(), ConfigError> {
    if processors == 0 || processors > PROCESSORS_MAX {
        return Err(ConfigError::Processors(processors));
    }
    Ok(())
}

static MACHINE_TAGS: AtomicU32 = AtomicU32::new(1);

/// A process-unique machine number, so object ids never leak across runs.
pub(crate) fn next_tag() -> u32 {
    MACHINE_TAGS.fetch_add(1, Ordering::Relaxed).max(1)
}

fn run_sim<T: 'static>(
    config: &SimConfig,
    options: SystemOptions,
    replay: String,
    scenario: impl FnOnce() -> T + 'static,
) -> Run<T> {
    let failed = |failure| Run {
        result: Err(failure),
        trace: Trace::default(),
        seed: config.seed,
        steps: 0,
        now_ticks: 0,
        replay: replay.clone(),
        warnings: Vec::new(),
    };
    if let Err(error) = validate(config.processors) {
        return failed(Failure::Config(error));
    }
    let tag = next_tag();
    state::install(Box::new(SimState::new(config.clone())));
    let debug_print = options.debug_print;
    system::set(Some(std::sync::Arc::new(system::System::new(options))));
    pcr::attach(Mode::Sim, tag, debug_print);

    let value: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
    let slot = value.clone();
    let main = DispatcherHeader::new(ObjectKind::Thread, Some("main"), false);
    with_sim(|s| {
        s.create_thread(
            Some("main"),
            main,
            false,
            Box::new(move || *slot.borrow_mut() = Some(scenario())),
        )
    });

    let mut strategy = config.strategy.build(config.seed);
    let mut fibers = run::Fibers::default();
    run::run_loop(&mut *strategy, &mut fibers);

    // Tear down with the state still installed: unwinding the fibers left
    // suspended runs destructors that make (now inert) kernel calls.
    with_sim(|s| s.halted = true);
    drop(fibers);
    let spawns = with_sim(|s| std::mem::take(&mut s.spawns));
    drop(spawns);
    let warnings = system::with_system(|s| std::mem::take(&mut *s.warnings.lock()));
    let state = state::uninstall();
    system::set(None);
    pcr::reset();

    let state = *state;
    let result = match state.stop {
        Some(Stop::Failure(Failure::BugCheck(mut check))) => {
            check.recent =
                state.trace.tail(crate::verifier::RECENT_LINES).lines().map(String::from).collect();
            Err(Failure::BugCheck(check))
        }
        Some(Stop::Failure(failure)) => Err(failure),
        Some(Stop::Panic(payload)) => Err(Failure::Panic(panic_message(&*payload))),
        None => value.borrow_mut().take().ok_or(Failure::Unfinished),
    };
    Run {
        result,
        trace: state.trace,
        seed: config.seed,
        steps: state.step,
        now_ticks: state.now_ticks,
        replay,
        warnings,
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

// ---- the interface ke/ and friends use --------------------------------------

/// A scheduling point: records `event` and lets the scheduler run something
/// else (another processor, an interrupt, a DPC) before the caller goes on.
/// Simulation only.
#[inline]
pub(crate) fn point(event: Event) {
    let go = with_sim(|s| {
        s.record(event);
        !s.halted
    });
    if go {
        fiber::suspend();
    }
}

/// Records `event` without a scheduling point (the second event of one
/// kernel call, such as a dispatch routine's return). Simulation only.
#[inline]
pub(crate) fn record(event: Event) {
    with_sim(|s| s.record(event));
}

/// A scheduling point with nothing else to record, for kernel calls that
/// only read state (so polling loops let other code run). No-op outside a
/// simulation.
#[inline]
pub(crate) fn yield_point() {
    if pcr::mode() == Mode::Sim {
        point(Event::Yield { cpu: pcr::cpu() });
    }
}

/// The current machine's tag (0 outside any machine).
#[inline]
pub(crate) fn machine_tag() -> u32 {
    pcr::tag()
}

pub(crate) fn register_object(info: ObjectInfo) -> ObjectId {
    match pcr::require_machine("object creation") {
        Mode::Sim => state::register_object(info),
        _ => threaded::register_object(),
    }
}

/// Virtual time since boot (threaded mode: real time since boot).
pub(crate) fn now_ticks() -> u64 {
    match pcr::mode() {
        Mode::Sim => with_sim(|s| s.now_ticks),
        Mode::Threaded => threaded::now_ticks(),
        Mode::Off => 0,
    }
}

/// Whether the current machine has stopped.
pub(crate) fn is_halted() -> bool {
    match pcr::mode() {
        Mode::Sim => with_sim(|s| s.halted),
        Mode::Threaded => threaded::is_halted(),
        Mode::Off => false,
    }
}

pub(crate) fn halt_sim(check: BugCheck) {
    with_sim(|s| {
        s.record(Event::BugCheck { code: check.code, param1: check.params[0] });
        s.stop(Stop::Failure(Failure::BugCheck(check)));
    });
}
