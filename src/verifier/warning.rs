//! Warnings: what Windows lets pass but a driver's author should hear
//! about. A warning does not stop the machine; the run collects them
//! ([`crate::Run::warnings`]), logs them to `tracing` and, in a simulation,
//! records them in the trace.

use std::fmt;

use crate::sim::pcr::{self, Mode};
use crate::sim::state::with_sim;
use crate::sim::system::with_system;
use crate::sim::{self};
use crate::trace::Event;

/// What a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// IoCancelIrp called the IRP's cancel routine, and the IRP then
    /// completed with a status other than STATUS_CANCELLED, or with
    /// Information other than 0 (book l.9756, l.10949).
    CancelledWithoutCancelStatus,
    /// An IRP still pending when the thread that issued it ended did not
    /// complete within five minutes of being cancelled; Windows detaches it
    /// and the driver cannot be unloaded (book l.9707).
    IrpStuckAtThreadExit,
}

/// One warning, with the virtual time it was raised at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    pub message: String,
    pub at_ticks: u64,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "warning at {}: {}", crate::sim::clock::format_ticks(self.at_ticks), self.message)
    }
}

/// Raises a warning.
#[cold]
pub(crate) fn warn(kind: WarningKind, message: String) {
    tracing::warn!(target: "wdmsim::verifier", "{message}");
    if pcr::mode() == Mode::Sim {
        with_sim(|s| {
            if s.trace.is_enabled() {
                let text = s.trace.add_string(message.clone());
                s.record(Event::Warning { text });
            }
        });
    }
    let warning = Warning { kind, message, at_ticks: sim::now_ticks() };
    with_system(|s| s.warnings.lock().push(warning));
}
