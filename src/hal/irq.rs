//! The simulated interrupt controller: sixteen ISA lines.
//!
//! Translation follows the book's Table 9.1 (l.5726–5737), which shows IRQ 7
//! translated to vector 0x37 at IRQL 20 and IRQ 3 to vector 0x33 at IRQL 24:
//! the x86 HAL maps IRQ n to vector 0x30 + n and DIRQL 27 − n
//! (PROFILE_LEVEL − n), so a lower IRQ number has the higher priority.
//! IRQ 0 belongs to the clock and is not offered to drivers.

use crate::ke::{Interval, Irql};
use crate::sim::pcr::{self, Mode};
use crate::sim::state::{IRQ_LINES, TimerEntry, with_sim};
use crate::sim::{self, threaded};
use crate::trace::Event;

const VECTOR_BASE: u32 = 0x30;

/// The DIRQL of ISA `irq` (1–15).
pub const fn irql_for_irq(irq: u8) -> Irql {
    Irql(Irql::PROFILE_LEVEL.0.saturating_sub(irq))
}

/// The interrupt vector of ISA `irq`.
pub const fn vector_for_irq(irq: u8) -> u32 {
    VECTOR_BASE + irq as u32
}

/// The ISA line a vector belongs to, if any (IRQ 1–15).
pub fn irq_for_vector(vector: u32) -> Option<u8> {
    let irq = vector.checked_sub(VECTOR_BASE)?;
    (1..IRQ_LINES as u32).contains(&irq).then_some(irq as u8)
}

/// A device pulses `irq` (an edge): one latched request, delivered when a
/// processor's IRQL allows. A request on a line with no ISR is dropped and
/// traced as unclaimed. Out-of-range lines are ignored.
pub fn request_interrupt(irq: u8) {
    if irq as usize >= IRQ_LINES {
        return;
    }
    match pcr::require_machine("request_interrupt") {
        Mode::Sim => {
            with_sim(|s| s.request_interrupt(irq));
            sim::point(Event::Yield { cpu: pcr::cpu() });
        }
        _ => threaded::request_interrupt(irq),
    }
}

/// A level-sensitive device asserts or releases `irq`. While asserted the
/// line is delivered again each time its ISR returns.
pub fn set_interrupt_line(irq: u8, asserted: bool) {
    if irq as usize >= IRQ_LINES {
        return;
    }
    match pcr::require_machine("set_interrupt_line") {
        Mode::Sim => {
            with_sim(|s| {
                s.lines[irq as usize].asserted = asserted;
                if asserted {
                    s.record(Event::InterruptRequest { irq });
                }
            });
            sim::point(Event::Yield { cpu: pcr::cpu() });
        }
        _ => {
            if asserted {
                threaded::request_interrupt(irq);
            }
        }
    }
}

/// A hardware event: `irq` is pulsed once `delay` (negative, relative) from
/// now, on the virtual clock (threaded mode: the real one).
pub fn interrupt_after(irq: u8, delay: Interval) {
    if irq as usize >= IRQ_LINES {
        return;
    }
    match pcr::require_machine("interrupt_after") {
        Mode::Sim => {
            with_sim(|s| {
                let due = delay.due_ticks(s.now_ticks);
                s.insert_timer(due, TimerEntry::Interrupt(irq));
            });
            sim::point(Event::Yield { cpu: pcr::cpu() });
        }
        _ => threaded::interrupt_after(irq, delay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_matches_the_books_table_9_1() {
        assert_eq!(vector_for_irq(7), 0x37);
        assert_eq!(irql_for_irq(7), Irql(20));
        assert_eq!(vector_for_irq(3), 0x33);
        assert_eq!(irql_for_irq(3), Irql(24));
        assert_eq!(irq_for_vector(0x37), Some(7));
        assert_eq!(irq_for_vector(0x30), None, "IRQ 0 is the clock's");
        assert_eq!(irq_for_vector(0x40), None);
        assert_eq!(irq_for_vector(7), None);
    }
}
