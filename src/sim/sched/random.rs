//! Uniform random scheduling: every enabled choice is equally likely.

use super::{Enabled, Scheduler};
use crate::sim::rng::Rng;

#[derive(Debug)]
pub struct Random {
    rng: Rng,
}

impl Random {
    pub fn new(seed: u64) -> Random {
        Random { rng: Rng::new(seed) }
    }
}

impl Scheduler for Random {
    fn choose(&mut self, _step: u64, enabled: &[Enabled]) -> usize {
        self.rng.below(enabled.len() as u64) as usize
    }
}
