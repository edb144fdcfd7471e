//! DbgPrint: a driver's debug output. Each line goes into the run's trace
//! (in order with every other kernel event) and to `tracing` at INFO under
//! the target `wdmsim::driver`. The book's DebugPrint driver and Monitor
//! build on top of this later. Nothing is formatted when neither records:
//! a driver's trace lines cost nothing on a throughput run.

use std::fmt;

use crate::sim::pcr::{self, Mode};
use crate::sim::state::with_sim;
use crate::sim::{self};
use crate::trace::Event;

/// Whether a DbgPrint now would be seen by nobody: on a threaded machine
/// (which keeps no trace) with `tracing` not listening. Callers with work
/// to do before DbgPrint (formatting) can skip it all.
#[inline]
pub(crate) fn dbg_print_unseen() -> bool {
    pcr::mode() == Mode::Threaded
        && !tracing::enabled!(target: "wdmsim::driver", tracing::Level::INFO)
}

/// DbgPrint from `source` (a driver's name).
pub fn dbg_print(source: &str, text: fmt::Arguments<'_>) {
    if tracing::enabled!(target: "wdmsim::driver", tracing::Level::INFO) {
        tracing::info!(target: "wdmsim::driver", driver = source, "{text}");
    }
    if pcr::mode() == Mode::Sim {
        let event = with_sim(|s| {
            s.trace.is_enabled().then(|| {
                let source = s.trace.add_string(source.to_string());
                let text = s.trace.add_string(text.to_string());
                Event::Print { source, text }
            })
        });
        match event {
            Some(event) => sim::point(event),
            None => sim::yield_point(),
        }
    }
}
