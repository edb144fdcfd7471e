//! Exploration: one scenario under many seeds, stopping at the first failure
//! with the seed, the failure, its trace, and the line that replays it.
//!
//! Seeds come from the caller's range unless the environment overrides it,
//! as loom's LOOM_* variables do: `WDMSIM_SEED=0x2a` runs that seed alone
//! (replaying a reported failure), `WDMSIM_SEEDS=N` runs N seeds from the
//! range's start.

use std::ops::Range;

use super::{Machine, Run};

/// The result of [`Machine::explore`].
#[must_use = "an Exploration holds the first failing seed, if any"]
#[derive(Debug)]
pub struct Exploration {
    pub seeds_run: u64,
    /// The first failing run (its `seed` and `replay` say how to get it back).
    pub failure: Option<Run<()>>,
}

impl Exploration {
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }

    /// Panics with the failing run's report: a test helper.
    #[track_caller]
    pub fn assert_ok(&self) {
        if let Some(run) = &self.failure {
            panic!("seed {:#x} failed after {} seeds: {}", run.seed, self.seeds_run, run.report());
        }
    }
}

fn parse_u64(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The seeds to run: the environment's override, else `seeds`.
pub(crate) fn seed_range(seeds: Range<u64>) -> Range<u64> {
    if let Some(seed) = std::env::var("WDMSIM_SEED").ok().as_deref().and_then(parse_u64) {
        return seed..seed.saturating_add(1);
    }
    if let Some(count) = std::env::var("WDMSIM_SEEDS").ok().as_deref().and_then(parse_u64) {
        return seeds.start..seeds.start.saturating_add(count);
    }
    seeds
}

impl Machine {
    /// Runs `scenario` once per seed (a simulation; a threaded machine runs it
    /// once per seed too, without determinism) and stops at the first
    /// failure: a bug check, a deadlock, the step limit, or a panic such as a
    /// failed assertion inside the scenario.
    pub fn explore<R: 'static>(
        &self,
        seeds: Range<u64>,
        scenario: impl Fn() -> R + Clone + 'static,
    ) -> Exploration {
        let mut seeds_run = 0;
        for seed in seed_range(seeds) {
            seeds_run += 1;
            let scenario = scenario.clone();
            let run = self.clone().seed(seed).run(move || drop(scenario()));
            if run.failure().is_some() {
                return Exploration { seeds_run, failure: Some(run) };
            }
        }
        Exploration { seeds_run, failure: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_in_decimal_and_hex() {
        assert_eq!(parse_u64("42"), Some(42));
        assert_eq!(parse_u64(" 0x2A "), Some(42));
        assert_eq!(parse_u64("x"), None);
    }
}
