//! Native system services a driver calls through their Zw names.

use crate::sim;

/// ZwYieldExecution: gives the processor to other ready work. In a
/// simulation it is a plain scheduling point; in threaded mode it yields
/// the OS thread.
pub fn yield_execution() {
    match sim::pcr::mode() {
        sim::pcr::Mode::Threaded => std::thread::yield_now(),
        _ => sim::yield_point(),
    }
}
