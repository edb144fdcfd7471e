//! Time as the kernel reports it: KeQuerySystemTime, KeQueryInterruptTime,
//! KeQueryTickCount, KeQueryTimeIncrement, KeStallExecutionProcessor, and the
//! LARGE_INTEGER intervals that waits and timers take.

use crate::sim::clock::TIME_INCREMENT_TICKS;
use crate::sim::clock::{BOOT_SYSTEM_TIME, TICKS_PER_MS, TICKS_PER_SECOND, TICKS_PER_US};
use crate::sim::pcr::{self, Mode};
use crate::sim::state::with_sim;
use crate::sim::{self, threaded};
use crate::trace::Event;

/// A time as NT's waits and timers take it (a LARGE_INTEGER in 100 ns
/// units): negative is an interval relative to now, positive an absolute
/// system time, zero "now" (for a wait: poll without blocking).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval(pub i64);

impl Interval {
    pub const ZERO: Interval = Interval(0);

    pub const fn relative_ticks(ticks: u64) -> Interval {
        Interval(-(ticks as i64))
    }

    pub const fn relative_us(us: u64) -> Interval {
        Interval::relative_ticks(us * TICKS_PER_US)
    }

    pub const fn relative_ms(ms: u64) -> Interval {
        Interval::relative_ticks(ms * TICKS_PER_MS)
    }

    pub const fn relative_secs(secs: u64) -> Interval {
        Interval::relative_ticks(secs * TICKS_PER_SECOND)
    }

    /// An absolute system time (100 ns units since 1601).
    pub const fn absolute(system_time: u64) -> Interval {
        Interval(system_time as i64)
    }

    /// The interrupt time (ticks since boot) this interval falls due at.
    /// Absolute times in the past are due now.
    pub(crate) fn due_ticks(self, now_ticks: u64) -> u64 {
        if self.0 < 0 {
            now_ticks.saturating_add(self.0.unsigned_abs())
        } else {
            (self.0 as u64).saturating_sub(BOOT_SYSTEM_TIME).max(now_ticks)
        }
    }
}

/// KeQueryInterruptTime: 100 ns ticks since boot. Like every time query, a
/// scheduling point: a loop polling the clock lets other code run (and, if
/// nothing else ever waits, ends at the step limit instead of hanging).
pub fn query_interrupt_time() -> u64 {
    sim::yield_point();
    sim::now_ticks()
}

/// KeQuerySystemTime: 100 ns units since 1601-01-01 (UTC). The simulated
/// machine boots at 2000-02-17 00:00:00.
pub fn query_system_time() -> u64 {
    BOOT_SYSTEM_TIME + query_interrupt_time()
}

/// KeQueryTickCount: clock interrupts since boot.
pub fn query_tick_count() -> u64 {
    query_interrupt_time() / TIME_INCREMENT_TICKS
}

/// KeQueryTimeIncrement: 100 ns units per clock interrupt.
pub fn query_time_increment() -> u32 {
    TIME_INCREMENT_TICKS as u32
}

/// KeStallExecutionProcessor: busy-waits `microseconds` at the current IRQL.
/// In a simulation the processor spends that much virtual time; timers that
/// fall due meanwhile expire, their DPCs waiting for the IRQL to drop.
pub fn stall_execution_processor(microseconds: u32) {
    let ticks = u64::from(microseconds) * TICKS_PER_US;
    match pcr::require_machine("KeStallExecutionProcessor") {
        Mode::Sim => {
            with_sim(|s| {
                let to = s.now_ticks + ticks;
                s.advance_clock(to);
            });
            sim::point(Event::Stall { cpu: pcr::cpu(), ticks });
        }
        _ => threaded::stall(ticks),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_the_large_integer_convention() {
        assert_eq!(Interval::relative_ms(1), Interval(-10_000));
        assert_eq!(Interval::relative_ms(5).due_ticks(100), 50_100);
        assert_eq!(Interval::absolute(BOOT_SYSTEM_TIME + 7).due_ticks(3), 7);
        assert_eq!(Interval::absolute(BOOT_SYSTEM_TIME + 7).due_ticks(9), 9, "past: due now");
        assert_eq!(Interval::absolute(0).due_ticks(9), 9);
    }
}
