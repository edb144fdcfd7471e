//! Kernel-primitive benchmarks with in-run baselines (docs/PERFORMANCE.md).
//!
//! Every group holds the measured wdmsim operation and a plain-Rust baseline
//! doing comparable work, so the number that matters is the ratio between the
//! two lines of one group, which is less sensitive to the host than either
//! absolute time.
//!
//! Run: `cargo bench --bench ke` (full), `cargo bench --bench ke -- --quick`
//! (rough), `cargo bench --bench ke -- --test` (CI smoke: each once).

// Benches measure host wall time on purpose: the virtual clock and the
// crate::sync shim that clippy.toml enforces are for kernel code, not for
// timing the simulator itself.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wdmsim::Machine;
use wdmsim::ddk::*;
use wdmsim::sync::Mutex;

use common::short;

/// Iterations of acquire/release + stall done by each of the two simulated
/// threads in `sim_events`.
const SIM_ITERATIONS: u32 = 1_000;

/// Runs `body(iters)` on a one-processor threaded machine's first thread and
/// returns the wall time it reports; machine boot and teardown are outside
/// the timed region.
fn in_threaded_machine(iters: u64, body: fn(u64) -> Duration) -> Duration {
    Machine::threaded().processors(1).run(move || body(iters)).value()
}

thread_local! {
    /// The baseline's IRQL register: a bare thread-local byte.
    static BARE_IRQL: Cell<u8> = const { Cell::new(0) };
}

#[inline(never)]
fn bare_raise(new: u8) -> u8 {
    BARE_IRQL.with(|irql| {
        let old = irql.get();
        if new < old {
            panic!("raise to a lower level");
        }
        irql.set(new);
        old
    })
}

#[inline(never)]
fn bare_lower(new: u8) {
    BARE_IRQL.with(|irql| {
        if new > irql.get() {
            panic!("lower to a higher level");
        }
        irql.set(new);
    });
}

fn irql_raise_lower(c: &mut Criterion) {
    let mut group = short(c, "irql_raise_lower");
    group.bench_function("wdmsim_threaded", |b| {
        b.iter_custom(|iters| {
            in_threaded_machine(iters, |iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let old = ke_raise_irql(black_box(DISPATCH_LEVEL));
                    ke_lower_irql(black_box(old));
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("baseline_tls_cell", |b| {
        b.iter(|| {
            let old = bare_raise(black_box(DISPATCH_LEVEL.0));
            bare_lower(black_box(old));
        });
    });
    group.finish();
}

fn spin_lock(c: &mut Criterion) {
    let mut group = short(c, "spin_lock");
    group.bench_function("wdmsim_threaded", |b| {
        b.iter_custom(|iters| {
            in_threaded_machine(iters, |iters| {
                let lock = SpinLock::new(0u64);
                let start = Instant::now();
                for _ in 0..iters {
                    let mut guard = black_box(&lock).acquire();
                    *guard += 1;
                }
                let elapsed = start.elapsed();
                assert_eq!(*lock.acquire(), iters);
                elapsed
            })
        });
    });
    group.bench_function("baseline_parking_lot", |b| {
        let lock = Mutex::new(0u64);
        b.iter(|| {
            let mut guard = black_box(&lock).lock();
            *guard += 1;
        });
    });
    group.finish();
}

/// The `sim_events` scenario: two system threads, each doing
/// `SIM_ITERATIONS` rounds of spin-lock acquire/release plus a 1 µs stall.
fn sim_scenario() -> wdmsim::Run<u64> {
    Machine::sim().processors(2).seed(1).trace(false).run(|| {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<Thread> = (0..2)
            .map(|_| {
                let lock = Arc::clone(&lock);
                ps_create_system_thread(move || {
                    for _ in 0..SIM_ITERATIONS {
                        *lock.acquire() += 1;
                        ke_stall_execution_processor(1);
                    }
                })
                .expect("create system thread")
            })
            .collect();
        for thread in &threads {
            ke_wait_for_single_object(thread, None);
        }
        *lock.acquire()
    })
}

fn sim_events(c: &mut Criterion) {
    // The run is deterministic (fixed seed), so one warm-up run gives the
    // step count of every run.
    let warm = sim_scenario();
    let steps = warm.steps;
    assert_eq!(warm.value(), 2 * u64::from(SIM_ITERATIONS));

    let mut group = short(c, "sim_events");
    group.throughput(Throughput::Elements(steps));
    group.bench_function(format!("wdmsim_sim_2cpu_{steps}_steps"), |b| {
        b.iter(|| {
            let run = sim_scenario();
            debug_assert_eq!(run.steps, steps);
            black_box(run.steps)
        });
    });
    group.bench_function(format!("baseline_no_scheduler_{steps}_steps"), |b| {
        // Per step: one host lock/unlock pair and one indirect call, the
        // floor of any scheduler that dispatches boxed work under a lock.
        let lock = Mutex::new(0u64);
        let counter = Rc::new(Cell::new(0u64));
        let seen = Rc::clone(&counter);
        let mut step: Box<dyn FnMut()> = Box::new(move || seen.set(seen.get() + 1));
        b.iter(|| {
            for _ in 0..steps {
                *black_box(&lock).lock() += 1;
                black_box(&mut step)();
            }
        });
        black_box(counter.get());
    });
    group.finish();
}

criterion_group!(benches, irql_raise_lower, spin_lock, sim_events);
criterion_main!(benches);
