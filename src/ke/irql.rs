//! IRQL: the processor's interrupt request level (book Table 3.3, l.778–790).
//!
//! Code at a given IRQL is interrupted only by work at a higher one: a DPC
//! (DISPATCH_LEVEL) cannot run while a spin lock is held, an ISR cannot run
//! on a processor already at or above its DIRQL.

use std::fmt;

use crate::sim::pcr::{self, Context, Mode};
use crate::sim::{self};
use crate::trace::Event;
use crate::verifier::{self, Rule};

/// An interrupt request level (x86 values).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Irql(pub u8);

impl Irql {
    pub const PASSIVE_LEVEL: Irql = Irql(0);
    pub const APC_LEVEL: Irql = Irql(1);
    pub const DISPATCH_LEVEL: Irql = Irql(2);
    pub const PROFILE_LEVEL: Irql = Irql(27);
    pub const CLOCK_LEVEL: Irql = Irql(28);
    pub const IPI_LEVEL: Irql = Irql(29);
    pub const POWER_LEVEL: Irql = Irql(30);
    pub const HIGH_LEVEL: Irql = Irql(31);

    /// Whether this is a device level (DIRQL), between DISPATCH and PROFILE.
    pub const fn is_device_level(self) -> bool {
        self.0 > Irql::DISPATCH_LEVEL.0 && self.0 < Irql::PROFILE_LEVEL.0
    }
}

pub const PASSIVE_LEVEL: Irql = Irql::PASSIVE_LEVEL;
pub const APC_LEVEL: Irql = Irql::APC_LEVEL;
pub const DISPATCH_LEVEL: Irql = Irql::DISPATCH_LEVEL;
pub const PROFILE_LEVEL: Irql = Irql::PROFILE_LEVEL;
pub const CLOCK_LEVEL: Irql = Irql::CLOCK_LEVEL;
pub const IPI_LEVEL: Irql = Irql::IPI_LEVEL;
pub const POWER_LEVEL: Irql = Irql::POWER_LEVEL;
pub const HIGH_LEVEL: Irql = Irql::HIGH_LEVEL;

impl fmt::Display for Irql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PASSIVE_LEVEL => f.write_str("PASSIVE_LEVEL"),
            APC_LEVEL => f.write_str("APC_LEVEL"),
            DISPATCH_LEVEL => f.write_str("DISPATCH_LEVEL"),
            PROFILE_LEVEL => f.write_str("PROFILE_LEVEL"),
            CLOCK_LEVEL => f.write_str("CLOCK_LEVEL"),
            IPI_LEVEL => f.write_str("IPI_LEVEL"),
            POWER_LEVEL => f.write_str("POWER_LEVEL"),
            HIGH_LEVEL => f.write_str("HIGH_LEVEL"),
            Irql(n) => write!(f, "DIRQL {n}"),
        }
    }
}

impl fmt::Debug for Irql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// KeGetCurrentIrql.
#[inline]
pub fn get_current_irql() -> Irql {
    pcr::irql()
}

/// KeRaiseIrql: raises to `new` and returns the previous level. Raising to a
/// lower level, or above HIGH_LEVEL, is bug check 0xC4/0x30.
#[inline]
pub fn raise_irql(new: Irql) -> Irql {
    let (old, mode) = pcr::PCR.with(|p| (p.irql.get(), p.mode.get()));
    if new < old || new > HIGH_LEVEL {
        raise_invalid(old, new);
        return old;
    }
    pcr::set_irql(new);
    if mode == Mode::Sim {
        sim::point(Event::Irql { cpu: pcr::cpu(), from: old, to: new });
    }
    old
}

#[cold]
fn raise_invalid(old: Irql, new: Irql) {
    verifier::bug_check(
        Rule::RaiseIrqlInvalid,
        [u64::from(old.0), u64::from(new.0), 0],
        format!("KeRaiseIrql from {old} to {new}"),
    );
}

/// KeLowerIrql: lowers to `new`. Lowering to a higher level is bug check
/// 0xC4/0x31; lowering below DISPATCH_LEVEL inside a DPC is 0xC4/0x31 with
/// parameter 4 = 1.
#[inline]
pub fn lower_irql(new: Irql) {
    let (old, context) = pcr::PCR.with(|p| (p.irql.get(), p.context.get()));
    if new > old || new > HIGH_LEVEL || (new < DISPATCH_LEVEL && context == Context::Dpc) {
        lower_invalid(old, new);
        return;
    }
    change_irql(old, new);
}

#[cold]
fn lower_invalid(old: Irql, new: Irql) {
    if new > old || new > HIGH_LEVEL {
        verifier::bug_check(
            Rule::LowerIrqlInvalid,
            [u64::from(old.0), u64::from(new.0), 0],
            format!("KeLowerIrql from {old} to {new}"),
        );
    } else {
        verifier::bug_check(
            Rule::LowerIrqlInDpc,
            [u64::from(old.0), u64::from(new.0), 1],
            format!("KeLowerIrql to {new} inside a DPC routine"),
        );
    }
}

/// KeRaiseIrqlToDpcLevel.
pub fn raise_irql_to_dpc_level() -> Irql {
    raise_irql(DISPATCH_LEVEL)
}

/// Moves the current processor from `old` to `new` (already validated). In a
/// simulation this is a scheduling point: on the way down, DPCs and
/// interrupts the old level held back are delivered before it returns.
#[inline]
pub(crate) fn change_irql(old: Irql, new: Irql) {
    let mode = pcr::PCR.with(|p| {
        p.irql.set(new);
        p.mode.get()
    });
    match mode {
        Mode::Sim => sim::point(Event::Irql { cpu: pcr::cpu(), from: old, to: new }),
        Mode::Threaded => {
            if new < DISPATCH_LEVEL && old >= DISPATCH_LEVEL {
                sim::threaded::drain_dpcs();
            }
        }
        Mode::Off => {}
    }
}

/// PAGED_CODE(): pageable code must not run at or above DISPATCH_LEVEL
/// (book l.824, l.1423); the simulator reports what Driver Verifier's forced
/// paging would make happen, bug check 0xD1.
#[track_caller]
pub fn paged_code() {
    let irql = pcr::irql();
    if irql >= DISPATCH_LEVEL {
        let at = std::panic::Location::caller();
        verifier::bug_check(
            Rule::PagedCodeAtRaisedIrql,
            [u64::from(at.line()), u64::from(irql.0), 8],
            format!("pageable code ({}:{}) ran at {irql}", at.file(), at.line()),
        );
    }
}

/// Checks that a call whose IRQL limit is `max` is made at or below it:
/// DRIVER_VIOLATION (0x121) parameter 1 = 2 otherwise.
#[inline]
pub(crate) fn check_max_irql(call: &'static str, max: Irql) -> bool {
    let irql = pcr::irql();
    if irql > max {
        verifier::bug_check(
            Rule::CallAboveMaxIrql,
            [u64::from(irql.0), u64::from(max.0), 0],
            format!("{call} called at {irql}; its limit is {max}"),
        );
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_print_with_book_names() {
        assert_eq!(DISPATCH_LEVEL.to_string(), "DISPATCH_LEVEL");
        assert_eq!(Irql(20).to_string(), "DIRQL 20");
        assert!(Irql(20).is_device_level());
        assert!(!DISPATCH_LEVEL.is_device_level());
        assert!(!PROFILE_LEVEL.is_device_level());
    }
}
