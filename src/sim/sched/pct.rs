//! Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010).
//!
//! Every task gets a random priority when first seen, and the highest-priority
//! enabled task always runs. At `depth - 1` change points, drawn uniformly
//! from the first `steps` steps, the task about to run drops below every
//! initial priority. A bug that needs `d` ordering constraints is found with
//! probability at least 1/(n · k^(d-1)) per run, with few preemptions.

use std::collections::BTreeMap;

use super::{Enabled, Scheduler, Task};
use crate::sim::rng::Rng;

#[derive(Debug)]
pub struct Pct {
    rng: Rng,
    depth: u32,
    priorities: BTreeMap<Task, u64>,
    /// Sorted change points; `next_change` indexes the next one due.
    change_points: Vec<u64>,
    next_change: usize,
}

impl Pct {
    pub fn new(seed: u64, depth: u32, steps: u64) -> Pct {
        let mut rng = Rng::new(seed);
        let depth = depth.max(1);
        let steps = steps.max(1);
        let mut change_points: Vec<u64> = (1..depth).map(|_| 1 + rng.below(steps)).collect();
        change_points.sort_unstable();
        Pct { rng, depth, priorities: BTreeMap::new(), change_points, next_change: 0 }
    }

    fn priority(&mut self, task: Task) -> u64 {
        let depth = u64::from(self.depth);
        let rng = &mut self.rng;
        // Initial priorities sit above every change-point priority (< depth).
        *self.priorities.entry(task).or_insert_with(|| depth + rng.below(u64::MAX - depth))
    }

    /// Index of a highest-priority choice; ties (one task, several
    /// processors) are broken at random.
    fn best(&mut self, enabled: &[Enabled]) -> usize {
        let mut top = 0;
        let mut ties = 0;
        for e in enabled {
            let p = self.priority(e.task);
            if ties == 0 || p > top {
                top = p;
                ties = 1;
            } else if p == top {
                ties += 1;
            }
        }
        let mut pick = self.rng.below(ties);
        for (index, e) in enabled.iter().enumerate() {
            if self.priorities.get(&e.task) == Some(&top) {
                if pick == 0 {
                    return index;
                }
                pick -= 1;
            }
        }
        0
    }
}

impl Scheduler for Pct {
    fn choose(&mut self, step: u64, enabled: &[Enabled]) -> usize {
        let mut index = self.best(enabled);
        while self.change_points.get(self.next_change).is_some_and(|&c| c <= step) {
            // Change point: demote the task that would run now.
            let low = (self.depth as usize - 2).saturating_sub(self.next_change) as u64;
            self.priorities.insert(enabled[index].task, low);
            self.next_change += 1;
            index = self.best(enabled);
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::sched::Choice;

    fn run(cpu: u32, thread: u32) -> Enabled {
        Enabled { choice: Choice::Run { cpu }, task: Task::Thread(thread) }
    }

    #[test]
    fn without_change_points_one_task_runs_until_it_is_disabled() {
        let mut pct = Pct::new(3, 1, 100);
        let both = [run(0, 1), run(1, 2)];
        let first = pct.choose(1, &both);
        for step in 2..50 {
            assert_eq!(pct.choose(step, &both), first);
        }
        let other = [both[1 - first]];
        assert_eq!(pct.choose(50, &other), 0);
    }

    #[test]
    fn a_change_point_demotes_the_task_about_to_run() {
        // Depth 2 over 1 step: the one change point is step 1.
        let mut pct = Pct::new(9, 2, 1);
        let both = [run(0, 1), run(1, 2)];
        let chosen = pct.choose(1, &both);
        let demoted = both[1 - chosen].task;
        assert!(pct.priorities[&demoted] < 2, "the first pick was demoted below depth");
        assert!(pct.priorities[&both[chosen].task] >= 2);
        assert_eq!(pct.choose(2, &both), chosen, "and the other task keeps running");
    }
}
