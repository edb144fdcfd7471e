//! What every benchmark file shares: the group settings of the suite.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// A group with the suite's settings (docs/PERFORMANCE.md, "How to
/// reproduce"): 1 s of warm-up, 3 s of measurement, 20 samples.
pub fn short<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    group
}
