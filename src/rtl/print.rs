//! DbgPrint: a driver's debug output. Each line goes into the run's trace
//! (in order with every other kernel event) and to `tracing` at INFO under
//! the target `wdmsim::driver`. The book's DebugPrint driver and Monitor
//! build on top of this later.

use crate::sim::pcr::{self, Mode};
use crate::sim::state::with_sim;
use crate::sim::{self};
use crate::trace::Event;

/// DbgPrint from `source` (a driver's name).
pub fn dbg_print(source: &str, text: &str) {
    tracing::info!(target: "wdmsim::driver", driver = source, "{text}");
    if pcr::mode() == Mode::Sim {
        let event = with_sim(|s| {
            let source = s.trace.add_string(source.to_string());
            let text = s.trace.add_string(text.to_string());
            Event::Print { source, text }
        });
        sim::point(event);
    }
}
