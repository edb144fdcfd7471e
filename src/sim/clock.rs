//! Virtual time, in the 100 ns units of KeQuerySystemTime.
//!
//! The clock is the only time source of a simulation. It moves when code
//! stalls the processor (KeStallExecutionProcessor), and when nothing can run
//! the scheduler jumps it to the next timer or hardware event, so a
//! thirty-minute timer costs no wall time.

/// 100 ns ticks per microsecond, millisecond and second.
pub const TICKS_PER_US: u64 = 10;
pub const TICKS_PER_MS: u64 = 10_000;
pub const TICKS_PER_SECOND: u64 = 10_000_000;

/// The clock interrupt period KeQueryTimeIncrement reports: 15.625 ms, the
/// usual x86 multiprocessor HAL value.
pub const TIME_INCREMENT_TICKS: u64 = 156_250;

/// System time at boot: 2000-02-17 00:00:00 UTC (Windows 2000's release),
/// in 100 ns units since 1601-01-01. 125_911_584_000_000_000 is 2000-01-01.
pub const BOOT_SYSTEM_TIME: u64 = 125_911_584_000_000_000 + 47 * 86_400 * TICKS_PER_SECOND;

/// Formats ticks as seconds with seven decimals (one per 100 ns).
pub fn format_ticks(ticks: u64) -> String {
    format!("{}.{:07}", ticks / TICKS_PER_SECOND, ticks % TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_seconds_with_100ns_digits() {
        assert_eq!(format_ticks(0), "0.0000000");
        assert_eq!(format_ticks(12), "0.0000012");
        assert_eq!(format_ticks(18_000 * TICKS_PER_SECOND + 5), "18000.0000005");
    }
}
