//! The verifier: driver contract breaks become bug checks.
//!
//! A caller's mistake with bad input gets an `NtStatus`; a driver breaking a
//! kernel rule gets a [`BugCheck`], a value with the real stop code and
//! parameters (Microsoft's bug check reference) that ends the run and comes
//! back to the test as an error. Nothing here panics the test process.

mod rules;
mod warning;

pub use rules::Rule;
pub(crate) use warning::warn;
pub use warning::{Warning, WarningKind};

use std::fmt;

use crate::sim::clock::format_ticks;
use crate::sim::pcr::{self, Mode};
use crate::sim::{self};

/// A stop: what Windows would show on the blue screen, plus where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BugCheck {
    /// The stop code, e.g. 0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION.
    pub code: u32,
    pub params: [u64; 4],
    /// The catalogue entry that fired.
    pub rule: Rule,
    pub message: String,
    pub cpu: u32,
    pub at_ticks: u64,
    /// The last trace lines before the stop (simulation with tracing on).
    pub recent: Vec<String>,
}

/// How many trace lines a bug check keeps.
pub const RECENT_LINES: usize = 16;

impl BugCheck {
    /// The stop code's symbolic name.
    pub fn code_name(&self) -> &'static str {
        rules::code_name(self.code)
    }
}

impl fmt::Display for BugCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [p1, p2, p3, p4] = self.params;
        write!(
            f,
            "*** STOP {:#010X} ({:#X}, {:#X}, {:#X}, {:#X}) {}\n    {}: {}\n    on cpu{} at {}",
            self.code,
            p1,
            p2,
            p3,
            p4,
            self.code_name(),
            self.rule.name(),
            self.message,
            self.cpu,
            format_ticks(self.at_ticks),
        )
    }
}

/// Payload that unwinds a simulated or threaded-mode thread after a bug
/// check stopped its machine. Fiber and thread roots catch it; it never
/// reaches the panic hook (it is raised with `resume_unwind`).
#[derive(Debug)]
pub(crate) struct Halt;

/// Raises an I/O Verification finding: a bug check when the machine runs
/// with Driver Verifier's I/O checks on (the default), nothing when they
/// are off, as on a machine without Driver Verifier.
#[cold]
pub(crate) fn io_violation(rule: Rule, args: [u64; 3], message: impl FnOnce() -> String) {
    if crate::sim::system::with_system(|s| s.options.io_verification) {
        bug_check(rule, args, message());
    }
}

/// Raises a bug check for `rule` with the rule-specific arguments `args`
/// (see [`Rule::params`]). The machine stops and the running code unwinds to
/// its thread's root. If it is already unwinding (a destructor ran into a
/// second violation), the stop is only recorded and this returns.
#[cold]
pub(crate) fn bug_check(rule: Rule, args: [u64; 3], message: String) {
    if sim::is_halted() {
        // The machine already stopped. In a simulation this is a destructor
        // running while a torn-down fiber unwinds, on registers that no
        // longer mean much; in threaded mode another thread that has not
        // noticed yet, which unwinds too.
        if pcr::mode() == Mode::Threaded && !std::thread::panicking() {
            std::panic::resume_unwind(Box::new(Halt));
        }
        return;
    }
    let check = BugCheck {
        code: rule.code(),
        params: rule.params(args),
        rule,
        message,
        cpu: pcr::cpu(),
        at_ticks: sim::now_ticks(),
        recent: Vec::new(),
    };
    tracing::error!(target: "wdmsim::verifier", "{check}");
    match pcr::require_machine("KeBugCheckEx") {
        Mode::Sim => sim::halt_sim(check),
        Mode::Threaded => sim::threaded::halt(check),
        Mode::Off => {}
    }
    if !std::thread::panicking() {
        std::panic::resume_unwind(Box::new(Halt));
    }
}
